"""Chapter 05 package code: the convolutional VAE, its latent helpers and the latent-slider widget."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from aigc_course import widgets
from aigc_course.core.config import chapter
from aigc_course.models import vae

matplotlib.use("Agg")


@pytest.mark.parametrize("latent_dim,channels,hidden", [(2, 4, 16), (16, 8, 32)])
def test_conv_vae_shapes(latent_dim, channels, hidden):
    torch.manual_seed(0)
    model = vae.ConvVAE(latent_dim, channels=channels, hidden=hidden)
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, latent_dim)
    logits = model.decode(mu)
    assert logits.shape == (5, 1, 28, 28)
    out, mu2, logvar2 = model(x)
    assert out.shape == (5, 1, 28, 28) and torch.equal(mu, mu2) and torch.equal(logvar, logvar2)
    samples = model.sample(7, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (7, 1, 28, 28) and not samples.requires_grad
    assert bool(((samples >= 0) & (samples <= 1)).all())
    again = model.sample(7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(samples, again)


def test_conv_vae_activation_is_chosen_by_name():
    silu = vae.ConvVAE(4, channels=4, hidden=8, activation="silu")
    relu = vae.ConvVAE(4, channels=4, hidden=8)
    assert sum(isinstance(m, torch.nn.SiLU) for m in silu.modules()) == 6
    assert not any(isinstance(m, torch.nn.SiLU) for m in relu.modules())
    assert silu.state_dict().keys() == relu.state_dict().keys()  # the same parameters: only the nonlinearity differs
    assert chapter("05_vae").hparams("fast").activation in vae.ACTIVATIONS
    with pytest.raises(ValueError, match="activation must be one of relu, silu, not 'tanh'"):
        vae.ConvVAE(4, activation="tanh")


def test_pixel_bias_starts_at_the_mean_image():
    torch.manual_seed(0)
    images = torch.zeros(10, 1, 28, 28)
    images[:5, :, 10:18, 10:18] = 1.0  # the centre is ink in half the images; the rest is always 0
    images[5:, :, 12:16, 12:16] = 0.5
    plain = vae.ConvVAE(4, channels=4, hidden=8)
    biased = vae.ConvVAE(4, channels=4, hidden=8, pixel_bias=True)
    assert plain.pixel_bias is None and set(biased.state_dict()) - set(plain.state_dict()) == {"pixel_bias"}
    z = torch.randn(3, 4)
    biased.load_state_dict(plain.state_dict(), strict=False)
    assert torch.equal(biased.decode(z), plain.decode(z))  # a zero bias changes nothing
    start = biased.start_at_mean(images)
    mean = images.mean(0, keepdim=True)
    assert start.shape == (1, 1, 28, 28) and torch.equal(start, biased.pixel_bias.detach())
    assert torch.allclose(torch.sigmoid(start)[0, 0, 13, 13], mean[0, 0, 13, 13])  # (1 + 0.5) / 2 = 0.75
    assert torch.allclose(torch.sigmoid(start)[0, 0, 0, 0], torch.tensor(1e-3))  # never-inked: clamped, finite
    assert torch.allclose(biased.decode(z), plain.decode(z) + start)  # added to the logits of every image
    biased.decode(z).sum().backward()
    assert biased.pixel_bias.grad is not None  # learned with the rest
    with pytest.raises(ValueError, match="build it with ConvVAE\\(..., pixel_bias=True\\)"):
        plain.start_at_mean(images)
    with pytest.raises(ValueError, match="images must be \\(N, 1, 28, 28\\)"):
        biased.start_at_mean(images[:, 0])
    assert chapter("05_vae").hparams("fast").pixel_bias is True


def test_reparameterize_moments_and_gradient():
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(4.0)], requires_grad=True)
    g = torch.Generator().manual_seed(0)
    z = vae.reparameterize(mu.expand(200_000, 2), logvar.expand(200_000, 2), generator=g)
    assert torch.allclose(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.02)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 2.0]), atol=0.02)  # σ = exp(logvar / 2)
    z.sum().backward()  # the sample is differentiable in mu and logvar
    assert torch.allclose(mu.grad, torch.full((2,), 200_000.0))
    assert logvar.grad is not None and torch.isfinite(logvar.grad).all()


def test_a_few_steps_lower_the_negative_elbo():
    torch.manual_seed(0)
    model = vae.ConvVAE(4, channels=4, hidden=16)
    x = (torch.rand(1, 1, 28, 28) > 0.7).float().expand(32, 1, 28, 28)  # one pattern: learnable in a few steps
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss():
        logits, mu, logvar = model(x)
        recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return (recon + kl).mean()

    first = loss()
    for _ in range(30):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert loss().item() < 0.8 * first.item()


def test_latent_grid_covers_the_prior_in_row_major_order():
    grid = vae.latent_grid(5, quantile=0.9)
    assert grid.shape == (25, 2)
    edge = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.95)).item()
    assert math.isclose(grid[:, 0].max().item(), edge, rel_tol=1e-5)
    assert torch.allclose(grid[:5, 1], torch.full((5,), edge))  # top row: largest z2
    assert torch.all(grid[:5, 0].diff() > 0)  # z1 grows left to right
    assert torch.allclose(grid[12], torch.zeros(2), atol=1e-6)  # the centre is the prior's mode
    with pytest.raises(ValueError):
        vae.latent_grid(1)


def test_slerp_ends_and_norm():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    path = vae.slerp(a, b, 5)
    assert path.shape == (5, 2)
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.full((5,), 3.0), atol=1e-5)
    assert torch.allclose(vae.slerp(a, 2 * a, 3)[1], 1.5 * a)  # parallel: straight line


def test_latent_update_and_sliders():
    torch.manual_seed(0)
    model = vae.ConvVAE(3, channels=4, hidden=8)
    image = widgets.vae_latent_update(model, [0.5, -1.0, 0.0], show=False)
    assert image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1
    expected = torch.sigmoid(model.decode(torch.tensor([[0.5, -1.0, 0.0]])))[0, 0]
    assert torch.allclose(image, expected.detach())
    with pytest.raises(ValueError, match="latent_dim"):
        widgets.vae_latent_update(model, [0.0, 0.0], show=False)
    pytest.importorskip("ipywidgets")
    ui = widgets.vae_latent_sliders(model, base_z=[0.1, 0.2, 0.3], dims=(0, 2))
    labels = [child.description for child in ui.children if hasattr(child, "min")]
    assert labels == ["z[0]", "z[2]"]
    with pytest.raises(ValueError, match="base_z"):
        widgets.vae_latent_sliders(model, base_z=[0.0])


def test_profile_row():
    spec = chapter("05_vae")
    assert spec.datasets == ("mnist",)
    assert not spec.targets_for("smoke")
    fast, full = spec.hparams("fast"), spec.hparams("full")
    assert spec.targets_for("fast")["vae_test_nelbo_nats"] == "<= 96"
    assert spec.targets_for("full")["vae_test_nelbo_nats"] == "<= 90"
    assert fast.save_samples >= 1000 and spec.hparams("smoke").save_samples >= 1000
    assert full.epochs >= fast.epochs > spec.hparams("smoke").epochs
