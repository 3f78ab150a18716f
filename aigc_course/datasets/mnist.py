"""MNIST read straight from the IDX ``.gz`` files (no torchvision download, no writes)."""

from __future__ import annotations

import gzip
from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .registry import DatasetError, dataset_dir

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def parse_idx(data: bytes) -> np.ndarray:
    """Decode an IDX buffer (magic ``0x0000 <dtype> <ndim>``, big-endian dims) into an array."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError("not an IDX file: the first two bytes must be zero")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise DatasetError(f"IDX type code 0x{data[2]:02x} is not one of the IDX types")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=dtypes[data[2]], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise DatasetError(f"IDX header says shape {shape} but holds {array.size} values (truncated file?)")
    return array.reshape(shape)


@lru_cache(maxsize=2)
def load_mnist(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` ("train": 60,000, "test": 10,000).

    Returns ``images`` uint8 ``(N, 28, 28)`` and ``labels`` int64 ``(N,)``. Cached per process;
    treat the tensors as read-only.
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = dataset_dir("mnist")
    images_file, labels_file = _FILES[split]
    images = parse_idx(gzip.decompress((folder / images_file).read_bytes()))
    labels = parse_idx(gzip.decompress((folder / labels_file).read_bytes()))
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def mnist_dataset(split: str = "train", *, scale: str = "unit", limit: int | None = None) -> TensorDataset:
    """A ``TensorDataset`` of ``(image (1, 28, 28) float32, label int64)``.

    ``scale="unit"`` maps pixels to [0, 1]; ``"symmetric"`` to [-1, 1] (tanh generators).
    ``limit`` keeps the first ``limit`` examples (smoke runs).
    """
    images, labels = load_mnist(split)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = images.float().div(255.0).unsqueeze(1)
    if scale == "symmetric":
        x = x * 2 - 1
    elif scale != "unit":
        raise ValueError(f"scale must be 'unit' or 'symmetric', not {scale!r}")
    return TensorDataset(x, labels)
