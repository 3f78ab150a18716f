"""The image metrics: Fréchet distance, precision/recall, formats and artifacts (no training here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc_course.metrics import image


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5])
    b = torch.randn(20000, 3, generator=g, dtype=torch.float64) * torch.tensor([2.0, 1.0, 0.5]) + 1.0
    # For diagonal covariances: |mu_a - mu_b|^2 + sum (s_a - s_b)^2 with s the standard deviations.
    expected = 3 * 1.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert image.frechet_distance(a, b) == pytest.approx(expected, rel=0.05)
    assert image.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_precision_and_recall_separate_quality_from_coverage():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(1000, 2, generator=g)
    half = real[real[:, 0] > 0] + 0.01 * torch.randn((real[:, 0] > 0).sum(), 2, generator=g)
    precision, recall = image.precision_recall(real, half, k=3)
    assert precision > 0.95 and 0.35 < recall < 0.65  # good samples, half the modes' mass
    far = torch.randn(1000, 2, generator=g) + 20
    assert image.precision_recall(real, far, k=3) == (0.0, 0.0)


def test_image_formats_round_trip():
    u8 = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    unit = image.to_unit(u8)
    assert unit.shape == (5, 1, 28, 28) and unit.max() <= 1
    assert np.array_equal(image.to_uint8(unit), u8.numpy())
    assert np.array_equal(image.to_uint8(unit * 2 - 1, symmetric=True), u8.numpy())
    with pytest.raises(ValueError, match="MNIST-shaped"):
        image.to_unit(torch.rand(5, 3, 28, 28))


def test_classifier_shapes():
    model = image.MNISTClassifier(channels=4, features=16)
    x = torch.rand(7, 1, 28, 28)
    assert model(x).shape == (7, 10) and model.features(x).shape == (7, 16)


def test_save_samples_writes_the_grader_format(isolated):
    images = torch.rand(12, 1, 28, 28)
    path = image.save_samples("toy_model", images, torch.arange(12) % 10, notebook="04_image_gans")
    assert path == isolated / "build" / "artifacts" / "04_image_gans" / "toy_model.npz"
    saved = np.load(path)
    assert saved["images"].dtype == np.uint8 and saved["images"].shape == (12, 28, 28)
    assert saved["labels"].tolist() == (torch.arange(12) % 10).tolist()
    with pytest.raises(ValueError, match="same length"):
        image.save_samples("bad", images, torch.arange(3), notebook="04_image_gans")


def test_judge_refuses_too_few_samples():
    judge = image.ImageJudge(image.MNISTClassifier(4, 8), 0.99, n=50, k=3, real_test=torch.randn(50, 8),
                             fid_floor=0.0, reference_index=torch.arange(50), floor_train_index=torch.arange(50),
                             real_train=torch.randn(50, 8))
    with pytest.raises(ValueError, match="at least 50"):
        judge.score(torch.rand(10, 28, 28))
    scores = judge.score(torch.rand(60, 28, 28), labels=torch.zeros(60))
    assert set(scores) == {"fid", "precision", "recall", "cond_accuracy"}
    # a smaller n for a cheaper comparison within one experiment: its own reference prefix and floor
    small = judge.score(torch.rand(20, 28, 28), n=20)
    assert set(small) == {"fid", "precision", "recall"}
    assert judge.floor(20) == pytest.approx(image.frechet_distance(judge.real_train[:20], judge.real_test[:20]))
    assert judge.floor() == judge.fid_floor
    with pytest.raises(ValueError, match="between 1"):
        judge.score(torch.rand(60, 28, 28), n=100)


def test_probes_never_reuse_the_reference_or_the_floor_sample(monkeypatch):
    """The sanity probes of chapter 04 are random real images disjoint from what the metrics already use."""
    images = {"test": torch.arange(250).view(250, 1, 1).expand(250, 28, 28).to(torch.uint8),  # pixel = index
              "train": torch.arange(200).view(200, 1, 1).expand(200, 28, 28).to(torch.uint8)}
    labels = {"test": torch.arange(250) % 10, "train": torch.arange(200) % 10}
    monkeypatch.setattr(image, "load_mnist", lambda split: (images[split], labels[split]))
    judge = image.ImageJudge(image.MNISTClassifier(4, 8), 0.99, n=50, k=3, real_test=torch.randn(50, 8),
                             fid_floor=0.0, reference_index=torch.arange(0, 100, 2), floor_train_index=torch.arange(50),
                             real_train=torch.randn(50, 8))
    probe, probe_labels = judge.probe(seed=3)
    ids = probe[:, 0, 0].long()
    assert len(ids) == 50 and len(set(ids.tolist())) == 50
    assert not set(ids.tolist()) & set(judge.reference_index.tolist())
    assert torch.equal(probe_labels, ids % 10)
    assert not torch.equal(ids, judge.probe(seed=4)[0][:, 0, 0].long())  # random, not an ordered slice
    low, low_labels = judge.probe(20, classes=range(5))
    assert (low_labels < 5).all() and not set(low[:, 0, 0].tolist()) & set(judge.reference_index.tolist())
    train_ids = judge.probe(40, split="train")[0][:, 0, 0].long()
    assert train_ids.min() >= 50  # the floor's sample is training images 0..49
    with pytest.raises(ValueError, match="only"):
        judge.probe(1000)
    with pytest.raises(ValueError, match="split"):
        judge.probe(10, split="valid")
