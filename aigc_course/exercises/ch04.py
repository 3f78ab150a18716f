"""Chapter 04 (GANs on images): the exercises' references, known mistakes and hints."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..metrics import image as image_metrics
from ..models import gan
from . import Exercise, copying, nan_as_inf
from . import checkers as ex

# ---- 04.convt_out (derive): the output size of a transposed convolution -------------------------------------


def _convt_out_torch(h: int, kernel: int, stride: int, padding: int) -> int:
    return nn.ConvTranspose2d(1, 1, kernel, stride, padding)(torch.zeros(1, 1, h, h)).shape[-1]


_CONVT_CASES = [(7, 4, 2, 1), (14, 4, 2, 1), (4, 3, 1, 0), (5, 5, 3, 2), (1, 7, 1, 0)]
_CONVT_WRONG: list[tuple[Any, str]] = [
    (lambda h, k, s, p: (h + 2 * p - k) // s + 1, "ordinary Conv2d"),
    (lambda h, k, s, p: h * s, "only for k = 4"),
    (lambda h, k, s, p: (h - 1) * s + k, "*removes*"),
    (lambda h, k, s, p: (h - 1) * s + 2 * p + k, "crops the output"),
]


def _run_convt_out(answer: Any) -> bool:
    return ex.check_function(
        "04.convt_out", answer, _convt_out_torch, _CONVT_CASES, atol=0,
        mistakes=[(_CONVT_WRONG[0][0], "That is the size formula of an ordinary Conv2d, which shrinks; the "
                                       "transposed one inverts it."),
                  (_CONVT_WRONG[1][0], "h·stride is right only for k = 4, s = 2, p = 1; use the general formula."),
                  (_CONVT_WRONG[2][0], "Close: padding *removes* 2·padding pixels from the output."),
                  (_CONVT_WRONG[3][0], "Padding in a transposed convolution crops the output.")],
        hint="invert the Conv2d formula out = (h + 2p − k) // s + 1 for h")


# ---- 04.g_loss (derive): the non-saturating generator loss from D's logits -----------------------------------

def _g_loss_reference(logits: torch.Tensor) -> torch.Tensor:
    return -F.logsigmoid(logits).mean()


_G_LOSS_CASES = [(torch.linspace(-6, 6, 13)[:, None],), (torch.tensor([[-30.0], [0.0], [2.5]]),)]
_G_LOSS_WRONG: list[tuple[Any, str]] = [
    (lambda a: -F.binary_cross_entropy_with_logits(a, torch.zeros_like(a)), "saturating loss"),
    (lambda a: F.binary_cross_entropy_with_logits(a, torch.zeros_like(a)), "*discriminator's* target"),
    (lambda a: -F.logsigmoid(a).sum(), "mean, not sum"),
    (lambda a: -torch.sigmoid(a).mean(), "take -log D"),
]


def _run_g_loss(answer: Any) -> bool:
    return ex.check_function(
        "04.g_loss", copying(answer), _g_loss_reference, _G_LOSS_CASES,
        mistakes=[(_G_LOSS_WRONG[0][0], "That is the saturating loss log(1 - D(G(z))): its gradient vanishes when D "
                                        "rejects the fakes."),
                  (_G_LOSS_WRONG[1][0], "Label 0 for fakes is the *discriminator's* target; the generator wants D to "
                                        "say 1 (real)."),
                  (_G_LOSS_WRONG[2][0], "Right idea, but average over the batch (mean, not sum)."),
                  (_G_LOSS_WRONG[3][0], "Maximising D(G(z)) itself is not the GAN loss: take -log D.")],
        hint="-log D(G(z)) with D = sigmoid(logit); F.binary_cross_entropy_with_logits does it stably.")


# ---- 04.slerp (implement): spherical interpolation between two batches of latent codes -----------------------

def _slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation, row by row: ``z0``, ``z1`` ``(N, d)``, ``t`` in [0, 1] → ``(N, d)``.

    With ω the angle between rows z0[i] and z1[i]: sin((1 − t)ω)/sin ω · z0[i] + sin(tω)/sin ω · z1[i]. Rows that
    are (almost) parallel, ω < 1e-4, fall back to the straight line (1 − t) z0[i] + t z1[i] (the limit)."""
    cos = (z0 * z1).sum(-1, keepdim=True) / (z0.norm(dim=-1, keepdim=True) * z1.norm(dim=-1, keepdim=True)).clamp(
        min=1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    parallel = omega.abs() < 1e-4
    sin = torch.where(parallel, torch.ones_like(omega), torch.sin(omega))
    w0 = torch.where(parallel, torch.full_like(omega, 1 - t), torch.sin((1 - t) * omega) / sin)
    w1 = torch.where(parallel, torch.full_like(omega, t), torch.sin(t * omega) / sin)
    return w0 * z0 + w1 * z1


def _slerp_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """Random batches of codes at several t (d = 16 and d = 3), the two ends t = 0 and t = 1, and a batch with a
    row that is parallel to its partner (z1 = 2·z0), where sin ω = 0."""
    g = torch.Generator().manual_seed(404)
    cases = []
    for n, d, t in ((4, 16, 0.5), (3, 16, 0.2), (5, 3, 0.9), (2, 16, 0.0), (2, 16, 1.0)):
        cases.append((torch.randn(n, d, generator=g), torch.randn(n, d, generator=g), t))
    z0 = torch.randn(3, 16, generator=g)
    z1 = torch.randn(3, 16, generator=g)
    z1[1] = 2 * z0[1]
    cases.append((z0, z1, 0.3))
    return cases


def _slerp_lerp(z0, z1, t):
    return (1 - t) * z0 + t * z1


def _slerp_swapped(z0, z1, t):
    return _slerp(z0, z1, 1 - t)


def _slerp_no_fallback(z0, z1, t):
    cos = (z0 * z1).sum(-1, keepdim=True) / (z0.norm(dim=-1, keepdim=True) * z1.norm(dim=-1, keepdim=True))
    omega = torch.arccos(cos.clamp(-1, 1))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def _slerp_one_angle(z0, z1, t):
    omega = torch.arccos(((z0 * z1).sum() / (z0.norm() * z1.norm())).clamp(-1, 1))
    if omega.abs() < 1e-4:
        return _slerp_lerp(z0, z1, t)
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


_SLERP_WRONG: list[tuple[Any, str]] = [
    (_slerp_lerp, "straight line"),
    (_slerp_swapped, "swapped"),
    (_slerp_no_fallback, "parallel"),
    (_slerp_one_angle, "each row"),
]


def _run_slerp(answer: Any) -> bool:
    return ex.check_function(
        "04.slerp", nan_as_inf(copying(answer)), _slerp, _slerp_cases(), atol=1e-5, rtol=1e-4,
        mistakes=[(_slerp_lerp, "That is the straight line (1 − t) z0 + t z1, whose middle is about 1/√2 too short "
                                "(§5). Weight the ends by sin((1 − t)ω)/sin ω and sin(tω)/sin ω instead."),
                  (_slerp_swapped, "The weights are swapped: at t = 0 the path must start at z0, so z0's weight is "
                                   "sin((1 − t)ω)/sin ω and z1's is sin(tω)/sin ω."),
                  (nan_as_inf(_slerp_no_fallback),
                   "A row parallel to its partner (z1 = 2·z0) has ω = 0 and sin ω = 0: 0/0 gives NaN. Where ω < 1e-4 "
                   "use the straight line (1 − t) z0 + t z1, which is the limit of slerp (torch.where)."),
                  (_slerp_one_angle, "The angle must be computed for each row (each pair of codes) separately: sum "
                                     "z0 * z1 over the last dimension only (keepdim=True), not over the whole "
                                     "batch.")],
        hint="per row: cos ω = (z0·z1)/(|z0||z1|); weights sin((1−t)ω)/sin ω and sin(tω)/sin ω; lerp where ω ≈ 0")


# ---- 04.knn_precision (implement): the improved precision of Kynkäänniemi et al. -----------------------------

def _knn_precision(real: torch.Tensor, fake: torch.Tensor, k: int) -> float:
    """Improved precision of features ``fake`` ``(M, F)`` against ``real`` ``(N, F)``: the share of fake rows
    within the k-NN radius of at least one real row, the radius of a real row being its distance to its k-th
    nearest *other* real row; on the boundary (distance == radius) counts as inside."""
    real, fake = real.float(), fake.float()
    return image_metrics._inside(fake, real, image_metrics._kth_radius(real, k)).float().mean().item()


def _precision_cases() -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """Random features (k = 3 and k = 1, clusters and spread), and a 1-D lattice where fake points lie exactly
    on a radius (distance 1 from the end of the lattice 0, 1, …, 4) or just outside it."""
    g = torch.Generator().manual_seed(4004)
    cases = []
    for n, m, f, k, spread in ((30, 20, 4, 3, 1.5), (25, 40, 2, 1, 1.0), (40, 30, 3, 5, 2.0)):
        real = torch.randn(n, f, generator=g)
        fake = spread * torch.randn(m, f, generator=g) + 0.5
        cases.append((real, fake, k))
    lattice = torch.arange(5.0)[:, None]
    cases.append((lattice, torch.tensor([[5.0], [5.5], [-1.0], [2.5], [-2.0]]), 1))
    return cases


def _precision_self(real, fake, k):
    real, fake = real.float(), fake.float()
    radii = torch.cdist(real, real).kthvalue(k, dim=1).values
    return (torch.cdist(fake, real) <= radii[None, :]).any(1).float().mean().item()


def _precision_strict(real, fake, k):
    real, fake = real.float(), fake.float()
    radii = image_metrics._kth_radius(real, k)
    return (torch.cdist(fake, real) < radii[None, :]).any(1).float().mean().item()


def _precision_recall_swapped(real, fake, k):
    return _knn_precision(fake, real, k)


def _precision_fake_radius(real, fake, k):
    real, fake = real.float(), fake.float()
    radii = torch.cdist(real, fake).kthvalue(k, dim=1).values
    return (torch.cdist(fake, real) <= radii[None, :]).any(1).float().mean().item()


_PRECISION_WRONG: list[tuple[Any, str]] = [
    (_precision_self, "distance 0"),
    (_precision_strict, "boundary"),
    (_precision_recall_swapped, "recall"),
    (_precision_fake_radius, "other *real*"),
]


def _run_knn_precision(answer: Any) -> bool:
    return ex.check_function(
        "04.knn_precision", copying(answer), _knn_precision, _precision_cases(), atol=1e-6, rtol=0,
        mistakes=[(_precision_self, "Each real row is its own nearest neighbour at distance 0, so the k-th smallest "
                                    "distance in its row of cdist(real, real) is only the (k−1)-th neighbour. Skip "
                                    "the point itself: kthvalue(k + 1)."),
                  (_precision_strict, "A fake point exactly on a ball's boundary (distance == radius) is inside the "
                                      "manifold: compare with <=, not <."),
                  (_precision_recall_swapped, "That is recall: the share of *real* rows inside the manifold of the "
                                              "fakes. Precision asks whether each fake lies in the real manifold."),
                  (_precision_fake_radius, "A real row's radius is its distance to its k-th nearest other *real* "
                                           "row: the balls describe the real manifold alone, whatever the fakes "
                                           "are.")],
        hint="radii = k-th nearest other real row; a fake counts when its distance to some real row j <= radii[j]")


# ---- 04.lloyd_step (implement): one round of k-means, the clustering behind §6's label-free conditioning -------

def _lloyd_step(x: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One Lloyd round (:func:`gan.lloyd_step`), on float copies of whatever the case holds."""
    return gan.lloyd_step(x.float(), centroids.float())


def _lloyd_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random rows with centroids drawn among them (2-D and 5-D), a 1-D case whose third centroid gets no row, and
    one where assigning again after the move would change a row's cluster."""
    g = torch.Generator().manual_seed(4040)
    cases = []
    for n, d, k in ((40, 2, 3), (30, 5, 4)):
        x = torch.randn(n, d, generator=g) + 3 * torch.randint(0, 3, (n, 1), generator=g)
        cases.append((x, x[torch.randperm(n, generator=g)[:k]].clone()))
    x = torch.cat([torch.randn(10, 1, generator=g), 10 + torch.randn(10, 1, generator=g)])
    cases.append((x, torch.tensor([[0.0], [10.0], [100.0]])))
    # moving the centroids changes the nearest one for the row 2 (0 and 3 -> 0 and 5)
    cases.append((torch.tensor([[0.0], [2.0], [3.0], [10.0]]), torch.tensor([[0.0], [3.0]])))
    return cases


def _lloyd_same(a: Any, b: Any) -> bool:
    try:
        (assign_a, new_a), (assign_b, new_b) = a, b
        assign_a, new_a = torch.as_tensor(assign_a), torch.as_tensor(new_a, dtype=torch.float32)
    except (TypeError, ValueError):
        return False
    return (assign_a.shape == assign_b.shape and bool((assign_a.long() == assign_b).all())
            and new_a.shape == new_b.shape and bool(torch.allclose(new_a, new_b.float(), atol=1e-5, equal_nan=True)))


def _lloyd_sums_counts(x, centroids):
    """The right assignment, each cluster's sum of rows (K, D) and its number of rows (K,): what the mistakes share."""
    assign = gan.lloyd_step(x.float(), centroids.float())[0]
    return (assign, torch.zeros_like(centroids.float()).index_add_(0, assign, x.float()),
            torch.bincount(assign, minlength=len(centroids)))


def _lloyd_empty_nan(x, centroids):
    assign, sums, counts = _lloyd_sums_counts(x, centroids)
    return assign, sums / counts[:, None]


def _lloyd_empty_zero(x, centroids):
    assign, sums, counts = _lloyd_sums_counts(x, centroids)
    return assign, sums / counts.clamp(min=1)[:, None]


def _lloyd_reassigned(x, centroids):
    new = _lloyd_step(x, centroids)[1]
    return torch.cdist(x.float(), new).argmin(1), new


def _lloyd_sums(x, centroids):
    assign, sums, counts = _lloyd_sums_counts(x, centroids)
    return assign, torch.where((counts > 0)[:, None], sums, centroids.float())


_LLOYD_WRONG: list[tuple[Any, str]] = [
    (_lloyd_empty_nan, "0 / 0"),
    (_lloyd_empty_zero, "moved to the origin"),
    (_lloyd_reassigned, "the *given* centroids"),
    (_lloyd_sums, "Divide each cluster's sum"),
]


def _run_lloyd_step(answer: Any) -> bool:
    return ex.check_function(
        "04.lloyd_step", copying(answer), _lloyd_step, _lloyd_cases(), compare=_lloyd_same,
        mistakes=[(_lloyd_empty_nan, "A centroid with no rows divided 0 / 0 and became NaN: where a cluster is empty, "
                                     "keep the centroid where it was (torch.where on the counts)."),
                  (_lloyd_empty_zero, "A centroid with no rows moved to the origin (its sum 0 over a clamped count): "
                                      "where a cluster is empty, keep the centroid where it was."),
                  (_lloyd_reassigned, "Return the assignment the means were computed from — to the *given* "
                                      "centroids — not a new one to the moved centroids: that would be the next "
                                      "round's first step."),
                  (_lloyd_sums, "Divide each cluster's sum by its number of rows: the new centroid is the mean.")],
        hint="assign = torch.cdist(x, centroids).argmin(1); counts = torch.bincount(assign, minlength=K); the sums "
             "by index_add_(0, assign, x) on zeros (K, D); new = sums / counts where counts > 0, else the old "
             "centroid.")


# ---- 04.detach_fake and 04.low_score (concept): kept from the chapter's first edition --------------------------

_DETACH_WRONG = [("real", "nothing to cut"), ("z", "*through G*"), ("labels", "carry no gradient"),
                 ("loss_d", "nothing to backpropagate")]


def _run_detach_fake(answer: Any) -> bool:
    return ex.check_choice(
        "04.detach_fake", answer, "fake",
        mistakes={"real": "Real images come from the data set; no graph leads from them to G, there is nothing to "
                          "cut.",
                  "z": "z is plain noise with no gradient history; the graph from z to the image runs *through G*, "
                       "so it is G's output that must be cut.",
                  "labels": "Labels are integers from the data set; they carry no gradient.",
                  "loss_d": "Detaching the loss would leave nothing to backpropagate, not even into D."},
        hint="Which tensor was produced by G in this step?")


_LOW_SCORE_WRONG = [("precision", "coverage of the other nine digits"), ("both", "Only one is low"),
                    ("neither", "exactly that coverage")]


def _run_low_score(answer: Any) -> bool:
    return ex.check_choice(
        "04.low_score", answer, "recall",
        mistakes={"precision": "Perfect 1s lie inside the real manifold, so precision is high; what is missing is "
                               "coverage of the other nine digits — recall.",
                  "both": "Only one is low: each sample is a realistic digit (precision is about 'are the samples "
                          "realistic?'); what fails is the variety.",
                  "neither": "The samples are realistic, but nine of the ten digit classes are never produced: one "
                             "of the two scores measures exactly that coverage."},
        hint="Precision asks 'are the samples realistic?', recall asks 'are all kinds of real digits produced?'")


# ---- 04.truncation (experiment): the DCGAN's precision with its noise scaled by 0.5 ---------------------------

TRUNCATION = 0.5
TRUNCATION_BAND = 0.002  # the check accepts the figure within ± this of the recomputed one


def _truncated_images(G: nn.Module, n: int, seed: int, scale: float) -> torch.Tensor:
    """``n`` images ``(n, 1, 28, 28)`` of ``G`` (eval mode, no gradients) from ``scale · z``, z ~ N(0, I) drawn
    with ``seed`` (the draw ``G.sample`` makes)."""
    device = next(G.parameters()).device
    z = scale * gan.sample_latent(n, G.latent_dim, generator=torch.Generator().manual_seed(seed))
    was_training = G.training
    G.eval()
    with torch.inference_mode():
        images = torch.cat([G(z[i: i + 500].to(device)).cpu() for i in range(0, len(z), 500)])
    G.train(was_training)
    return images


def _truncated_scores(G: nn.Module, judge: image_metrics.ImageJudge, seed: int, scale: float) -> dict[str, float]:
    """The judge's scores of ``judge.n`` samples of ``G`` drawn from ``scale · z``, z ~ N(0, I) with ``seed``."""
    return judge.score(_truncated_images(G, judge.n, seed, scale), symmetric=True)


def _truncated_precision(G: nn.Module, judge: image_metrics.ImageJudge, seed: int, scale: float) -> float:
    """Only the precision of :func:`_truncated_scores` (what ``judge.score`` computes for it, without the recall
    and the Fréchet distance: the check stays cheap)."""
    x = image_metrics.to_unit(_truncated_images(G, judge.n, seed, scale), symmetric=True)
    return _knn_precision(judge.real_test[: judge.n], image_metrics.features(judge.model, x), judge.k)


def _truncation_wrong(*, G: nn.Module, judge: image_metrics.ImageJudge, seed: int) -> list[tuple[float, str]]:
    half, full = _truncated_scores(G, judge, seed, TRUNCATION), _truncated_precision(G, judge, seed, 1.0)
    return [(full, "unchanged"), (half["recall"], "recall"), (100 * half["precision"], "fraction"),
            (half["fid"], "FID")]


def _run_truncation(answer: Any, *, G: nn.Module, judge: image_metrics.ImageJudge, seed: int) -> bool:
    truth = _truncated_precision(G, judge, seed, TRUNCATION)
    if answer is None or answer is Ellipsis or ex._close(answer, truth, TRUNCATION_BAND, 0.0):  # no mistakes needed
        return ex.check_value("04.truncation", answer, truth, atol=TRUNCATION_BAND, rtol=0.0)
    wrong = [w for w, _ in _truncation_wrong(G=G, judge=judge, seed=seed)]
    return ex.check_value(
        "04.truncation", answer, truth, atol=TRUNCATION_BAND, rtol=0.0,
        mistakes=[(wrong[0], "That is the unchanged precision at z ~ N(0, I) (§4); multiply the noise by "
                             f"{TRUNCATION:g} before the generator and score again."),
                  (wrong[1], "That is the recall of the truncated samples; report their precision."),
                  (wrong[2], "Report the precision as a fraction (0..1), as judge.score returns it, not as a "
                             "percentage."),
                  (wrong[3], "That is the classifier-FID of the truncated samples; report their precision.")],
        hint=f"accepted within ±{TRUNCATION_BAND} of what z·{TRUNCATION:g} gives with this seed")


class _StandInGenerator(nn.Module):
    """A stand-in for a trained generator (for the tests): a fixed random map z (8,) → tanh image (1, 28, 28)."""

    latent_dim = 8

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(44)
        self.weight = nn.Parameter(torch.randn(28 * 28, self.latent_dim, generator=g) * 0.6, requires_grad=False)
        self.bias = nn.Parameter(torch.randn(28 * 28, generator=g) * 0.3 - 0.5, requires_grad=False)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(z @ self.weight.T + self.bias).view(-1, 1, 28, 28)


def test_context() -> dict[str, object]:
    """The keyword arguments the chapter's experiment check needs (for the test suite): a stand-in generator and a
    judge built from an untrained classifier whose reference features are the stand-in's own samples at z·0.4, so
    that truncation changes the scores (the real judge and DCGAN take minutes to train)."""
    torch.manual_seed(0)
    model = image_metrics.MNISTClassifier(4, 8).eval()
    G, n = _StandInGenerator(), 300
    with torch.no_grad():
        z = 0.4 * gan.sample_latent(2 * n, G.latent_dim, generator=torch.Generator().manual_seed(7))
        feats = image_metrics.features(model, image_metrics.to_unit(G(z), symmetric=True))
    judge = image_metrics.ImageJudge(model, 0.99, n, 3, feats[:n], image_metrics.frechet_distance(feats[n:], feats[:n]),
                                     torch.arange(n), torch.arange(n), feats[n:])
    return {"G": G, "judge": judge, "seed": 1}


EXERCISES: list[Exercise] = [
    Exercise("04.convt_out", "derive", 1, "transposed convolution sizes", _run_convt_out, lambda: _convt_out_torch,
             hint="A Conv2d maps h to (h + 2p − k) // s + 1; the transposed convolution maps that size back: solve "
                  "for h (without the floor).", wrong=_CONVT_WRONG),
    Exercise("04.g_loss", "derive", 1, "the generator's loss from the discriminator's logits", _run_g_loss,
             lambda: _g_loss_reference,
             hint="-log D(G(z)) with D = sigmoid(logit); F.binary_cross_entropy_with_logits(logits, ones) or "
                  "-F.logsigmoid(logits).mean() computes it stably.", wrong=_G_LOSS_WRONG),
    Exercise("04.detach_fake", "concept", 1, "which tensor is detached", _run_detach_fake, lambda: "fake",
             hint="Which tensor was produced by G in this step?", wrong=_DETACH_WRONG),
    Exercise("04.slerp", "implement", 2, "spherical interpolation between latent codes", _run_slerp,
             lambda: _slerp,
             hint="Per row: cos ω = (z0·z1) / (|z0| |z1|) with sum(-1, keepdim=True); ω = arccos(cos.clamp(-1, 1)); "
                  "the result is (sin((1−t)ω) z0 + sin(tω) z1) / sin ω, and where ω < 1e-4 the straight line "
                  "(torch.where).", wrong=_SLERP_WRONG),
    Exercise("04.knn_precision", "implement", 3, "the judge's precision (k-NN manifold)", _run_knn_precision,
             lambda: _knn_precision,
             hint="torch.cdist(real, real) gives all distances; each row's smallest is the point itself (0), so the "
                  "k-th neighbour is kthvalue(k + 1). Then a fake counts when cdist(fake, real) <= radii for some "
                  "real row (any over dim 1); average.", wrong=_PRECISION_WRONG),
    Exercise("04.low_score", "concept", 1, "read the judge", _run_low_score, lambda: "recall",
             hint="Precision asks 'are the samples realistic?', recall asks 'are all kinds of real digits produced?'",
             wrong=_LOW_SCORE_WRONG),
    Exercise("04.truncation", "experiment", 2, "the truncation trick: the DCGAN's precision at z·0.5",
             _run_truncation, lambda G, judge, seed: _truncated_precision(G, judge, seed, TRUNCATION),
             hint="z = 0.5 * gan.sample_latent(judge.n, G_dc.latent_dim, generator=torch.Generator().manual_seed("
                  "run.seed + 1)); images = G_dc(z) in eval mode under torch.no_grad(); "
                  "judge.score(images, symmetric=True)['precision'].", wrong=_truncation_wrong),
    Exercise("04.lloyd_step", "implement", 2, "one round of k-means (Lloyd's algorithm)", _run_lloyd_step,
             lambda: _lloyd_step,
             hint="assign = torch.cdist(x, centroids).argmin(1); counts = torch.bincount(assign, minlength=K); the "
                  "sums by index_add_(0, assign, x) on zeros (K, D); new = sums / counts where counts > 0, else the "
                  "old centroid.", wrong=_LLOYD_WRONG),
]

