"""Honest numbers for generated MNIST digits, judged by an MNIST classifier trained here.

**This is not Inception-FID.** The standard FID embeds images with an Inception-v3 network trained
on ImageNet (Heusel et al. 2017); its values are not comparable with the numbers here. The course
cannot download Inception weights, and Inception features say little about 28×28 digits, so we train
a small CNN on MNIST (test accuracy ≥ 0.99) once, cache it, and use its penultimate layer as the
feature space for:

- the **classifier Fréchet distance** ("classifier FID") between generated and real-test features,
  reported beside its *floor*: the same distance between two real sets (train vs test) of equal size;
- **precision and recall** for generative models (Kynkäänniemi et al. 2019, k-nearest-neighbour
  manifolds with k = 3): precision = share of generated samples inside the real manifold (quality),
  recall = share of real samples inside the generated manifold (coverage);
- **conditional accuracy**: the share of class-conditional samples the classifier reads as the
  class they were asked for.

Images are accepted as uint8 ``(N, 28, 28)`` in 0..255 or float ``(N, 1, 28, 28)`` / ``(N, 28, 28)``
in [0, 1] (or [-1, 1] with ``symmetric=True``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core import config, training
from ..core.report import artifact_dir
from ..datasets import load_mnist


# --------------------------------------------------------------------------------------------
# The judge: a small CNN
# --------------------------------------------------------------------------------------------
class MNISTClassifier(nn.Module):
    """Three Conv3×3-BN-ReLU-MaxPool stages (28 → 14 → 7 → 3) → linear ``features`` → linear 10.

    Sized for a CPU (about 4 M multiply-adds per image). ``forward``: ``(N, 1, 28, 28)`` in [0, 1] →
    logits ``(N, 10)``; :meth:`features`: → ``(N, features)`` (the space the metrics work in).
    """

    def __init__(self, channels: int = 16, features: int = 128):
        super().__init__()

        def stage(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                    nn.MaxPool2d(2)]

        c = channels
        self.body = nn.Sequential(
            *stage(1, c), *stage(c, 2 * c), *stage(2 * c, 4 * c),
            nn.Flatten(), nn.Linear(4 * c * 9, features), nn.ReLU(),
        )
        self.head = nn.Linear(features, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - 0.1307) / 0.3081)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def to_unit(images: torch.Tensor | np.ndarray, *, symmetric: bool = False) -> torch.Tensor:
    """Any accepted image layout → float32 ``(N, 1, 28, 28)`` in [0, 1]."""
    x = torch.as_tensor(images)
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    else:
        x = x.float()
        if symmetric:
            x = (x + 1) / 2
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected MNIST-shaped images (N, 28, 28) or (N, 1, 28, 28); got {tuple(x.shape)}")
    return x.clamp(0, 1)


def to_uint8(images: torch.Tensor | np.ndarray, *, symmetric: bool = False) -> np.ndarray:
    """Any accepted image layout → uint8 ``(N, 28, 28)`` (the artifact format)."""
    return (to_unit(images, symmetric=symmetric)[:, 0] * 255).round().to(torch.uint8).numpy()


def train_classifier(profile: str | None = None, *, device: torch.device | None = None,
                     retrain: bool = False) -> tuple[MNISTClassifier, float]:
    """The cached MNIST judge and its test accuracy (trained on first use, a few minutes on a CPU)."""
    prof = config.resolve_profile(profile)
    hp = config.component("mnist_classifier", prof)
    device = device or config.resolve_device()
    arch = {"channels": hp.channels, "features": hp.features}
    cfg = {**arch, "epochs": hp.epochs, "batch_size": hp.batch_size, "lr": hp.lr, "train_limit": hp.train_limit}

    def train(model: nn.Module, session: training.TrainingSession) -> dict[str, Any]:
        images, labels = load_mnist("train")
        if hp.train_limit:
            images, labels = images[: hp.train_limit], labels[: hp.train_limit]
        x = to_unit(images)
        g = torch.Generator().manual_seed(0)
        opt = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=1e-4)
        per_epoch = (len(x) + hp.batch_size - 1) // hp.batch_size
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp.lr, total_steps=hp.epochs * per_epoch)
        order = torch.arange(len(x))

        def new_epoch(epoch: int, first: bool) -> None:
            nonlocal order
            if first:  # a resumed run: the schedule continues where the finished epochs left it
                for _ in range(epoch * per_epoch):
                    sched.step()
            model.train()
            order = torch.randperm(len(x), generator=g)

        def loss_fn(step: int) -> torch.Tensor:
            i = (step % per_epoch) * hp.batch_size
            idx = order[i: i + hp.batch_size]
            batch = x[idx]
            shift = torch.randint(-2, 3, (2,), generator=g).tolist()  # small translations
            batch = torch.roll(batch, shifts=shift, dims=(2, 3))
            return F.cross_entropy(model(batch.to(device)), labels[idx].to(device))

        update = training.loss_step(loss_fn, opt)

        def step(i: int) -> dict[str, float]:
            figures = update(i)
            sched.step()
            return figures

        training.run_steps(step, total=hp.epochs * per_epoch, chunk=per_epoch, optimizers=[opt], session=session,
                           chunk_start=new_epoch)
        return {}

    def build(_: Any) -> MNISTClassifier:
        torch.manual_seed(0)  # the judge is the same network on every machine and in every run
        return MNISTClassifier(**arch)

    trained = training.load_or_train("mnist_classifier", cfg, build, train,
                                     retrain=retrain, device=device)
    model = trained.model.eval()
    images, labels = load_mnist("test")
    acc = (predict(model, to_unit(images)) == labels).float().mean().item()
    return model, acc


@torch.no_grad()
def _batched(fn, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    owner = getattr(fn, "__self__", fn)  # a module, or a bound method of one (e.g. model.features)
    device = next(owner.parameters()).device if isinstance(owner, nn.Module) else torch.device("cpu")
    return torch.cat([fn(x[i: i + batch].to(device)).cpu() for i in range(0, len(x), batch)])


def predict(model: MNISTClassifier, x: torch.Tensor) -> torch.Tensor:
    """Predicted labels ``(N,)`` for images ``(N, 1, 28, 28)`` in [0, 1]."""
    model.eval()
    return _batched(model, x).argmax(1)


def features(model: MNISTClassifier, x: torch.Tensor) -> torch.Tensor:
    """Penultimate-layer features ``(N, F)`` (float64) for images ``(N, 1, 28, 28)`` in [0, 1]."""
    model.eval()
    return _batched(model.features, x).double()


# --------------------------------------------------------------------------------------------
# The measures
# --------------------------------------------------------------------------------------------
def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to features ``a`` ``(N, F)`` and ``b`` ``(M, F)``:

    ``‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½)`` (the trace of the matrix square root computed
    from the eigenvalues of the symmetric PSD matrix ``Σa^½ Σb Σa^½``).
    """
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    vals, vecs = torch.linalg.eigh(cov_a)
    sqrt_a = (vecs * vals.clamp(min=0).sqrt()) @ vecs.T
    middle = sqrt_a @ cov_b @ sqrt_a
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    value = (mu_a - mu_b).pow(2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * trace_sqrt
    return float(value.clamp(min=0))


def _kth_radius(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance from each row of ``x`` ``(N, F)`` to its k-th nearest other row: ``(N,)``."""
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i: i + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at distance 0
    return torch.cat(out)


def _inside(queries: torch.Tensor, refs: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """For each query ``(Q, F)``: is it within ``radii[j]`` of some reference ``refs[j]``? → bool ``(Q,)``."""
    out = []
    for i in range(0, len(queries), chunk):
        d = torch.cdist(queries[i: i + chunk], refs)
        out.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(out)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of features ``fake`` vs ``real``."""
    real, fake = real.float(), fake.float()
    precision = _inside(fake, real, _kth_radius(real, k)).float().mean().item()
    recall = _inside(real, fake, _kth_radius(fake, k)).float().mean().item()
    return precision, recall


@dataclass
class ImageJudge:
    """The cached classifier plus real-data features, ready to score generated digits.

    ``n`` is the fixed sample count for every comparison. The **reference** is a random ``n`` of the 10,000
    test images (``reference_index``); the **floor** is the Fréchet distance between it and a random ``n``
    training images (``floor_train_index``). :meth:`probe` draws real images that are in neither, so a sanity
    check on real data never scores a reference image against itself.
    """

    model: MNISTClassifier
    test_accuracy: float
    n: int
    k: int
    real_test: torch.Tensor  # (n, F) features of the reference test images
    fid_floor: float
    reference_index: torch.Tensor  # (n,) indices into the test set
    floor_train_index: torch.Tensor  # (n,) indices into the training set
    real_train: torch.Tensor  # (n, F) features of the floor's training images

    def score(self, images: torch.Tensor | np.ndarray, labels: torch.Tensor | None = None, *,
              symmetric: bool = False, n: int | None = None) -> dict[str, float]:
        """``{"fid", "precision", "recall"}`` (+ ``"cond_accuracy"`` when ``labels`` are given) of the
        first ``n`` images; raises if fewer than ``n`` are passed, so all models are compared alike.

        ``n`` (default: the judge's ``n``) may be smaller, for a cheaper comparison *within* one experiment: the
        first ``n`` reference images are then the reference. Fréchet distances grow as ``n`` shrinks, so numbers
        at different ``n`` are not comparable (:meth:`floor` gives the floor at that ``n``).
        """
        n = self.n if n is None else n
        if not 0 < n <= self.n:
            raise ValueError(f"n must be between 1 and the judge's {self.n}; got {n}")
        x = to_unit(images, symmetric=symmetric)
        if len(x) < n:
            raise ValueError(f"score() needs at least {n} images (the fixed sample count); got {len(x)}")
        x = x[:n]
        fake, real = features(self.model, x), self.real_test[:n]
        precision, recall = precision_recall(real, fake, self.k)
        out = {"fid": frechet_distance(fake, real), "precision": precision, "recall": recall}
        if labels is not None:
            out["cond_accuracy"] = conditional_accuracy(self.model, x, torch.as_tensor(labels)[:n])
        return out

    def floor(self, n: int | None = None) -> float:
        """The real-vs-real Fréchet distance at sample count ``n`` (``fid_floor`` at the judge's ``n``)."""
        n = self.n if n is None else n
        return self.fid_floor if n == self.n else frechet_distance(self.real_train[:n], self.real_test[:n])

    def probe(self, n: int | None = None, *, split: str = "test", classes: Sequence[int] | None = None,
              seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """A random sample of ``n`` (default: the judge's ``n``) real images that the metrics have not used.

        ``split="test"``: test images outside the reference (the judge never trained on them);
        ``split="train"``: training images outside the floor's sample (the judge *did* train on them).
        ``classes`` keeps only those digits. Returns uint8 images ``(n, 28, 28)`` and labels ``(n,)``.
        """
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        n = self.n if n is None else n
        images, labels = load_mnist(split)
        used = self.reference_index if split == "test" else self.floor_train_index
        keep = torch.ones(len(images), dtype=torch.bool)
        keep[used] = False
        if classes is not None:
            keep &= torch.isin(labels, torch.as_tensor(list(classes)))
        pool = keep.nonzero().squeeze(1)
        if len(pool) < n:
            raise ValueError(f"only {len(pool)} unused {split} images match; asked for {n}")
        pick = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:n]]
        return images[pick], labels[pick]


def conditional_accuracy(model: MNISTClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` ``(N, 1, 28, 28)`` the classifier reads as the ``labels`` ``(N,)`` asked for."""
    return (predict(model, to_unit(images)) == labels.long()).float().mean().item()


def image_judge(profile: str | None = None, *, device: torch.device | None = None) -> ImageJudge:
    """Train or load the classifier and precompute the reference features and the FID floor."""
    prof = config.resolve_profile(profile)
    hp = config.component("mnist_classifier", prof)
    model, acc = train_classifier(prof, device=device)
    n = hp.eval_samples
    test_images, _ = load_mnist("test")
    train_images, _ = load_mnist("train")
    g = torch.Generator().manual_seed(0)
    reference = torch.randperm(len(test_images), generator=g)[:n]
    floor_train = torch.randperm(len(train_images), generator=g)[:n]
    real_test = features(model, to_unit(test_images[reference]))
    real_train = features(model, to_unit(train_images[floor_train]))
    return ImageJudge(model, acc, n, hp.k, real_test, frechet_distance(real_train, real_test), reference,
                      floor_train, real_train)


def save_samples(model_name: str, images: torch.Tensor | np.ndarray, labels: torch.Tensor | None = None, *,
                 symmetric: bool = False, notebook: str | None = None) -> Path:
    """Save samples for graders: ``build/artifacts/<notebook>/<model_name>.npz`` with ``images``
    uint8 ``(N, 28, 28)`` and, for conditional models, ``labels`` int64 ``(N,)``."""
    arrays = {"images": to_uint8(images, symmetric=symmetric)}
    if labels is not None:
        arrays["labels"] = torch.as_tensor(labels).long().numpy()
        if len(arrays["labels"]) != len(arrays["images"]):
            raise ValueError("labels and images must have the same length")
    path = artifact_dir(notebook) / f"{model_name}.npz"
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return path
