"""Chapter 03 package code: toy GAN models, the mode-coverage metric and the p_g widget."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from aigc_course import widgets
from aigc_course.datasets import ring_centers, ring_of_gaussians
from aigc_course.metrics.modes import mode_coverage, nearest_centre
from aigc_course.models import gan


# ---------------------------------------------------------------------------------------------
# models/gan.py
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("latent_dim,data_dim", [(1, 1), (2, 2), (8, 2)])
def test_generator_and_discriminator_shapes(latent_dim, data_dim):
    G = gan.MLPGenerator(latent_dim, data_dim, hidden=16, depth=2)
    D = gan.MLPDiscriminator(data_dim, hidden=16, depth=2)
    z = gan.sample_latent(7, latent_dim)
    assert z.shape == (7, latent_dim)
    x = G(z)
    assert x.shape == (7, data_dim)
    assert D(x).shape == (7, 1)
    p = D.prob(x)
    assert p.shape == (7,) and bool(((p > 0) & (p < 1)).all())
    assert G.sample(5).shape == (5, data_dim) and not G.sample(5).requires_grad


def test_generator_sample_is_reproducible_with_a_torch_generator():
    G = gan.MLPGenerator(2, 2, hidden=8, depth=1)
    a = G.sample(10, generator=torch.Generator().manual_seed(3))
    b = G.sample(10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_mlp_layers_and_activations():
    net = gan.mlp(2, 3, hidden=5, depth=2)
    assert [type(m) for m in net] == [nn.Linear, nn.LeakyReLU, nn.Linear, nn.LeakyReLU, nn.Linear]
    linear_only = gan.mlp(2, 3, hidden=5, depth=2, activation="none")
    assert all(isinstance(m, nn.Linear) for m in linear_only) and len(linear_only) == 3
    with pytest.raises(ValueError, match="unknown activation"):
        gan.mlp(2, 3, activation="swishy")


def test_linear_only_generator_is_one_affine_map():
    torch.manual_seed(0)
    G = gan.MLPGenerator(2, 2, hidden=32, depth=3, activation="none")
    A, b = gan.affine_equivalent(G)
    assert A.shape == (2, 2) and b.shape == (2,)
    z = torch.randn(100, 2)
    assert torch.allclose(G(z), z @ A.T + b, atol=1e-5)
    with pytest.raises(TypeError, match="LeakyReLU"):
        gan.affine_equivalent(gan.MLPGenerator(2, 2, hidden=8, depth=1))


# ---------------------------------------------------------------------------------------------
# metrics/modes.py
# ---------------------------------------------------------------------------------------------
def test_perfect_samples_cover_every_mode():
    x, _ = ring_of_gaussians(2000, std=0.05, seed=0)
    cov = mode_coverage(x, ring_centers(), 0.05)
    assert cov.modes_covered == 8
    assert cov.high_quality_frac > 0.98  # 3 sigma in 2-D holds ~98.9% of a Gaussian
    assert int(cov.counts.sum()) == round(cov.high_quality_frac * 2000)
    assert cov.threshold == pytest.approx(0.25 * 2000 / 8)


def test_collapsed_and_blurry_samples_are_penalised():
    centres = ring_centers()
    # all samples on two modes: 2 covered, all high quality
    two = centres[torch.arange(1000) % 2] + 0.01 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
    cov = mode_coverage(two, centres, 0.05)
    assert cov.modes_covered == 2 and cov.high_quality_frac == 1.0
    # a broad Gaussian blob: a few lucky samples near each mode, but no mode covered
    blob = 1.4 * torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))
    cov = mode_coverage(blob, centres, 0.05)
    assert cov.modes_covered == 0 and cov.high_quality_frac < 0.05


def test_mode_rule_threshold_is_a_share_of_the_fair_share():
    centres = ring_centers(4, radius=1.0)
    # mode 0 gets 30 of 100 samples, mode 1 gets 5, the rest are far away
    x = torch.cat([centres[0].repeat(30, 1), centres[1].repeat(5, 1), torch.full((65, 2), 10.0)])
    cov = mode_coverage(x, centres, 0.1, min_share=0.25)  # threshold 0.25 * 100 / 4 = 6.25
    assert cov.counts.tolist() == [30, 5, 0, 0]
    assert cov.modes_covered == 1
    assert cov.high_quality_frac == pytest.approx(0.35)
    assert mode_coverage(x, centres, 0.1, min_share=0.2).modes_covered == 2  # threshold 5


def test_non_finite_samples_are_low_quality():
    centres = ring_centers()
    x = torch.cat([centres, torch.full((8, 2), float("nan"))])
    cov = mode_coverage(x, centres, 0.05, min_share=0.5)
    assert cov.high_quality_frac == pytest.approx(0.5)
    assert cov.modes_covered == 8


def test_nearest_centre_shapes_and_values():
    centres = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    idx, dist = nearest_centre(torch.tensor([[0.1, 0.0], [2.0, 0.0]]), centres)
    assert idx.tolist() == [0, 1]
    assert torch.allclose(dist, torch.tensor([0.1, 1.0]))
    with pytest.raises(ValueError):
        nearest_centre(torch.zeros(3, 3), centres)


# ---------------------------------------------------------------------------------------------
# widgets.py
# ---------------------------------------------------------------------------------------------
def test_pg_update_at_p_g_equal_to_a_data_bump_matches_the_identity():
    out = widgets.pg_update(0.0, 1.0, show=False)
    assert abs(out["identity_gap"]) < 1e-8
    assert 0 < out["jsd"] < math.log(2)
    assert out["value"] == pytest.approx(-math.log(4) + 2 * out["jsd"], abs=1e-8)


def test_pg_update_limits():
    # p_g far from the data: supports (numerically) disjoint, JSD -> log 2, V(D*, G) -> 0
    far = widgets.pg_update(7.0, 0.2, show=False)
    assert far["jsd"] == pytest.approx(math.log(2), abs=1e-6)
    assert far["value"] == pytest.approx(0.0, abs=1e-5)
    # p_g overlapping p_data as well as one Gaussian can: V is lower, never below -log 4
    near = widgets.pg_update(0.0, 2.06, show=False)
    assert -math.log(4) < near["value"] < far["value"]


def test_jsd_and_value_function_by_hand():
    x = np.linspace(-10, 10, 20001)
    p = widgets.gaussian_pdf(x, 0.0, 1.0)
    assert widgets.integrate(p, x) == pytest.approx(1.0, abs=1e-9)
    assert widgets.jsd(p, p, x) == pytest.approx(0.0, abs=1e-12)
    d = widgets.optimal_discriminator(p, p)
    assert np.allclose(d, 0.5)
    assert widgets.value_function(d, p, p, x) == pytest.approx(-math.log(4), abs=1e-8)
    # any other discriminator does worse than D*
    q = widgets.gaussian_pdf(x, 1.0, 1.0)
    d_star = widgets.optimal_discriminator(p, q)
    best = widgets.value_function(d_star, p, q, x)
    assert widgets.value_at_optimum(p, q, x) == pytest.approx(best, abs=1e-10)
    for d_other in (np.full_like(x, 0.5), np.clip(d_star + 0.05, 0, 1 - 1e-9), 1 / (1 + np.exp(-x))):
        assert widgets.value_function(d_other, p, q, x) < best


def test_pg_slider_builds_and_draws(monkeypatch):
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    calls = []
    real = widgets.pg_update
    monkeypatch.setattr(widgets, "pg_update", lambda *a, **k: calls.append(a) or real(*a, **{**k, "show": False}))
    ui = widgets.pg_slider(1.0, 0.5)
    assert calls and calls[-1] == (1.0, 0.5)  # interactive runs the function once at build time
    ui.children[0].value = -2.0
    assert calls[-1] == (-2.0, 0.5)
    with pytest.raises(ValueError):
        real(0.0, 0.0, show=False)
