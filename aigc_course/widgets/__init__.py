"""Interactive demos for the notebooks (ipywidgets 7.7 and 8 alike).

Each demo is an ``update`` function that draws one picture and *returns its numbers*, plus a
builder that wires sliders to it with ``ipywidgets.interactive``. Without a frontend (papermill,
nbval, a plain script) the sliders do nothing visible, so notebooks also call ``update`` once
directly — and tests call it to check the numbers.

Chapter 03: :func:`pg_slider` moves the generator's density ``p_g`` (a Gaussian) against a fixed
two-bump ``p_data`` and shows the optimal discriminator ``D*``, the value ``V(D*, G)`` and the
Jensen–Shannon divergence, which satisfy ``V(D*, G) = -log 4 + 2 JSD(p_data || p_g)``.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import i18n

# The fixed data density of the p_g demo: an equal mixture of two Gaussians.
PG_DATA_MEANS: tuple[float, ...] = (-2.0, 2.0)
PG_DATA_STD: float = 0.5
PG_GRID: tuple[float, float, int] = (-8.0, 8.0, 4001)
"""(lo, hi, points) of the integration grid of the demo."""


def gaussian_pdf(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Density of N(mean, std²) at ``x`` (any shape, float64)."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (math.sqrt(2 * math.pi) * std)


def mixture_pdf(x: np.ndarray, means: tuple[float, ...] = PG_DATA_MEANS, std: float = PG_DATA_STD) -> np.ndarray:
    """Density of an equal mixture of N(m, std²) over ``means`` at ``x``."""
    return sum(gaussian_pdf(x, m, std) for m in means) / len(means)


def integrate(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoidal rule ``∫ y dx`` on the grid ``x`` ``(n,)`` (``y`` ``(n,)``)."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


def _xlogy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a · log b`` with the convention ``0 · log 0 = 0`` (also where ``b`` underflowed to 0 beside a
    subnormal ``a``, whose contribution is below rounding anyway)."""
    out = np.zeros_like(a, dtype=np.float64)
    mask = (a > 0) & (b > 0)
    out[mask] = a[mask] * np.log(b[mask])
    return out


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """``D*(x) = p_data / (p_data + p_g)`` pointwise (0.5 where both densities vanish)."""
    total = p_data + p_g
    return np.where(total > 0, p_data / np.where(total > 0, total, 1.0), 0.5)


def value_function(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """``V(D, G) = ∫ p_data log D + p_g log(1 - D) dx`` for a discriminator given on the grid ``x``."""
    return integrate(_xlogy(p_data, d) + _xlogy(p_g, 1.0 - d), x)


def value_at_optimum(p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """``V(D*, G)`` computed as ``∫ p_data log(p_data / (p_data + p_g)) + p_g log(p_g / (p_data + p_g)) dx``.

    The same number as ``value_function(optimal_discriminator(p_data, p_g), ...)``, but written with
    the ratios so that ``1 - D*`` never rounds to zero where ``p_g`` is tiny but positive.
    """
    total = p_data + p_g
    return integrate(_xlogy(p_data, p_data) + _xlogy(p_g, p_g) - _xlogy(total, total), x)


def jsd(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """Jensen–Shannon divergence (nats, in [0, log 2]) of densities ``p``, ``q`` on the grid ``x``."""
    m = 0.5 * (p + q)
    kl_pm = integrate(_xlogy(p, p) - _xlogy(p, m), x)
    kl_qm = integrate(_xlogy(q, q) - _xlogy(q, m), x)
    return 0.5 * (kl_pm + kl_qm)


def pg_update(mu_g: float = 0.0, sigma_g: float = 1.0, *, show: bool = True) -> dict[str, float]:
    """Draw ``p_data``, ``p_g = N(mu_g, sigma_g²)`` and ``D*``; return ``{"value", "jsd", "identity_gap"}``.

    ``value`` is V(D*, G), ``jsd`` is JSD(p_data || p_g), and ``identity_gap`` is
    ``value - (-log 4 + 2 jsd)`` (zero up to integration error). With ``show=False`` nothing is drawn.
    """
    if sigma_g <= 0:
        raise ValueError(f"sigma_g must be positive; got {sigma_g}")
    x = np.linspace(*PG_GRID)
    p_data = mixture_pdf(x)
    p_g = gaussian_pdf(x, mu_g, sigma_g)
    d_star = optimal_discriminator(p_data, p_g)
    value = value_at_optimum(p_data, p_g, x)
    div = jsd(p_data, p_g, x)
    result = {"value": value, "jsd": div, "identity_gap": value - (-math.log(4) + 2 * div)}
    if show:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.plot(x, p_data, label="$p_{data}$")
        ax.plot(x, p_g, label="$p_g$")
        ax.plot(x, d_star, "k--", label="$D^*(x)$")
        ax.axhline(0.5, color="gray", lw=0.5)
        ax.set_xlim(-6, 6)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("x")
        ax.set_title(f"V(D*, G) = {value:.4f}   JSD = {div:.4f}   (-log 4 + 2 JSD = {-math.log(4) + 2 * div:.4f})",
                     fontsize=9)
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        plt.show()
    return result


def pg_slider(mu_g: float = 0.0, sigma_g: float = 1.0):
    """Sliders for ``p_g``'s mean and standard deviation, redrawing :func:`pg_update` on release.

    Returns an ``ipywidgets.interactive`` (display it, or let Jupyter show it as a cell's value).
    Uses only ``interactive``, ``FloatSlider`` and ``Output`` (the latter inside ``interactive``),
    which behave the same in ipywidgets 7.7 and 8.
    """
    import ipywidgets as w

    def draw(mu_g: float, sigma_g: float) -> None:
        pg_update(mu_g, sigma_g, show=True)

    return w.interactive(
        draw,
        mu_g=w.FloatSlider(value=mu_g, min=-5.0, max=5.0, step=0.1, description=i18n.tr("mean of p_g"),
                           continuous_update=False, style={"description_width": "initial"}),
        sigma_g=w.FloatSlider(value=sigma_g, min=0.2, max=3.0, step=0.05, description=i18n.tr("std of p_g"),
                              continuous_update=False, style={"description_width": "initial"}),
    )


def wasserstein_1d(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """Wasserstein-1 ("earth mover's") distance of densities ``p``, ``q`` on the grid ``x``:
    ``∫ |F_p(x) − F_q(x)| dx`` with ``F`` the cumulative distribution functions."""
    x = np.asarray(x, dtype=np.float64)
    cdf = lambda d: np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(x))])
    return integrate(np.abs(cdf(np.asarray(p, dtype=np.float64)) - cdf(np.asarray(q, dtype=np.float64))), x)


def disjoint_support_scan(shifts: np.ndarray, std: float = 0.3) -> dict[str, np.ndarray]:
    """JSD and Wasserstein-1 between ``p_data = N(0, std²)`` and ``p_g = N(shift, std²)`` for each shift.

    Returns ``{"shift", "jsd", "w1", "jsd_slope", "w1_slope"}`` (arrays like ``shifts``; slopes by central
    differences): once the two bumps stop overlapping, the JSD sits at ``log 2`` and its slope — the signal an
    optimal discriminator gives the generator — vanishes, while W1 keeps growing like ``|shift|``.
    """
    x = np.linspace(-8.0, 8.0 + float(np.max(shifts)), 8001)
    p = gaussian_pdf(x, 0.0, std)
    shifts = np.asarray(shifts, dtype=np.float64)
    jsds = np.array([jsd(p, gaussian_pdf(x, s, std), x) for s in shifts])
    w1s = np.array([wasserstein_1d(p, gaussian_pdf(x, s, std), x) for s in shifts])
    return {"shift": shifts, "jsd": jsds, "w1": w1s, "jsd_slope": np.gradient(jsds, shifts),
            "w1_slope": np.gradient(w1s, shifts)}


def plot_disjoint_supports(scan: dict[str, np.ndarray], std: float = 0.3) -> None:
    """Two panels for :func:`disjoint_support_scan`: the densities at a few shifts, and JSD vs W1 with slopes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    x = np.linspace(-2, 1 + float(scan["shift"].max()), 800)
    axes[0].fill_between(x, gaussian_pdf(x, 0.0, std), alpha=0.35, label="$p_{data}$")
    for s in np.linspace(0.5, float(scan["shift"].max()), 4):
        axes[0].plot(x, gaussian_pdf(x, s, std), lw=1, label=f"$p_g$, shift {s:.1f}")
    axes[0].set(xlabel="x", ylabel="density", title="the generator's bump moves away")
    axes[0].legend(fontsize=7)
    ax = axes[1]
    ax.plot(scan["shift"], scan["jsd"], label="JSD (what an optimal D measures)")
    ax.plot(scan["shift"], scan["w1"], label="Wasserstein-1 distance")
    ax.plot(scan["shift"], scan["jsd_slope"], "C0:", label="slope of JSD")
    ax.plot(scan["shift"], scan["w1_slope"], "C1:", label="slope of W1")
    ax.axhline(math.log(2), color="gray", lw=0.6, ls="--", label="log 2")
    ax.set(xlabel="shift of $p_g$", ylabel="nats / distance", title="JSD saturates, W1 keeps pointing the way")
    ax.legend(fontsize=7)
    fig.tight_layout()
    plt.show()


# --------------------------------------------------------------------------------------------
# Chapter 05: sliders over a VAE's latent code
# --------------------------------------------------------------------------------------------
def vae_latent_update(model, z, *, show: bool = True, title: str | None = None):
    """Decode one latent vector ``z`` (``latent_dim`` numbers) with a VAE and draw the digit.

    ``model`` has ``decode(z (1, D)) → logits (1, 1, 28, 28)`` (e.g. :class:`~aigc_course.models.vae.ConvVAE`).
    Returns the pixel probabilities as a float tensor ``(28, 28)`` in [0, 1]; with ``show=False`` nothing is drawn.
    """
    import torch

    device = next(model.parameters()).device
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, -1).to(device)
    if z.shape[1] != model.latent_dim:
        raise ValueError(f"z has {z.shape[1]} numbers but the model's latent_dim is {model.latent_dim}")
    model.eval()
    with torch.no_grad():
        image = torch.sigmoid(model.decode(z))[0, 0].cpu()
    if show:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(2.6, 2.8))
        ax.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
        shown = ", ".join(f"{v:+.2f}" for v in z[0, :4].tolist()) + (", …" if z.shape[1] > 4 else "")
        ax.set_title(title or f"z = ({shown})", fontsize=8)
        fig.tight_layout()
        plt.show()
    return image


def vae_latent_sliders(model, base_z=None, dims=None, *, lim: float = 3.0):
    """Sliders over latent dimensions ``dims`` of ``model``; the others stay at ``base_z`` (default 0).

    ``dims`` defaults to the first ``min(latent_dim, 4)`` dimensions. Returns an ``ipywidgets.interactive``
    that redraws :func:`vae_latent_update` on release (``interactive`` + ``FloatSlider`` only: the same in
    ipywidgets 7.7 and 8).
    """
    import ipywidgets as w

    base = np.zeros(model.latent_dim, dtype=np.float32) if base_z is None else np.asarray(base_z, np.float32).copy()
    if base.shape != (model.latent_dim,):
        raise ValueError(f"base_z must have shape ({model.latent_dim},); got {base.shape}")
    dims = list(range(min(model.latent_dim, 4))) if dims is None else list(dims)

    def draw(**values: float) -> None:
        z = base.copy()
        for d in dims:
            z[d] = values[f"z{d}"]
        vae_latent_update(model, z, show=True)

    sliders = {
        f"z{d}": w.FloatSlider(value=float(base[d]), min=-lim, max=lim, step=0.05, description=f"z[{d}]",
                               continuous_update=False)
        for d in dims
    }
    return w.interactive(draw, **sliders)


# --------------------------------------------------------------------------------------------
# Chapter 07: a decoding playground for character language models
# --------------------------------------------------------------------------------------------
from ..core.config import torch_threads  # noqa: E402  (kept with the chapter-07 section)


def generate_text(model, vocab, prompt: str, length: int = 300, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, seed: int | None = 0) -> str:
    """Continue ``prompt`` by ``length`` characters with a character language model; returns only
    the new characters.

    ``model``: a :class:`~aigc_course.models.lm.CharLSTM` or :class:`~aigc_course.models.lm.GPT`;
    ``vocab``: its :class:`~aigc_course.models.lm.CharVocab`. ``temperature=0`` is greedy decoding;
    ``top_k`` / ``top_p`` restrict sampling to the k most likely characters / the nucleus of
    probability ``p``. Raises :class:`~aigc_course.models.lm.UnknownCharactersError` (naming them)
    when the prompt has characters outside the vocabulary.
    """
    import torch

    from ..models.lm import generate

    ids = vocab.encode(prompt)
    gen = torch.Generator(device=next(model.parameters()).device)
    if seed is None:
        gen.seed()  # a fresh, non-deterministic seed
    else:
        gen.manual_seed(int(seed))
    with torch_threads(1):
        out = generate(model, ids, length, temperature=temperature, top_k=top_k, top_p=top_p, generator=gen)
    return vocab.decode(out[len(ids):])


def decoding_update(model, vocab, prompt: str = "ROMEO:", temperature: float = 0.8, top_k: int = 0,
                    top_p: float = 1.0, length: int = 300, seed: int = 0, *, show: bool = True) -> str:
    """One turn of the playground: the prompt followed by its continuation, printed (``show``) and returned.

    Here ``top_k=0`` and ``top_p=1.0`` mean "no restriction" (the sliders cannot say ``None``). A prompt
    with characters outside the vocabulary (or an empty prompt) returns and prints a one-line
    ``"error: …"`` message that names the problem, instead of raising.
    """
    from ..models.lm import UnknownCharactersError

    try:
        if not prompt:
            raise ValueError("the prompt is empty: type at least one character")
        text = prompt + generate_text(model, vocab, prompt, length, temperature,
                                      top_k=int(top_k) or None, top_p=float(top_p) if top_p < 1.0 else None,
                                      seed=seed)
    except (UnknownCharactersError, ValueError) as exc:
        text = i18n.tr("error: {message}", message=exc)
    if show:
        print(text)
    return text


def decoding_playground(model, vocab, prompt: str = "ROMEO:", length: int = 300):
    """A prompt box and sliders (temperature, top-k, top-p, length, seed) with a *generate* button
    that prints :func:`decoding_update`'s text. Returns an ``ipywidgets.interactive`` (``manual``
    mode: generation runs on the button, not on every slider move; the same in ipywidgets 7.7 and 8)."""
    import ipywidgets as w

    style = {"description_width": "initial"}

    def draw(prompt: str, temperature: float, top_k: int, top_p: float, length: int, seed: int) -> None:
        decoding_update(model, vocab, prompt, temperature, top_k, top_p, length, seed, show=True)

    return w.interactive(
        draw,
        {"manual": True, "manual_name": i18n.tr("generate")},
        prompt=w.Text(value=prompt, description=i18n.tr("prompt"), style=style),
        temperature=w.FloatSlider(value=0.8, min=0.0, max=2.0, step=0.05,
                                  description=i18n.tr("temperature (0 = greedy)"), style=style),
        top_k=w.IntSlider(value=0, min=0, max=len(vocab), step=1, description=i18n.tr("top-k (0 = off)"),
                          style=style),
        top_p=w.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description=i18n.tr("top-p (1 = off)"),
                            style=style),
        length=w.IntSlider(value=length, min=20, max=1000, step=20, description=i18n.tr("characters"), style=style),
        seed=w.IntText(value=0, description=i18n.tr("seed"), style=style),
    )
