"""Chapter 04's image GANs: shapes, value ranges, conditioning, and the label checks."""

from __future__ import annotations

import pytest
import torch

from aigc_course.models import gan


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("make", [lambda: gan.MLPImageGenerator(16, hidden=32),
                                  lambda: gan.DCGenerator(16, channels=8)])
def test_unconditional_generators_make_images_in_tanh_range(make):
    G = make()
    x = G(torch.randn(5, 16))
    assert x.shape == (5, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1
    samples = G.sample(7, generator=torch.Generator().manual_seed(1), batch=3)
    assert samples.shape == (7, 1, 28, 28) and not samples.requires_grad
    again = G.sample(7, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(samples, again, atol=1e-6), "sample() is reproducible with a seeded generator"
    assert G.training, "sample() restores the training mode"


@pytest.mark.parametrize("make", [lambda: gan.MLPImageDiscriminator(hidden=32),
                                  lambda: gan.DCDiscriminator(channels=8)])
def test_discriminators_return_one_logit_per_image(make):
    assert make()(torch.randn(5, 1, 28, 28)).shape == (5, 1)


def test_dc_generator_upsamples_7_14_28():
    G = gan.DCGenerator(16, channels=8)
    sizes = []
    G.net.register_forward_pre_hook(lambda m, i: sizes.append(i[0].shape[-1]))
    for layer in G.net:
        if isinstance(layer, torch.nn.ConvTranspose2d):
            layer.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
    G(torch.randn(2, 16))
    assert sizes == [7, 14, 28]


def test_conditioning_changes_the_output_and_the_logit():
    G = gan.DCGenerator(16, channels=8, num_classes=10).eval()
    D = gan.DCDiscriminator(channels=8, num_classes=10).eval()
    z = torch.randn(4, 16)
    a = G(z, torch.tensor([0, 1, 2, 3]))
    b = G(z, torch.tensor([7, 7, 7, 7]))
    assert a.shape == (4, 1, 28, 28) and not torch.allclose(a, b)
    torch.nn.init.normal_(D.embed.weight, std=1.0)
    x = torch.randn(4, 1, 28, 28)
    assert not torch.allclose(D(x, torch.tensor([0, 1, 2, 3])), D(x, torch.tensor([7, 7, 7, 7])))
    samples = G.sample(3, torch.tensor([5, 5, 5]))
    assert samples.shape == (3, 1, 28, 28)


def test_label_mistakes_are_clear_errors():
    with pytest.raises(ValueError, match="unconditional"):
        gan.DCGenerator(16, channels=8)(torch.randn(2, 16), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="pass labels"):
        gan.DCGenerator(16, channels=8, num_classes=10)(torch.randn(2, 16))
    with pytest.raises(ValueError, match="shape"):
        gan.DCDiscriminator(channels=8, num_classes=10)(torch.randn(2, 1, 28, 28), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="unconditional"):
        gan.MLPImageDiscriminator(hidden=8)(torch.randn(2, 1, 28, 28), torch.tensor([1, 2]))


def test_one_gan_step_trains_both_players():
    G, D = gan.DCGenerator(16, channels=8, num_classes=10), gan.DCDiscriminator(channels=8, num_classes=10)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    real, y = torch.rand(8, 1, 28, 28) * 2 - 1, torch.randint(10, (8,))
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    fake = G(torch.randn(8, 16), y)
    ones, zeros = torch.ones(8, 1), torch.zeros(8, 1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    opt_d.zero_grad()
    (bce(D(real, y), ones) + bce(D(fake.detach(), y), zeros)).backward()
    assert all(p.grad is None for p in G.parameters()), "the detached D step leaves G alone"
    opt_d.step()
    opt_g.zero_grad()
    bce(D(fake, y), ones).backward()
    opt_g.step()
    assert any(not torch.equal(a, b) for a, b in zip(g0, G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, D.parameters()))


def test_spectral_norm_discriminator_bounds_every_layer_and_drops_batchnorm():
    torch.manual_seed(0)
    D = gan.DCDiscriminator(channels=8, num_classes=10, spectral_norm=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    D.train()
    for _ in range(30):  # power iteration converges over forward passes in training mode
        D(torch.randn(4, 1, 28, 28), torch.arange(4))
    for layer in (D.features[0], D.features[2], D.head):
        weight = layer.weight.flatten(1)  # the normalised weight, as a (out, in * k * k) matrix
        assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, abs=0.02)
    plain = gan.DCDiscriminator(channels=8)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert D(torch.randn(3, 1, 28, 28), torch.tensor([1, 2, 3])).shape == (3, 1)


def test_kmeans_finds_separated_clusters_and_is_reproducible():
    g = torch.Generator().manual_seed(3)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = torch.arange(300) % 3
    x = centres[truth] + 0.3 * torch.randn(300, 2, generator=g)
    assign, centroids = gan.kmeans(x, 3, seed=1)
    assert assign.shape == (300,) and assign.dtype == torch.int64 and centroids.shape == (3, 2)
    # the clusters are the true groups, whatever their numbering
    for c in range(3):
        assert len(set(truth[assign == c].tolist())) == 1
    # every centroid is the mean of its rows, and every row sits with its nearest centroid
    for c in range(3):
        assert torch.allclose(centroids[c], x[assign == c].mean(0), atol=1e-5)
    assert torch.equal(assign, torch.cdist(x, centroids).argmin(1))
    again, _ = gan.kmeans(x, 3, seed=1)
    assert torch.equal(assign, again), "the same seed gives the same clustering"


def test_kmeans_one_round_is_one_lloyd_step():
    x = torch.tensor([[0.0], [1.0], [9.0], [10.0]])
    # one round: assign to the starting rows, move each centroid to its rows' mean, assign again
    assign, centroids = gan.kmeans(x, 2, iters=1, seed=0)
    start = torch.randperm(4, generator=torch.Generator().manual_seed(0))[:2]
    first = torch.cdist(x, x[start]).argmin(1)
    means = torch.stack([x[first == c].mean(0) for c in range(2)])
    assert torch.allclose(centroids, means)
    assert torch.equal(assign, torch.cdist(x, means).argmin(1))


@pytest.mark.parametrize("x, k, iters, match", [
    (torch.zeros(4, 1, 2, 2), 2, 5, "flatten"),
    (torch.zeros(4, 3), 0, 5, "k must be"),
    (torch.zeros(4, 3), 5, 5, "k must be"),
    (torch.zeros(4, 3), 2, 0, "iters"),
])
def test_kmeans_rejects_bad_input_with_a_clear_error(x, k, iters, match):
    with pytest.raises(ValueError, match=match):
        gan.kmeans(x, k, iters=iters)


def test_lloyd_step_assigns_to_the_given_centroids_and_keeps_an_empty_one():
    x = torch.tensor([[0.0], [2.0], [3.0], [10.0]])
    assign, new = gan.lloyd_step(x, torch.tensor([[0.0], [3.0], [100.0]]))
    assert assign.tolist() == [0, 1, 1, 1]  # nearest of the given centroids (row 2 -> 3, not to the moved 5)
    assert new.tolist() == [[0.0], [5.0], [100.0]]  # means; the centroid without rows stays at 100
