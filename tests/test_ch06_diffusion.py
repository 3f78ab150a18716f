"""Chapter 06: the noise schedule and the small UNet of ``aigc_course.models.diffusion``."""

import math

import pytest
import torch

from aigc_course.models import diffusion


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_schedule_is_a_valid_noise_schedule(kind):
    sched = diffusion.NoiseSchedule(200, kind)
    assert sched.betas.shape == sched.alphas.shape == sched.alpha_bars.shape == (200,)
    assert torch.all(sched.betas > 0) and torch.all(sched.betas < 1)
    assert torch.allclose(sched.alpha_bars, torch.cumprod(1 - sched.betas.double(), 0).float(), atol=1e-6)
    assert torch.all(sched.alpha_bars[1:] < sched.alpha_bars[:-1])  # strictly more noise every step
    assert sched.alpha_bars[0] > 0.99 and sched.alpha_bars[-1] < 1e-3  # from almost clean to almost pure noise


def test_cosine_schedule_follows_its_formula():
    steps, s = 100, 0.008
    sched = diffusion.NoiseSchedule(steps, "cosine")
    f = lambda t: math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2
    for t in (0, 10, 50, 90):
        assert sched.alpha_bars[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-4)


def test_q_sample_and_predict_x0_are_inverse():
    sched = diffusion.NoiseSchedule(50)
    x0, eps = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    t = torch.tensor([0, 5, 10, 20, 40, 49])
    x_t = sched.q_sample(x0, t, eps)
    a_bar = sched.alpha_bars[t].view(-1, 1, 1, 1)
    assert torch.allclose(x_t, a_bar.sqrt() * x0 + (1 - a_bar).sqrt() * eps)
    assert torch.allclose(sched.predict_x0(x_t, t, eps), x0, atol=1e-3)


def test_unknown_schedule_raises():
    with pytest.raises(ValueError, match="cosine"):
        diffusion.NoiseSchedule(10, "quadratic")


def test_timestep_embedding_shape_and_range():
    emb = diffusion.timestep_embedding(torch.tensor([0, 1, 399]), 32)
    assert emb.shape == (3, 32)
    assert emb.abs().max() <= 1.0
    assert torch.allclose(emb[0, :16], torch.ones(16))  # cos(0) = 1


def _net():
    torch.manual_seed(0)
    net = diffusion.UNet(channels=(8, 16, 16), emb_dim=32)
    for p in net.parameters():  # zero-initialised output layers would hide the conditioning
        if p.dim() > 1 and p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.1)
    return net.eval()


def test_unet_output_shape_equals_input_shape():
    net = _net()
    x = torch.randn(4, 1, 28, 28)
    out = net(x, torch.tensor([0, 10, 100, 399]), torch.tensor([0, 3, 9, 10]))
    assert out.shape == x.shape
    assert net(x, torch.zeros(4)).shape == x.shape  # y=None: the null class


def test_unet_starts_at_zero_and_depends_on_time_and_class():
    torch.manual_seed(0)
    fresh = diffusion.UNet(channels=(8, 16, 16), emb_dim=32)
    x = torch.randn(2, 1, 28, 28)
    assert torch.all(fresh(x, torch.tensor([1, 2])) == 0)  # zero-initialised output: predicts ε = 0 at first
    net = _net()
    with torch.no_grad():
        t = torch.tensor([5, 5])
        base = net(x, t, torch.tensor([1, 1]))
        assert not torch.allclose(base, net(x, torch.tensor([300, 300]), torch.tensor([1, 1])))
        assert not torch.allclose(base, net(x, t, torch.tensor([7, 7])))
        assert torch.allclose(net(x, t, None), net(x, t, torch.tensor([10, 10])))


def test_unet_parameter_count_is_small():
    assert diffusion.count_parameters(diffusion.UNet(channels=(16, 32, 64))) < 1_000_000


def test_patch_unet_folds_pixels_and_keeps_each_block_local():
    """patch=2 works on 14 x 14 x 4 and returns the input's shape; pixel (un)shuffle is an exact round trip."""
    torch.manual_seed(0)
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(torch.nn.functional.pixel_shuffle(torch.nn.functional.pixel_unshuffle(x, 2), 2), x)
    net = diffusion.UNet(channels=(8, 16), emb_dim=32, patch=2)
    assert net.conv_in.in_channels == 4 and net.conv_out.out_channels == 4
    assert torch.all(net(x, torch.tensor([1, 2, 3])) == 0)  # still starts at zero
    for p in net.parameters():
        if p.dim() > 1 and p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.1)
    out = net(x, torch.tensor([1, 2, 3]), torch.tensor([0, 4, 10]))
    assert out.shape == x.shape
    with pytest.raises(RuntimeError):
        net(torch.randn(1, 1, 27, 27), torch.tensor([1]))  # 27 is not divisible by the patch


def test_toynet_maps_points_and_times_to_points():
    net = diffusion.ToyNet(dim=2, hidden=16, depth=2, emb_dim=8)
    out = net(torch.randn(5, 2), torch.tensor([0, 1, 2, 3, 999]))
    assert out.shape == (5, 2)
    x = torch.randn(1, 2).repeat(2, 1)
    assert not torch.allclose(*net(x, torch.tensor([1, 500])))  # the time enters the prediction
