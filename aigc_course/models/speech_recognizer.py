"""The judge of chapter 10: a spoken-digit recogniser trained with CTC on real FSDD recordings.

It reads a waveform's log-mel spectrogram and outputs, for every 50 ms step, a distribution over 11
labels: the CTC *blank* (label 0) and the digits 0–9 (labels 1–10). CTC (Graves et al. 2006) sums the
probabilities of every frame-level labelling that collapses — merge repeats, then drop blanks — to
the target digit sequence, so the model learns from ``(audio, "381")`` pairs without frame labels and
reads utterances of any number of digits. Greedy decoding (:func:`ctc_greedy_decode`) takes the best
label per step and collapses.

Training data (:func:`judge_batch`): FSDD train recordings (indices 5–49) of every speaker **except**
``exclude_speakers`` (chapter 10 leaves out its TTS speaker, so the judge never hears the voice the TTS
systems imitate and cannot simply have memorised it) — single clips as recorded, and 2–4 clips of one
speaker joined with short silences (trimmed or not). The test accuracy is measured on the official test
recordings (indices 0–4) of the training speakers; the accuracy on the left-out speakers' recordings is
reported separately (:attr:`DigitJudge.unseen_accuracy`). The judge's settings are chosen on a validation split,
train recordings :data:`VAL_INDICES` held out of a judge trained for that purpose (``validation=True``), never on
the test recordings.

The input is made independent of loudness: the log-mel is shifted so its maximum is 0 and clipped
``dyn_range`` nats below (about 70 dB for 8), then scaled to about [-1, 1]. SpecAugment-style time and
frequency masks make it less sensitive to the artefacts of synthesised speech; background noise at a random
level and a random spectral tilt (``noise_db``, ``eq_nats``) stand in for other rooms and microphones.

Architecture: two stride-2 convolutions and residual dilated convolutions (:class:`DigitRecognizer`),
``(B, n_mels, T)`` → ``(B, ≈T/4, 11)``: one label distribution per 50 ms.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core import config, training
from ..datasets.audio import load_fsdd
from ..metrics.audio import digit_error_rate
from . import audio as ac_audio
from . import tts

BLANK = 0
N_LABELS = 11  # blank + 10 digits
VAL_INDICES = tuple(range(5, 10))
"""FSDD train recordings held out while the judge's settings are chosen (:func:`train_recognizer` with
``validation=True``): the test recordings (indices 0–4) never take part in a choice."""


def digits_to_labels(digits: str) -> list[int]:
    """``"381"`` → CTC labels ``[4, 9, 2]`` (digit d is label d + 1; 0 is the blank)."""
    return [int(d) + 1 for d in digits]


def ctc_collapse(path: Sequence[int]) -> list[int]:
    """CTC's many-to-one map: merge repeated labels, then drop blanks: ``[1, 1, 0, 1, 2, 2]`` → ``[1, 1, 2]``."""
    out, prev = [], None
    for p in path:
        p = int(p)
        if p != prev and p != BLANK:
            out.append(p)
        prev = p
    return out


def ctc_greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor | None = None) -> list[str]:
    """Best label per step, collapsed: ``(B, T, 11)`` (and valid lengths ``(B,)``) → digit strings."""
    best = log_probs.argmax(-1).cpu()
    lengths = lengths.cpu() if lengths is not None else torch.full((best.shape[0],), best.shape[1])
    return ["".join(str(label - 1) for label in ctc_collapse(b[: int(n)].tolist())) for b, n in zip(best, lengths)]


class _ResidualConv(nn.Module):
    """``x + Dropout(ReLU(BN(Conv1d(x, kernel 3, dilation d))))``: ``(B, C, T)`` → ``(B, C, T)``."""

    def __init__(self, channels: int, dilation: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.bn = nn.BatchNorm1d(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(F.relu(self.bn(self.conv(x))))


FRONT_REACH = 8
"""Input frames past a clip's last frame that :class:`DigitRecognizer`'s two stride-2 convolutions (kernel 5, padding
2) read for the clip's valid outputs: the first reads 2 past the end, the second 2 of the first's outputs past the
end, each 2 input frames apart and reading 2 more: 2 · 2 + 2 = 6, rounded up to 8."""


class DigitRecognizer(nn.Module):
    """Convolutional CTC digit recogniser: log-mel ``(B, n_mels, T)`` and lengths ``(B,)`` → log-probabilities
    ``(B, T', 11)`` and output lengths ``(B,)``, with ``T' ≈ T / 4`` (one output per 50 ms).

    Two stride-2 convolutions (kernel 5), then residual dilated convolutions (kernel 3, dilations
    ``dilations``) and a 1×1 output layer. With the default dilations (1, 2, 4, 8) every output sees about
    1.7 s of audio (133 frames) — more than a spoken digit. Convolutions instead of a recurrent layer keep it
    fast on a CPU.
    """

    def __init__(self, n_mels: int, *, channels: int = 128, dilations: Sequence[int] = (1, 2, 4, 8),
                 dropout: float = 0.1, dyn_range: float = 8.0):
        super().__init__()
        self.dyn_range = dyn_range
        self.front = nn.Sequential(
            nn.Conv1d(n_mels, channels, 5, stride=2, padding=2), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2), nn.BatchNorm1d(channels), nn.ReLU(),
        )
        self.body = nn.Sequential(*[_ResidualConv(channels, d, dropout) for d in dilations])
        self.head = nn.Conv1d(channels, N_LABELS, 1)

    def features(self, logmel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Loudness-free input: ``logmel - max`` clipped at ``-dyn_range`` and mapped to [-1, 1], padding at -1."""
        mask = tts.length_mask(lengths, logmel.shape[-1]).unsqueeze(1)
        peak = logmel.masked_fill(~mask, float("-inf")).amax(dim=(1, 2), keepdim=True)
        x = (logmel - peak).clamp(min=-self.dyn_range) / (self.dyn_range / 2) + 1.0
        return x.masked_fill(~mask, -1.0)

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        """Frames after the two stride-2 convolutions: ``T → ⌊(T - 1) / 2⌋ + 1``, twice."""
        for _ in range(2):
            lengths = (lengths - 1) // 2 + 1
        return lengths

    def forward(self, logmel: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities ``(B, T', 11)`` and lengths ``(B,)``. A clip's outputs within its length do not depend on
        the other clips of the batch (how much padding follows it): every clip gets :data:`FRONT_REACH` frames of
        silence (-1) after its end before the stride-2 convolutions — as far as they look past a clip's last frame —
        and the padded frames are set to 0 after every residual block, which is what a convolution's own zero
        padding at the end of the tensor gives the longest clip."""
        out_lengths = self.output_lengths(lengths)
        frames = int(self.output_lengths(torch.tensor(logmel.shape[-1])))
        x = F.pad(self.features(logmel, lengths), (0, FRONT_REACH), value=-1.0)
        x = self.front(x)[..., :frames]
        mask = tts.length_mask(out_lengths, frames).unsqueeze(1).to(x.dtype)
        x = x * mask
        for block in self.body:
            x = block(x) * mask
        return F.log_softmax(self.head(x).transpose(1, 2), -1), out_lengths


def waveform_batch(waves: Sequence[np.ndarray], cfg: ac_audio.MelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad waveforms and take their log-mels: → ``(B, n_mels, T)`` and frame counts ``(B,)``.

    Every waveform, the longest too, is followed by at least ``n_fft // 2`` zeros, so the frames within its length
    see zeros past its end whatever else is in the batch (the STFT's reflect padding only reflects those zeros)."""
    n = max(len(w) for w in waves) + cfg.n_fft // 2
    x = torch.zeros(len(waves), n)
    for i, w in enumerate(waves):
        x[i, : len(w)] = torch.as_tensor(np.asarray(w, dtype=np.float32))
    lengths = torch.tensor([ac_audio.n_frames(len(w), cfg) for w in waves])
    return ac_audio.log_mel(x, cfg), lengths


def speed_perturb(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``wave`` ``factor`` times faster by linear interpolation (``(n,)`` → ``(≈ n / factor,)``): pitch and
    formants move up by ``factor`` and the duration shrinks by it — a cheap stand-in for another speaker's voice
    (the speed perturbation of Ko et al. 2015)."""
    wave = np.asarray(wave, dtype=np.float32)
    positions = np.arange(0.0, len(wave) - 1, factor)
    return np.interp(positions, np.arange(len(wave)), wave).astype(np.float32)


def mel_warp(logmel: torch.Tensor, factors: Sequence[float] | np.ndarray) -> torch.Tensor:
    """Vocal-tract-length-style warp: band ``m`` of utterance ``b`` takes the (linearly interpolated) value of
    band ``m · factors[b]`` (clamped to the top band). ``(B, n_mels, T)`` → same shape."""
    n_mels = logmel.shape[1]
    src = (torch.arange(n_mels, dtype=torch.float32)[None] * torch.as_tensor(factors, dtype=torch.float32)[:, None])
    src = src.clamp(max=n_mels - 1)  # (B, n_mels)
    lo = src.floor().long().clamp(max=n_mels - 2)
    w = (src - lo).unsqueeze(-1)
    low = torch.gather(logmel, 1, lo.unsqueeze(-1).expand(-1, -1, logmel.shape[2]))
    high = torch.gather(logmel, 1, (lo + 1).unsqueeze(-1).expand(-1, -1, logmel.shape[2]))
    return low * (1 - w) + high * w


def spec_augment(logmel: torch.Tensor, rng: np.random.Generator, *, freq_mask: int, time_mask: int,
                 value: float) -> torch.Tensor:
    """One random frequency band (≤ ``freq_mask`` bins) and one time span (≤ ``time_mask`` frames) per
    utterance set to ``value``: ``(B, n_mels, T)`` → same shape (a copy)."""
    x = logmel.clone()
    for b in range(x.shape[0]):
        f = int(rng.integers(0, freq_mask + 1))
        f0 = int(rng.integers(0, x.shape[1] - f + 1))
        x[b, f0: f0 + f] = value
        t = int(rng.integers(0, time_mask + 1))
        t0 = int(rng.integers(0, max(1, x.shape[2] - t)))
        x[b, :, t0: t0 + t] = value
    return x


@dataclass
class JudgeData:
    """FSDD train recordings by speaker and digit, as recorded (``raw``) and trimmed (``trimmed``)."""

    raw: dict[str, dict[int, list[np.ndarray]]]
    trimmed: dict[str, dict[int, list[np.ndarray]]]

    @classmethod
    def load(cls, cfg: ac_audio.MelConfig, split: str = "train", *, exclude_speakers: Sequence[str] = (),
             skip_indices: Sequence[int] = ()) -> JudgeData:
        """The recordings of ``split`` by every speaker not in ``exclude_speakers``, without the recording
        indices in ``skip_indices`` (:data:`VAL_INDICES` when the judge's settings are being chosen)."""
        excluded, skip = set(exclude_speakers), set(skip_indices)
        clips = [c for c in load_fsdd(split) if c.speaker not in excluded and c.index not in skip]
        speakers = sorted({c.speaker for c in clips})
        raw = {s: {d: [] for d in range(10)} for s in speakers}
        for c in clips:
            raw[c.speaker][c.digit].append(c.audio)
        trimmed = {s: tts.clips_by_digit([c for c in clips if c.speaker == s], cfg) for s in speakers}
        return cls(raw, trimmed)


def judge_batch(data: JudgeData, batch_size: int, rng: np.random.Generator, cfg: ac_audio.MelConfig, *,
                max_digits: int = 4, p_single: float = 0.4, gap_frames: tuple[int, int] = (3, 15)
                ) -> tuple[list[np.ndarray], list[str]]:
    """A random training batch of waveforms and their digit strings: single recordings (probability
    ``p_single``) and utterances of 2–``max_digits`` clips of one speaker joined by silences."""
    speakers = sorted(data.raw)
    waves, labels = [], []
    for _ in range(batch_size):
        spk = speakers[int(rng.integers(len(speakers)))]
        if rng.random() < p_single:
            d = int(rng.integers(10))
            pool = data.raw[spk][d]
            waves.append(pool[int(rng.integers(len(pool)))])
            labels.append(str(d))
            continue
        k = int(rng.integers(2, max_digits + 1))
        digits = "".join(str(x) for x in rng.integers(0, 10, size=k))
        source = data.trimmed[spk]
        pieces = [source[int(d)][int(rng.integers(len(source[int(d)])))] for d in digits]
        gaps = [int(g) for g in rng.integers(gap_frames[0], gap_frames[1] + 1, size=k - 1)]
        wav, _ = tts.concatenate(pieces, gaps, cfg.hop_length, tail=int(rng.integers(0, 4)))
        lead = np.zeros(int(rng.integers(0, 4)) * cfg.hop_length, dtype=np.float32)
        waves.append(np.concatenate([lead, wav]))
        labels.append(digits)
    return waves, labels


def ctc_loss(model: DigitRecognizer, logmel: torch.Tensor, lengths: torch.Tensor, labels: Sequence[str]
             ) -> torch.Tensor:
    """Mean CTC loss (per target label) of a batch: log-mels ``(B, n_mels, T)``, ``lengths`` ``(B,)``."""
    log_probs, out_lengths = model(logmel, lengths)
    dev = log_probs.device
    targets = torch.tensor([label for digits in labels for label in digits_to_labels(digits)], device=dev)
    target_lengths = torch.tensor([len(d) for d in labels], device=dev)
    return F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=BLANK,
                      reduction="mean", zero_infinity=True)


@torch.no_grad()
def transcribe(model: DigitRecognizer, waves: Sequence[np.ndarray], cfg: ac_audio.MelConfig, *,
               batch: int = 64) -> list[str]:
    """Recognised digit strings of waveforms ``[(samples,), ...]`` (greedy CTC decoding)."""
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    for i in range(0, len(waves), batch):
        chunk = [np.asarray(w, dtype=np.float32).reshape(-1) for w in waves[i: i + batch]]
        chunk = [w if len(w) >= cfg.hop_length else np.pad(w, (0, cfg.hop_length - len(w))) for w in chunk]
        logmel, lengths = waveform_batch(chunk, cfg)
        log_probs, out_lengths = model(logmel.to(device), lengths.to(device))
        out += ctc_greedy_decode(log_probs, out_lengths)
    return out


@dataclass
class DigitJudge:
    """The trained recogniser with its mel settings and its single-clip accuracy on the FSDD test recordings
    (indices 0–4) of its training speakers (``test_accuracy``) and of the speakers it never heard
    (``unseen_accuracy``, per speaker in ``unseen_by_speaker``; nan when none was left out). A judge trained for
    validation measures the unseen speakers on their train recordings instead."""

    model: DigitRecognizer
    cfg: ac_audio.MelConfig
    test_accuracy: float
    test_der: float
    trained: training.Trained
    exclude_speakers: tuple[str, ...] = ()
    unseen_accuracy: float = float("nan")
    unseen_by_speaker: dict[str, float] | None = None
    val_accuracy: float = float("nan")
    """Single-clip accuracy on the held-out train recordings :data:`VAL_INDICES` of the training speakers: only a
    judge trained with ``validation=True`` has one (its test fields are then nan: a choice never sees them)."""

    def transcribe(self, waves: Sequence[np.ndarray]) -> list[str]:
        """Digit strings recognised in waveforms at ``cfg.sample_rate``."""
        return transcribe(self.model, waves, self.cfg)

    def der(self, waves: Sequence[np.ndarray], references: Sequence[str]) -> float:
        """Corpus digit error rate of waveforms against their reference digit strings."""
        return digit_error_rate(self.transcribe(waves), list(references))


def judge_mel_config(hp: Any) -> ac_audio.MelConfig:
    """The mel settings of a component or chapter row (``sample_rate``, ``n_fft``, ``win_length``, ``hop_length``,
    ``n_mels``, ``mel_floor``)."""
    return ac_audio.MelConfig(sample_rate=hp.sample_rate, n_fft=hp.n_fft, win_length=hp.win_length,
                              hop_length=hp.hop_length, n_mels=hp.n_mels, floor=hp.mel_floor)


def train_recognizer(profile: str | None = None, *, device: torch.device | None = None, retrain: bool = False,
                     overrides: Mapping[str, Any] | None = None, validation: bool = False) -> DigitJudge:
    """The cached digit recogniser (``COMPONENTS["digit_recognizer"]``), trained on first use on the speakers
    not in ``exclude_speakers``, with its single-clip accuracy and DER on the FSDD test recordings (indices
    0–4) of those speakers, and its accuracy on the left-out speakers' test recordings.

    To choose a setting: ``validation=True`` trains without the recordings :data:`VAL_INDICES` and scores the
    judge on them (``val_accuracy``; the left-out speakers are scored on their train recordings), never on the
    test recordings; ``overrides`` replaces entries of the component's row (``{"lr": 2e-3}``)."""
    prof = config.resolve_profile(profile)
    hp = config.component("digit_recognizer", prof)
    if overrides:
        unknown = sorted(set(overrides) - set(hp))
        if unknown:
            raise config.ConfigError(f"digit_recognizer has no setting {', '.join(map(repr, unknown))}; "
                                     f"it has: {', '.join(sorted(hp))}")
        hp = config.HParams(config.deep_merge(hp.to_dict(), overrides))
    device = device or config.resolve_device()
    cfg = judge_mel_config(hp)
    arch = {"channels": hp.channels, "dilations": tuple(hp.dilations), "dropout": hp.dropout,
            "dyn_range": hp.dyn_range}
    key = {**arch, **cfg.to_dict(), "steps": hp.steps, "steps_per_epoch": hp.steps_per_epoch,
           "batch_size": hp.batch_size, "lr": hp.lr, "max_digits": hp.max_digits, "p_single": hp.p_single,
           "freq_mask": hp.freq_mask, "time_mask": hp.time_mask, "seed": hp.seed,
           "exclude_speakers": tuple(hp.exclude_speakers), "speed_range": hp.speed_range,
           "noise_db": hp.noise_db, "eq_nats": hp.eq_nats, "warp_range": hp.warp_range,
           "padding": "per-clip"}  # outputs independent of the batch (DigitRecognizer.forward); older judges retrain
    skip = VAL_INDICES if validation else ()
    if skip:  # its own checkpoint: a validation judge never stands in for the real one
        key["skip_indices"] = skip

    def build(_: Any) -> DigitRecognizer:
        torch.manual_seed(hp.seed)  # the judge is the same network on every machine and in every run
        return DigitRecognizer(cfg.n_mels, **arch)

    def train(model: nn.Module, session: training.TrainingSession) -> dict[str, Any]:
        data = JudgeData.load(cfg, "train", exclude_speakers=hp.exclude_speakers, skip_indices=skip)
        opt = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=1e-4)
        rng = np.random.default_rng([hp.seed, 0])

        def new_epoch(epoch: int, first: bool) -> None:
            nonlocal rng
            rng = np.random.default_rng([hp.seed, epoch])  # each epoch its own draws: a resumed run repeats them
            model.train()

        def loss_fn(step: int) -> torch.Tensor:
            waves, labels = judge_batch(data, hp.batch_size, rng, cfg, max_digits=hp.max_digits,
                                        p_single=hp.p_single)
            if hp.speed_range:  # faster or slower playback: pitch, formants and duration move together
                waves = [speed_perturb(w, float(rng.uniform(*hp.speed_range))) for w in waves]
            if hp.noise_db is not None:  # a background at a random level below the peak (other rooms)
                waves = [w + np.abs(w).max() * 10 ** (rng.uniform(*hp.noise_db) / 20)
                         * rng.standard_normal(len(w)).astype(np.float32) for w in waves]
            logmel, lengths = waveform_batch(waves, cfg)
            if hp.warp_range:  # stretch the frequency axis: formants of a shorter or longer vocal tract
                logmel = mel_warp(logmel, rng.uniform(*hp.warp_range, size=len(waves)))
            if hp.eq_nats:  # a random spectral tilt (other microphones and voices)
                tilt = torch.from_numpy(rng.uniform(-hp.eq_nats, hp.eq_nats, (len(waves), 1, 1))).float()
                logmel = logmel + tilt * torch.linspace(-1, 1, cfg.n_mels)[None, :, None]
            logmel = spec_augment(logmel, rng, freq_mask=hp.freq_mask, time_mask=hp.time_mask,
                                  value=cfg.log_floor)
            return ctc_loss(model, logmel.to(device), lengths.to(device), labels)

        step = training.loss_step(loss_fn, opt, clip=5.0, params=model.parameters(), name="ctc_loss")
        t0 = time.perf_counter()
        training.run_steps(step, total=hp.steps, chunk=hp.steps_per_epoch,
                           optimizers=[opt], session=session, chunk_start=new_epoch, desc="digit recogniser (CTC)",
                           lr_at=lambda i, elapsed: training.warmup_cosine_lr(i, hp.steps, hp.lr,
                                                                               warmup=hp.steps // 20))
        return {"train_seconds": time.perf_counter() - t0}

    trained = training.load_or_train("digit_recognizer", key, build, train, retrain=retrain, device=device)
    model = trained.model.eval()
    left_out = set(hp.exclude_speakers)
    # a validation judge is scored on its held-out train recordings (the left-out speakers on all of theirs), never
    # on the test recordings; the real judge on the test recordings
    clips = ([c for c in load_fsdd("train") if c.index in VAL_INDICES or c.speaker in left_out] if validation
             else load_fsdd("test"))
    hyps = transcribe(model, [c.audio for c in clips], cfg)
    seen = [(h, str(c.digit)) for c, h in zip(clips, hyps) if c.speaker not in left_out]
    acc = float(np.mean([h == r for h, r in seen]))
    der = digit_error_rate([h for h, _ in seen], [r for _, r in seen])
    by_speaker: dict[str, list[bool]] = {}
    for c, h in zip(clips, hyps):
        if c.speaker in left_out:
            by_speaker.setdefault(c.speaker, []).append(h == str(c.digit))
    unseen = [ok for v in by_speaker.values() for ok in v]
    nan = float("nan")
    return DigitJudge(model, cfg, nan if validation else acc, nan if validation else der, trained,
                      tuple(hp.exclude_speakers), float(np.mean(unseen)) if unseen else nan,
                      {s: float(np.mean(v)) for s, v in by_speaker.items()}, acc if validation else nan)


@functools.lru_cache(maxsize=4)
def _cached_judge(profile: str, device: str) -> DigitJudge:
    return train_recognizer(profile, device=torch.device(device))


def digit_judge(profile: str | None = None, *, device: torch.device | str | None = None) -> DigitJudge:
    """:func:`train_recognizer`, memoised per process (the notebook and the widget share one judge)."""
    prof = config.resolve_profile(profile)
    dev = str(device or config.resolve_device())
    return _cached_judge(prof, dev)


__all__ = ["BLANK", "N_LABELS", "digits_to_labels", "ctc_collapse", "ctc_greedy_decode", "DigitRecognizer",
           "waveform_batch", "speed_perturb", "mel_warp", "spec_augment", "JudgeData", "judge_batch", "ctc_loss",
           "transcribe", "DigitJudge", "VAL_INDICES", "judge_mel_config", "train_recognizer", "digit_judge"]
