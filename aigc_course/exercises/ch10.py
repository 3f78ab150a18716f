"""Chapter 10 (text-to-speech): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..metrics import audio as audio_metrics
from ..models import audio as ac_audio
from ..models import speech_recognizer as sr
from ..models import tts
from . import Exercise, copying
from . import checkers as ex

# ---- 10.hz_to_mel (derive): the HTK mel scale ------------------------------------------------------------




def _mel_natural_log(f):
    return 2595.0 * torch.log(1.0 + f / 700.0)


def _mel_no_one(f):
    return 2595.0 * torch.log10(f / 700.0)


def _mel_inverse(f):
    return 700.0 * (10.0 ** (f / 2595.0) - 1.0)


_MEL_WRONG: list[tuple[Any, str]] = [(_mel_natural_log, "log base 10"), (_mel_no_one, "1 +"),
                                     (_mel_inverse, "inverse map")]


def _run_hz_to_mel(answer: Any) -> bool:
    cases = [(torch.tensor([0.0, 700.0, 1000.0, 4000.0]),), (torch.linspace(0, 8000, 9),)]
    return ex.check_function(
        "10.hz_to_mel", copying(answer), ac_audio.hz_to_mel, cases, rtol=1e-4,
        mistakes=[(_mel_natural_log, "Use log base 10 with 2595 (or the natural log with 1127 = 2595 / ln 10)."),
                  (_mel_no_one, "You dropped the 1 +: m(0) must be 0."),
                  (_mel_inverse, "That is the inverse map, mel → Hz.")],
        hint="m = 2595 · log10(1 + f / 700)")


# ---- 10.n_frames (derive): frames of a centred STFT -------------------------------------------------------


def _n_frames(n_samples: int, hop: int) -> int:
    return ac_audio.n_frames(n_samples, ac_audio.MelConfig(hop_length=hop))


def _frames_no_one(n, h):
    return n // h


def _frames_ceil(n, h):
    return math.ceil(n / h)


def _frames_uncentred(n, h):
    return (n - 512) // h + 1


_FRAMES_WRONG: list[tuple[Any, str]] = [(_frames_no_one, "1 + L // H"), (_frames_ceil, "Round down"),
                                        (_frames_uncentred, "without centring")]


def _run_n_frames(answer: Any) -> bool:
    return ex.check_function(
        "10.n_frames", answer, _n_frames, [(4000, 100), (4321, 100), (99, 100), (22050, 256), (512, 128)],
        mistakes=[(_frames_no_one, "Centred frames start at sample 0 *and* end at the last full hop: 1 + L // H."),
                  (_frames_ceil, "Round down and add one: frame t is centred on sample t·H ≤ L."),
                  (_frames_uncentred, "That is the count without centring (no padding).")],
        hint="frame t is centred on sample t·H, for every t with t·H ≤ L")


# ---- 10.ctc_collapse (implement): CTC's many-to-one map -----------------------------------------------------


def _as_tensor(fn: Any) -> Any:
    """A path function whose list result is compared as a float64 tensor."""
    def wrapped(path: list[int]) -> torch.Tensor:
        return torch.tensor(fn(list(path)), dtype=torch.float64)
    return wrapped


def _collapse_drop_then_merge(p):
    kept = [q for q in p if q != 0]
    return [k for i, k in enumerate(kept) if i == 0 or k != kept[i - 1]]


def _collapse_no_merge(p):
    return [q for q in p if q != 0]


def _collapse_keep_blanks(p):
    return [q for i, q in enumerate(p) if i == 0 or q != p[i - 1]]


def _collapse_unique(p):
    return list(dict.fromkeys(q for q in p if q != 0))


def _collapse_wraps(p):
    return [q for i, q in enumerate(p) if q != 0 and q != p[i - 1]]


_COLLAPSE_WRONG: list[tuple[Any, str]] = [
    (_collapse_drop_then_merge, "Order matters"), (_collapse_no_merge, "merge repeated"),
    (_collapse_keep_blanks, "kept the blanks"), (_collapse_unique, "adjacent"), (_collapse_wraps, "negative index"),
]


def _run_ctc_collapse(answer: Any) -> bool:
    if answer is None or answer is Ellipsis:
        return ex.check_function("10.ctc_collapse", answer, sr.ctc_collapse, [])
    cases = [([1, 1, 0, 1, 2, 2],), ([0, 0, 3],), ([4, 0, 4, 4, 0],), ([5, 5, 5],), ([],), ([1, 2, 1, 0],)]
    return ex.check_function(
        "10.ctc_collapse", _as_tensor(answer), _as_tensor(sr.ctc_collapse), cases,
        mistakes=[(_as_tensor(_collapse_drop_then_merge),
                   "Order matters: merge repeats *first*, then drop blanks — otherwise 1 ∅ 1 becomes 1 instead of "
                   "1 1."),
                  (_as_tensor(_collapse_no_merge), "Also merge repeated labels."),
                  (_as_tensor(_collapse_keep_blanks), "You merged the repeats but kept the blanks: drop every 0 after "
                                                      "merging."),
                  (_as_tensor(_collapse_unique), "You kept each label only once in the whole path: merge only "
                                                 "*adjacent* repeats (1 2 1 stays 1 2 1)."),
                  (_as_tensor(_collapse_wraps), "The first label is compared with p[-1], the *last* one (Python's "
                                                "negative index): [5, 5, 5] loses everything. Treat position 0 "
                                                "separately (i == 0 or ...).")],
        hint="keep p[i] when it is not 0 and differs from p[i − 1] (position 0: only the blank test)")


# ---- 10.ctc_greedy (implement): greedy CTC decoding of a padded batch ---------------------------------------


def _digit_codes(out: Any, steps: int) -> np.ndarray:
    """A list of digit strings as a ``(B, steps)`` float array (−1 after each string's end), so that results can
    be compared elementwise; anything else raises ``TypeError`` with the expected form."""
    if not isinstance(out, (list, tuple)) or not all(isinstance(s, str) for s in out):
        raise TypeError(f"return a list of digit strings, one per utterance (like ['381', '']), not "
                        f"{type(out).__name__}")
    codes = np.full((len(out), steps), -1.0)
    for i, s in enumerate(out):
        if len(s) > steps or not all(c in "0123456789" for c in s):
            raise TypeError(f"utterance {i}: {s!r} is not a string of at most {steps} digits")
        codes[i, : len(s)] = [int(c) for c in s]
    return codes


def _as_codes(fn: Any) -> Any:
    def wrapped(log_probs: torch.Tensor, lengths: torch.Tensor) -> np.ndarray:
        return _digit_codes(fn(log_probs.clone(), lengths.clone()), 2 * log_probs.shape[1])
    return wrapped


def _path_log_probs(paths: Sequence[Sequence[int]], steps: int) -> torch.Tensor:
    """``(B, steps, 11)`` log-probabilities whose argmax follows each path (padded with random labels)."""
    g = torch.Generator().manual_seed(1010)
    z = torch.randn(len(paths), steps, sr.N_LABELS, generator=g)
    for b, path in enumerate(paths):
        for t, label in enumerate(path):
            z[b, t, label] += 8.0
    return z.log_softmax(-1)


def _greedy_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded random batches (blank made likely) with random valid lengths — the padded frames after each length
    hold random labels — and edge cases: an all-blank utterance, a digit repeated across a blank (1 ∅ 1), a
    one-frame utterance, a path that ends on a repeated digit, and a full-length batch of one."""
    g = torch.Generator().manual_seed(10)
    cases = []
    for b, t in ((4, 12), (6, 20), (3, 7)):
        z = torch.randn(b, t, sr.N_LABELS, generator=g)
        z[..., sr.BLANK] += 1.0
        lengths = torch.randint(1, t + 1, (b,), generator=g)
        lengths[0] = t
        cases.append((z.log_softmax(-1), lengths))
    paths = [[0, 0, 0, 0, 0, 0], [2, 2, 0, 2, 5, 5], [7], [4, 0, 9, 9, 9, 0]]
    cases.append((_path_log_probs(paths, 8), torch.tensor([6, 6, 1, 6])))
    cases.append((_path_log_probs([[3, 3, 0, 3, 1, 1, 0, 10]], 8), torch.tensor([8])))
    return cases[::-1]  # the small hand-made cases first: a failure shows a readable one


def _greedy_ignores_lengths(log_probs, lengths):
    return sr.ctc_greedy_decode(log_probs, None)


def _greedy_drop_then_merge(log_probs, lengths):
    best = log_probs.argmax(-1)
    return ["".join(str(k - 1) for k in _collapse_drop_then_merge(b[: int(n)].tolist()))
            for b, n in zip(best, lengths)]


def _greedy_label_is_digit(log_probs, lengths):
    best = log_probs.argmax(-1)
    return ["".join(str(k) for k in sr.ctc_collapse(b[: int(n)].tolist())) for b, n in zip(best, lengths)]


def _greedy_no_merge(log_probs, lengths):
    best = log_probs.argmax(-1)
    return ["".join(str(k - 1) for k in b[: int(n)].tolist() if k != 0) for b, n in zip(best, lengths)]


_GREEDY_WRONG: list[tuple[Any, str]] = [
    (_greedy_ignores_lengths, "padding"), (_greedy_drop_then_merge, "merge repeats first"),
    (_greedy_label_is_digit, "d + 1"), (_greedy_no_merge, "repeated"),
]


def _run_ctc_greedy(answer: Any) -> bool:
    if answer is None or answer is Ellipsis:
        return ex.check_function("10.ctc_greedy", answer, sr.ctc_greedy_decode, [])
    return ex.check_function(
        "10.ctc_greedy", _as_codes(answer), _as_codes(sr.ctc_greedy_decode), _greedy_cases(), atol=0, rtol=0,
        mistakes=[(_as_codes(_greedy_ignores_lengths),
                   "You decoded the padding too: frames at t ≥ lengths[b] belong to no utterance (their argmax is "
                   "noise). Cut each row to best[b, :lengths[b]] before collapsing."),
                  (_as_codes(_greedy_drop_then_merge),
                   "You dropped the blanks before merging: 2 ∅ 2 (the digit 1 said twice) became a single 1. "
                   "Collapse the best path as CTC does: merge repeats first, then drop the blanks."),
                  (_as_codes(_greedy_label_is_digit),
                   "Labels are not digits: label 0 is the blank and digit d is label d + 1 (sr.digits_to_labels), so "
                   "write str(label − 1)."),
                  (_as_codes(_greedy_no_merge),
                   "A digit spoken for several frames repeats its label on each of them: merge adjacent repeated "
                   "labels (then drop the blanks), e.g. with sr.ctc_collapse.")],
        hint="best = log_probs.argmax(-1) (B, T); for each row keep best[b, :lengths[b]], collapse it, and write "
             "each label as the digit label − 1")


# ---- 10.der (derive): the digit error rate of one pair ------------------------------------------------------


def _der(hyp: str, ref: str) -> float:
    return audio_metrics.digit_error_rate(hyp, ref)


def _der_by_hyp(h, r):
    return audio_metrics.edit_distance(h, r) / max(len(h), 1)


def _der_positions(h, r):
    return sum(a != b for a, b in zip(h, r)) / len(r)


def _der_sentence(h, r):
    return float(h != r)


_DER_WRONG: list[tuple[Any, str]] = [(_der_by_hyp, "reference"), (_der_positions, "position by position"),
                                     (_der_sentence, "sentence error rate")]


def _run_der(answer: Any) -> bool:
    cases = [("381", "381"), ("391", "381"), ("31", "381"), ("3811", "381"), ("", "42"), ("123", "321"), ("7", "77")]
    return ex.check_function(
        "10.der", answer, _der, cases,
        mistakes=[(_der_by_hyp, "Divide by the *reference* length."),
                  (_der_positions, "Comparing position by position misses insertions and deletions: use the edit "
                                   "distance."),
                  (_der_sentence, "That is the sentence error rate; the DER counts digit edits.")],
        hint="edit distance (substitutions + insertions + deletions) / len(reference)")


# ---- 10.guided_attention (implement): Tachibana et al.'s guided-attention loss --------------------------------


def _ga_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    """Seeded random alignments ``(B, S, N)`` (softmax over all N characters, so padded cells hold attention)
    with random valid lengths, two widths g, and edge cases: a batch of one at full length that follows the
    diagonal, and an utterance of one character read for one step (W = 0 there)."""
    g = torch.Generator().manual_seed(1011)
    cases = []
    for b, s, n, width in ((3, 10, 6, 0.2), (4, 16, 9, 0.4), (2, 7, 5, 0.2)):
        a = torch.randn(b, s, n, generator=g).mul(2).softmax(-1)
        text_lengths = torch.randint(1, n + 1, (b,), generator=g)
        step_lengths = torch.randint(1, s + 1, (b,), generator=g)
        text_lengths[0], step_lengths[0] = n, s
        cases.append((a, text_lengths, step_lengths, width))
    diag = torch.zeros(1, 12, 6)
    diag[0, torch.arange(12), torch.arange(12) // 2] = 1.0
    cases.append((diag, torch.tensor([6]), torch.tensor([12]), 0.2))
    tiny = torch.rand(2, 3, 4, generator=g)
    cases.append((tiny, torch.tensor([1, 4]), torch.tensor([1, 3]), 0.2))
    return cases[::-1]  # the small hand-made cases first: a failure shows a readable one


def _valid_mask(text_lengths: torch.Tensor, step_lengths: torch.Tensor, s: int, n: int) -> torch.Tensor:
    return ((torch.arange(s)[None, :, None] < step_lengths[:, None, None])
            & (torch.arange(n)[None, None, :] < text_lengths[:, None, None]))


def _ga_weights(nt: int, st: int, s: int, n: int, g: float) -> torch.Tensor:
    """The penalty for an utterance of ``nt`` characters and ``st`` steps, evaluated on the whole (s, n) grid."""
    t = torch.arange(s, dtype=torch.float32)[:, None] / st
    c = torch.arange(n, dtype=torch.float32)[None, :] / nt
    return 1.0 - torch.exp(-((c - t) ** 2) / (2 * g * g))


def _ga_padded_sizes(a, tl, sl, g):
    b, s, n = a.shape
    w = _ga_weights(n, s, s, n, g).expand(b, s, n)
    mask = _valid_mask(tl, sl, s, n)
    return (a * w * mask).sum() / mask.sum()


def _ga_mean_all(a, tl, sl, g):
    b, s, n = a.shape
    w = torch.zeros_like(a)
    for i, (nt, st) in enumerate(zip(tl.tolist(), sl.tolist())):
        w[i, :st, :nt] = tts.guided_attention_weights(nt, st, g)
    return (a * w).mean()


def _ga_no_mask(a, tl, sl, g):
    b, s, n = a.shape
    w = torch.stack([_ga_weights(nt, st, s, n, g) for nt, st in zip(tl.tolist(), sl.tolist())])
    return (a * w).sum() / _valid_mask(tl, sl, s, n).sum()


def _ga_no_one_minus(a, tl, sl, g):
    b, s, n = a.shape
    w = torch.stack([1.0 - _ga_weights(nt, st, s, n, g) for nt, st in zip(tl.tolist(), sl.tolist())])
    mask = _valid_mask(tl, sl, s, n)
    return (a * w * mask).sum() / mask.sum()


def _ga_width_not_squared(a, tl, sl, g):
    b, s, n = a.shape
    w = torch.stack([_ga_weights(nt, st, s, n, math.sqrt(g)) for nt, st in zip(tl.tolist(), sl.tolist())])  # 2g
    mask = _valid_mask(tl, sl, s, n)
    return (a * w * mask).sum() / mask.sum()


_GA_WRONG: list[tuple[Any, str]] = [
    (_ga_padded_sizes, "own lengths"), (_ga_mean_all, "number of valid"), (_ga_no_mask, "padding"),
    (_ga_no_one_minus, "1 − exp"), (_ga_width_not_squared, "2g²"),
]


def _run_guided_attention(answer: Any) -> bool:
    return ex.check_function(
        "10.guided_attention", copying(answer), tts.guided_attention_loss, _ga_cases(), atol=1e-6, rtol=1e-4,
        mistakes=[(_ga_padded_sizes, "Each utterance has its own diagonal: normalise by its own lengths, j / N_b and "
                                     "i / S_b (text_lengths[b], step_lengths[b]), not by the padded sizes of the "
                                     "batch."),
                  (_ga_mean_all, "Divide by the number of valid (step, character) cells, Σ_b S_b·N_b, not by all "
                                 "B·S·N cells of the padded tensor — else the loss shrinks as the padding grows."),
                  (_ga_no_mask, "Cells in the padding (step ≥ S_b or character ≥ N_b) must not count: give them "
                                "the weight 0 (build W only on the valid block, or multiply by a mask)."),
                  (_ga_no_one_minus, "The penalty is W = 1 − exp(−(j/N − i/S)² / 2g²): 0 on the diagonal, near 1 "
                                     "far from it. Without the 1 − you reward staying *off* the diagonal."),
                  (_ga_width_not_squared, "The width enters squared: divide (j/N − i/S)² by 2g² = 2·g·g (write "
                                          "2 * g**2, not 2 * g), else the band around the diagonal is far too wide.")],
        hint="for every utterance b: W (S_b, N_b) with W[i, j] = 1 − exp(−(j/N_b − i/S_b)² / (2g²)); add "
             "(alignments[b, :S_b, :N_b] * W).sum() over b, divide by Σ_b S_b·N_b")


# ---- 10.stop_token (concept): what ends synthesis ----------------------------------------------------------

_STOP_NAME = 'Right output — answer with the listed name: "attention", "stop token" or "postnet".'
_STOP_WRONG = [("attention", "*what* to read"), ("postnet", "refines"), ("stop", "listed name")]


def _run_stop_token(answer: Any) -> bool:
    return ex.check_choice(
        "10.stop_token", answer, "stop token",
        mistakes={"attention": "The attention decides *what* to read; ending the utterance is the stop token's job "
                               "(a lost attention often makes it fail, though).",
                  "postnet": "The postnet only refines the mel frames that were generated; it cannot end decoding.",
                  "vocoder": "The vocoder turns the mel frames it is given into a waveform; how many frames there "
                             "are is decided earlier, in the decoder loop.",
                  "stop": _STOP_NAME, "stop_token": _STOP_NAME},
        hint="See 'Synthesis: stop token and reached max decoder steps' in §6.")


# ---- 10.gl_momentum (experiment): classic Griffin-Lim instead of the fast one ------------------------------

GL_MOMENTUM_BAND = 0.002  # the check accepts the figure within ± this of what the clips give


def _gl_figures(clips: Sequence[np.ndarray], cfg: ac_audio.MelConfig, n_iter: int, momentum: float
                ) -> dict[str, float]:
    """Spectral convergence of Griffin-Lim from each clip's log-mel: mean over the clips without momentum
    (classic Griffin-Lim), with the chapter's momentum, with the arguments of the measure swapped, and of the
    first clip alone."""
    def scores(m: float) -> list[tuple[float, float]]:
        out = []
        for a in clips:
            ref = ac_audio.stft_magnitude(a, cfg)
            rec = ac_audio.stft_magnitude(ac_audio.griffin_lim(ac_audio.log_mel(a, cfg), cfg, n_iter=n_iter,
                                                               momentum=m), cfg)
            out.append((ac_audio.spectral_convergence(ref, rec), ac_audio.spectral_convergence(rec, ref)))
        return out

    classic, fast = scores(0.0), scores(momentum)
    return {"classic": float(np.mean([s for s, _ in classic])), "fast": float(np.mean([s for s, _ in fast])),
            "swapped": float(np.mean([s for _, s in classic])), "first_clip": classic[0][0]}


def _gl_wrong(clips, cfg, n_iter, momentum) -> list[tuple[float, str]]:
    f = _gl_figures(clips, cfg, n_iter, momentum)
    return [(f["fast"], "unchanged"), (f["swapped"], "swapped"), (f["first_clip"], "first clip")]


def _run_gl_momentum(answer: Any, *, clips: Sequence[np.ndarray], cfg: ac_audio.MelConfig, n_iter: int,
                     momentum: float) -> bool:
    f = _gl_figures(clips, cfg, n_iter, momentum)
    return ex.check_value(
        "10.gl_momentum", answer, f["classic"], atol=GL_MOMENTUM_BAND, rtol=0.0,
        mistakes=[(f["fast"], f"That is the unchanged figure, with momentum {momentum}; run ac_audio.griffin_lim "
                              "with momentum=0.0 (classic Griffin-Lim)."),
                  (f["swapped"], "The reference and the estimate are swapped: spectral_convergence(reference, "
                                 "estimate) divides by the norm of the *recording's* magnitudes."),
                  (f["first_clip"], "That is the first clip alone; report the mean over all the clips of `scan`.")],
        hint=f"accepted within ±{GL_MOMENTUM_BAND} of the mean spectral convergence over the clips")


def test_context() -> dict[str, object]:
    """What the experiment check needs, built from the data mirror as the notebook builds it (smoke profile:
    two clips, four iterations)."""
    from ..core import config
    from ..datasets.audio import load_fsdd

    hp = config.chapter("10_text_to_speech").hparams("smoke")
    scan = [ac_audio.peak_normalize(c.audio) for c in load_fsdd("test") if c.speaker == hp.speaker][: hp.scan_clips]
    return {"clips": scan, "cfg": sr.judge_mel_config(hp), "n_iter": hp.gl_iters, "momentum": hp.gl_momentum}


EXERCISES: list[Exercise] = [
    Exercise("10.hz_to_mel", "derive", 1, "the mel scale", _run_hz_to_mel, lambda: ac_audio.hz_to_mel,
             hint="HTK: m = 2595 · log10(1 + f / 700); m(700 Hz) = 2595 · log10(2).", wrong=_MEL_WRONG),
    Exercise("10.n_frames", "derive", 1, "frames of a centred STFT", _run_n_frames, lambda: _n_frames,
             hint="Centring pads n_fft // 2 on each side, so frame t is centred on sample t·H: count the t with "
                  "t·H ≤ L.", wrong=_FRAMES_WRONG),
    Exercise("10.gl_momentum", "experiment", 2, "classic Griffin-Lim instead of the fast one", _run_gl_momentum,
             lambda clips, cfg, n_iter, momentum: _gl_figures(clips, cfg, n_iter, momentum)["classic"],
             hint="Copy the inner loop of §1's scan with c_scan = cfg, n_iter = hp.gl_iters and momentum=0.0, and "
                  "average the spectral convergence over the clips of `scan`.", wrong=_gl_wrong),
    Exercise("10.ctc_collapse", "implement", 1, "CTC's collapse", _run_ctc_collapse, lambda: sr.ctc_collapse,
             hint="Walk the path once, remembering the previous label: keep a label when it is not the blank and "
                  "differs from the previous one (a blank in between resets the repeat).", wrong=_COLLAPSE_WRONG),
    Exercise("10.ctc_greedy", "implement", 2, "greedy CTC decoding of a padded batch", _run_ctc_greedy,
             lambda: sr.ctc_greedy_decode,
             hint="best = log_probs.argmax(-1) gives (B, T) labels. Row b is valid up to lengths[b]: cut it, merge "
                  "adjacent repeats, drop the blanks (0), and turn label k into the digit k − 1.",
             wrong=_GREEDY_WRONG),
    Exercise("10.der", "derive", 1, "the digit error rate", _run_der, lambda: _der,
             hint="DER = edit distance / number of reference digits (it can exceed 1).", wrong=_DER_WRONG),
    Exercise("10.guided_attention", "implement", 2, "the guided-attention loss", _run_guided_attention,
             lambda: tts.guided_attention_loss,
             hint="Loop over the batch: for utterance b only the block alignments[b, :S_b, :N_b] is valid. Build "
                  "W[i, j] = 1 − exp(−(j/N_b − i/S_b)² / (2g²)) on that block with aranges, add (block * W).sum(), "
                  "and divide the total by the number of valid cells Σ_b S_b·N_b.", wrong=_GA_WRONG),
    Exercise("10.stop_token", "concept", 1, "what ends synthesis", _run_stop_token, lambda: "stop token",
             hint="Which output of the decoder is a probability that this step was the last one?", wrong=_STOP_WRONG),
]
