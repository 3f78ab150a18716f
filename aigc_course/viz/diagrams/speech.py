"""Schematic diagrams of chapter 10 (text-to-speech): the Tacotron encoder–attention–decoder loop and the
two-stage TTS pipeline with its judge. Each function draws one figure on a 16 × 9 canvas
(:mod:`aigc_course.viz.diagrams.draw`); ``show=True`` displays it, ``show=False`` returns it."""

from __future__ import annotations

from matplotlib.figure import Figure

from .draw import arrow, box, canvas, finish, label, op


def tacotron(show: bool = True) -> Figure | None:
    """Tacotron as the chapter builds it: a character encoder gives a memory h₁…h_N; at every decoder step the
    previous frame goes through the prenet and the attention LSTM (query sᵢ), location-sensitive attention
    reads the memory where the previous weights point, and the decoder LSTM emits r mel frames and a stop
    probability; a postnet refines the whole mel."""
    fig, ax = canvas(title="Tacotron: encoder → location-sensitive attention → autoregressive decoder")
    text = box(ax, 1.6, 1.2, "characters\n'two one~'", w=2.6, h=1.1, role="input")
    enc = box(ax, 1.6, 3.4, "encoder\nembed · 3 conv\n· BiLSTM", w=2.6, h=1.6)
    mem = box(ax, 1.6, 6.3, "memory\nh₁ … h_N", w=2.6, h=1.1, role="memory")
    arrow(ax, text.side("top"), enc.side("bottom"))
    arrow(ax, enc.side("top"), mem.side("bottom"))

    att = box(ax, 6.0, 6.3, "location-sensitive\nattention  αᵢ", w=3.2, h=1.3)
    arrow(ax, mem.side("right"), att.side("left"), text="h_j")
    prev = box(ax, 6.0, 1.2, "previous frame\n(real in training)", w=3.2, h=1.1, role="input")
    prenet = box(ax, 6.0, 2.75, "prenet\n(dropout always on)", w=3.2, h=1.1)
    alstm = box(ax, 6.0, 4.3, "attention LSTM → sᵢ", w=3.2, h=0.9)
    arrow(ax, prev.side("top"), prenet.side("bottom"))
    arrow(ax, prenet.side("top"), alstm.side("bottom"))
    arrow(ax, alstm.side("top"), att.side("bottom"), text="query sᵢ")
    loc = box(ax, 6.0, 8.2, "αᵢ₋₁ and Σαₖ → conv F\n(where it was)", w=3.6, h=1.0, role="memory")
    arrow(ax, loc.side("bottom"), att.side("top"))

    ctx = op(ax, 10.0, 6.3, "Σ")
    arrow(ax, att.side("right"), ctx.side("left"), text="αᵢⱼ")
    label(ax, 10.0, 7.05, "cᵢ = Σⱼ αᵢⱼ hⱼ", fontsize=11)
    dlstm = box(ax, 10.0, 4.3, "decoder LSTM\n[sᵢ; cᵢ]", w=2.6, h=1.2)
    arrow(ax, ctx.side("bottom"), dlstm.side("top"))
    arrow(ax, alstm.side("right"), dlstm.side("left"), text="sᵢ")

    frames = box(ax, 13.6, 5.3, "r mel frames", w=2.8, h=0.9, role="output")
    stop = box(ax, 13.6, 3.6, "stop probability", w=2.8, h=0.9, role="output")
    post = box(ax, 13.6, 7.4, "postnet\n(residual conv)", w=2.8, h=1.1)
    arrow(ax, dlstm.side("right"), frames.side("left"))
    arrow(ax, dlstm.side("right"), stop.side("left"))
    arrow(ax, frames.side("top"), post.side("bottom"), text="whole mel")
    arrow(ax, frames.side("bottom"), (8.0, 1.2), rad=-0.25, dashed=True)
    label(ax, 11.0, 1.2, "last frame fed back\n(own output at synthesis)", fontsize=11)
    arrow(ax, (8.0, 1.2), prev.side("right"), dashed=True)
    label(ax, 13.6, 2.5, "> 0.5: stop\n(or max decoder steps)", fontsize=11)
    return finish(fig, show)


def tts_pipeline(show: bool = True) -> Figure | None:
    """The chapter's systems and how they are scored: text → acoustic model (duration model or Tacotron) →
    log-mel → Griffin-Lim or GAN vocoder → waveform → the judge (a recogniser that never heard the TTS
    speaker) → digit error rate against the text."""
    fig, ax = canvas(title="Two-stage TTS, and the judge that scores it")
    text = box(ax, 1.5, 4.5, "digits\n'381'", w=2.2, h=1.2, role="input")
    norm = box(ax, 4.3, 4.5, "normalise\n'three eight one'", w=2.6, h=1.2)
    dur = box(ax, 7.6, 6.0, "duration model\n(FastSpeech-style)", w=3.0, h=1.1, role="param")
    taco = box(ax, 7.6, 3.0, "Tacotron\n(learns to align)", w=3.0, h=1.1, role="param")
    mel = box(ax, 10.4, 4.5, "log-mel\n64 × T", w=2.0, h=1.2, role="memory")
    gl = box(ax, 13.0, 6.0, "Griffin-Lim", w=2.4, h=0.9)
    voc = box(ax, 13.0, 3.0, "GAN vocoder", w=2.4, h=0.9, role="param")
    wav = box(ax, 13.0, 1.2, "waveform", w=2.4, h=0.8, role="output")
    judge = box(ax, 8.6, 1.0, "judge: CTC recogniser\n(other speakers only)", w=3.6, h=1.2, role="neutral")
    der = box(ax, 4.3, 1.0, "digit error rate\nvs '381'", w=2.8, h=1.2, role="output")
    arrow(ax, text.side("right"), norm.side("left"))
    arrow(ax, norm.side("right"), dur.side("left"))
    arrow(ax, norm.side("right"), taco.side("left"))
    arrow(ax, dur.side("right"), mel.side("left"))
    arrow(ax, taco.side("right"), mel.side("left"))
    arrow(ax, mel.side("right"), gl.side("left"))
    arrow(ax, mel.side("right"), voc.side("left"))
    arrow(ax, gl.side("right"), wav.side("right"), rad=-0.6)
    arrow(ax, voc.side("bottom"), wav.side("top"))
    arrow(ax, wav.side("left"), judge.side("right"))
    arrow(ax, judge.side("left"), der.side("right"), text="'391'")
    label(ax, 7.6, 8.2, "acoustic model: text → mel", fontsize=12)
    label(ax, 13.0, 7.7, "vocoder: mel → audio", fontsize=12)
    return finish(fig, show)


__all__ = ["tacotron", "tts_pipeline"]
