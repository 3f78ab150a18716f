"""The text-to-speech demo of chapter 10: type digits, hear the speech, see the alignment.

:func:`synthesize` is the plain function behind it (tested, and called directly by the notebook so the
result is visible without a live kernel): text → normalised text → model → log-mel → waveform (the GAN
vocoder if given, else Griffin-Lim) → optionally the judge's transcript. :func:`tts_demo` wraps it in
ipywidgets: a text box, a button, and an output area with a player, the mel and the alignment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..core import i18n
from ..models import audio as ac_audio
from ..models import tts


def duration_alignment(durations: torch.Tensor) -> torch.Tensor:
    """The hard alignment a duration model implies: ``(N,)`` frames per character → one-hot ``(T, N)``."""
    d = durations.long().cpu()
    rows = torch.repeat_interleave(torch.arange(len(d)), d)
    return torch.nn.functional.one_hot(rows, len(d)).float()


def synthesize(
    text: str,
    model: tts.Tacotron | tts.DurationTTS,
    cfg: ac_audio.MelConfig,
    *,
    vocoder: torch.nn.Module | None = None,
    judge: Any = None,
    max_digits: int = 8,
    max_decoder_steps: int = 250,
    griffin_lim_iters: int = 32,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Speak ``text`` (digits or digit words; see :func:`aigc_course.models.tts.normalize_text`).

    Returns ``{"text": normalised text, "digits": "381", "audio": float32 (samples,), "mel": (n_mels, T),
    "alignment": (steps, N + 1)`` — attention weights of a Tacotron (one row per decoder step), or the hard
    alignment of a duration model (one row per frame) — ``"alignment_rows": "decoder step" | "frame",
    "reached_max": bool, "vocoder": "gan" | "griffin-lim",
    "recognised": the judge's digits or None}``. Raises :class:`~aigc_course.models.tts.UnsupportedTextError`
    for text it cannot say and ``ValueError`` for more than ``max_digits`` digits. ``seed`` fixes the prenet
    dropout of a Tacotron (``None`` = a different rendition every call).
    """
    normalized = tts.normalize_text(text)
    digits = tts.text_to_digits(normalized)
    if len(digits) > max_digits:
        raise ValueError(f"{len(digits)} digits is too long for this demo (at most {max_digits}); the models were "
                         "trained on 1-4 digits")
    device = next(model.parameters()).device
    ids = tts.encode_text(normalized).to(device)
    if seed is not None:
        torch.manual_seed(seed)
    reached_max = False
    if isinstance(model, tts.Tacotron):
        out = model.infer(ids, max_decoder_steps=max_decoder_steps)
        mel, alignment, reached_max = out["mel"], out["alignment"], bool(out["reached_max"])
        rows = "decoder step"
    else:
        out = model.infer(ids)
        mel, alignment = out["mel"], duration_alignment(out["durations"])
        rows = "frame"
    mel = mel.detach().cpu()
    if vocoder is not None:
        vocoder.eval()
        with torch.no_grad():
            wav = vocoder(mel[None].to(next(vocoder.parameters()).device))[0, 0].cpu().numpy()
        kind = "gan"
    else:
        wav = ac_audio.griffin_lim(mel, cfg, n_iter=griffin_lim_iters).numpy()
        kind = "griffin-lim"
    recognised = judge.transcribe([wav])[0] if judge is not None else None
    return {"text": normalized, "digits": digits, "audio": wav.astype(np.float32), "mel": mel,
            "alignment": alignment.detach().cpu(), "alignment_rows": rows, "reached_max": reached_max, "vocoder": kind,
            "recognised": recognised}


def show_synthesis(result: dict[str, Any], cfg: ac_audio.MelConfig, *, show: bool = True):
    """Draw the mel and the alignment of a :func:`synthesize` result and show a player; with ``show=False``
    nothing is displayed and ``(player, figure)`` is returned."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [3, 2]})
    mel = result["mel"].numpy()
    im = axes[0].imshow(mel, origin="lower", aspect="auto", cmap="magma",
                        extent=(0, mel.shape[1] * cfg.hop_length / cfg.sample_rate, 0, mel.shape[0]))
    fig.colorbar(im, ax=axes[0], label="log-mel")
    axes[0].set_xlabel("time (s)")
    axes[0].set_ylabel("mel band")
    heard = f" · judge hears {result['recognised']!r}" if result["recognised"] is not None else ""
    axes[0].set_title(f"{result['text']!r} ({result['vocoder']}){heard}", fontsize=9)
    axes[1].imshow(result["alignment"].T.numpy(), origin="lower", aspect="auto", cmap="viridis",
                   interpolation="nearest")
    axes[1].set_yticks(range(len(result["text"]) + 1), list(result["text"]) + ["~"], fontsize=6)
    axes[1].set_xlabel(result["alignment_rows"])
    axes[1].set_title("alignment" + ("  (reached max decoder steps!)" if result["reached_max"] else ""), fontsize=9)
    fig.tight_layout()
    player = ac_audio.play(result["audio"], cfg.sample_rate)
    if show:
        from IPython.display import display

        plt.show()
        display(player)
        return None
    return player, fig


def tts_demo(model: tts.Tacotron | tts.DurationTTS, cfg: ac_audio.MelConfig, *, vocoder: torch.nn.Module | None = None,
             judge: Any = None, default: str = "2024", **kwargs: Any):
    """An ipywidgets UI: type digits, press *Speak*, hear the result and see its mel and alignment.

    ``kwargs`` go to :func:`synthesize`. Errors (unsupported characters, too many digits) are shown in the
    output area. Returns the widget box (a notebook cell that ends with it shows it).
    """
    import ipywidgets as w

    box = w.Text(value=default, description=i18n.tr("digits:"), placeholder=i18n.tr("e.g. 381 or three eight one"))
    use_gan = w.Checkbox(value=False, description=i18n.tr("GAN vocoder"), disabled=vocoder is None)
    button = w.Button(description=i18n.tr("Speak"), button_style="primary")
    out = w.Output()

    def speak(_: Any = None) -> None:
        out.clear_output(wait=True)
        with out:
            try:
                result = synthesize(box.value, model, cfg, vocoder=vocoder if use_gan.value else None, judge=judge,
                                    **kwargs)
            except ValueError as exc:  # UnsupportedTextError is a ValueError
                print(f"⚠️ {i18n.translate(str(exc))}")
                return
            show_synthesis(result, cfg)

    button.on_click(speak)
    return w.VBox([w.HBox([box, use_gan, button]), out])


__all__ = ["duration_alignment", "synthesize", "show_synthesis", "tts_demo"]
