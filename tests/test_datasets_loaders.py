"""Loaders against the real read-only mirror: shapes, counts and parsing pitfalls."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from aigc_course import datasets as ds
from aigc_course.datasets.registry import DatasetError


def test_parse_idx_round_trip_and_truncation():
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    buffer = b"\x00\x00\x08\x03" + struct.pack(">III", 2, 3, 4) + array.tobytes()
    assert np.array_equal(ds.parse_idx(buffer), array)
    with pytest.raises(DatasetError, match="truncated"):
        ds.parse_idx(buffer[:-1])
    with pytest.raises(DatasetError, match="not an IDX"):
        ds.parse_idx(gzip.compress(buffer))


def test_mnist(with_mirror):
    images, labels = ds.load_mnist("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    train = ds.mnist_dataset("train", scale="symmetric", limit=100)
    x, y = train[0]
    assert x.shape == (1, 28, 28) and x.min() >= -1 and x.max() <= 1 and len(train) == 100
    with pytest.raises(ValueError, match="split"):
        ds.load_mnist("validation")


def test_tiny_shakespeare_split_as_nanogpt(with_mirror):
    train, val = ds.load_tiny_shakespeare()
    assert len(train) + len(val) == 1_115_394
    assert len(train) == int(1_115_394 * 0.9)
    assert train.startswith("First Citizen:")


def test_financial_tweets_parse_embedded_newlines(with_mirror):
    train, valid = ds.load_financial_tweets("train"), ds.load_financial_tweets("valid")
    assert len(train) == 9_543 and len(valid) == 2_388
    assert train["label"].value_counts().sort_index().tolist() == [1_442, 1_923, 6_178]
    assert train["text"].str.contains("\n").any(), "some fields hold a newline; a line reader would split them"
    assert set(train["sentiment"]) == set(ds.FINANCIAL_LABELS)


def test_fsdd_official_split(with_mirror):
    test = ds.load_fsdd("test")
    assert len(test) == 300 and {c.index for c in test} == set(range(5))
    assert sorted({c.digit for c in test}) == list(range(10))
    clip = test[0]
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1 and np.abs(clip.audio).max() <= 1
    george = ds.load_fsdd("train", speakers=("george",))
    assert len(george) == 450 and all(c.index >= 5 for c in george)


def test_ljspeech_sample(with_mirror):
    clips = ds.load_ljspeech_sample()
    assert len(clips) == 32 and clips[0].id == "LJ001-0001"
    assert len(clips[0].audio) == 212_893  # 9.655 s at 22,050 Hz
    assert clips[0].normalized_text.startswith("Printing, in the only sense")


def test_movielens(with_mirror):
    ml = ds.load_movielens()
    assert len(ml.ratings) == 100_836 and ml.ratings["userId"].nunique() == 610
    assert len(ml.movies) == 9_742 and len(ml.tags) == 3_683 and len(ml.links) == 9_742


def test_chinese_poetry(with_mirror):
    tang = ds.load_chinese_poetry("tang")
    assert len(tang) == 5_003 and all("paragraphs" in p for p in tang)
    assert len(ds.load_chinese_poetry("tang300")) == 366
    shijing = ds.load_chinese_poetry("shijing")
    assert len(shijing) == 305 and shijing[0]["paragraphs"]


def test_toy_generators_are_seeded():
    a, ya = ds.two_moons(100, seed=3)
    b, yb = ds.two_moons(100, seed=3)
    assert torch.equal(a, b) and torch.equal(ya, yb) and a.shape == (100, 2)
    x, k = ds.ring_of_gaussians(4000, std=0.01, seed=0)
    centers = ds.ring_centers()
    assert torch.cdist(x, centers).argmin(1).eq(k).all()
    c, yc = ds.circles(200, noise=0.0, seed=1)
    radii = c.norm(dim=1)
    assert torch.allclose(radii[yc == 1], torch.full_like(radii[yc == 1], 0.5), atol=1e-5)
    assert ds.gaussian_mixture_1d(10, seed=0).shape == (10, 1)
