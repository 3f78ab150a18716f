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
                             fid_floor=0.0)
    with pytest.raises(ValueError, match="at least 50"):
        judge.score(torch.rand(10, 28, 28))
    scores = judge.score(torch.rand(60, 28, 28), labels=torch.zeros(60))
    assert set(scores) == {"fid", "precision", "recall", "cond_accuracy"}
