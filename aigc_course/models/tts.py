"""Spoken-digit text-to-speech (chapter 10): text front end, training data, and two acoustic models.

**Text.** The system speaks digit sequences. :func:`normalize_text` turns ``"381"``, ``"3 8 1"``,
``"three 8, one"`` into the spelled-out ``"three eight one"``; anything it cannot say raises
:class:`UnsupportedTextError` naming the offending characters or words. :func:`encode_text` maps the
normalised text to character ids over :data:`SYMBOLS` and appends an end-of-sentence symbol.

**Data.** FSDD has one recording per (speaker, digit, index). An utterance of the TTS corpus is 1–4
clips of *one* speaker, trimmed of their silences, joined by short gaps of digital silence
(:func:`make_utterance`). Every piece's length is a multiple of the hop, so each character's
duration in mel frames is known exactly (:func:`char_durations`): a word's frames are shared
equally by its letters, a space owns the gap after its word, the end symbol owns the final silence.

**Models** (both map character ids to log-mel frames; mels are normalised inside by fixed statistics
``mel_mean``/``mel_std`` stored as buffers):

- :class:`DurationTTS` — FastSpeech-style: a convolutional character encoder, a duration predictor,
  a *length regulator* that repeats each character's encoding for its number of frames, and a
  convolutional frame decoder. Alignment is given, so it cannot fail to align.
- :class:`Tacotron` — Tacotron 2-style: convolutional + BiLSTM encoder, location-sensitive attention,
  autoregressive LSTM decoder with a prenet, ``r`` frames per step, stop token and a residual
  convolutional postnet. It must *learn* the alignment (helped by :func:`guided_attention_loss`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.training import count_parameters
from . import audio as ac_audio

# --------------------------------------------------------------------------------------------
# Text front end
# --------------------------------------------------------------------------------------------
DIGIT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PAD, EOS = "_", "~"
SYMBOLS: tuple[str, ...] = (PAD, EOS, " ", *sorted(set("".join(DIGIT_WORDS))))
"""The TTS alphabet: padding, end of sentence, space and the 15 letters of the digit words."""
SYMBOL_TO_ID: dict[str, int] = {s: i for i, s in enumerate(SYMBOLS)}
SEPARATORS = ",-"
"""Characters read as a pause between digits (as in ``"0171-555, 12"``), like spaces."""


class UnsupportedTextError(ValueError):
    """Text the digit TTS cannot say; the message names the characters or words at fault."""


def _describe(chars: Iterable[str]) -> str:
    return ", ".join(f"{c!r} (U+{ord(c):04X})" for c in dict.fromkeys(chars))


def _quote(text: str, limit: int = 40) -> str:
    """``text`` for an error message: quoted, cut to ``limit`` characters with its length when longer (a pasted
    page must not be echoed back in full)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def normalize_text(text: str) -> str:
    """Spell out a digit sequence: ``"381"`` / ``"3 8 1"`` / ``"Three 8-one"`` → ``"three eight one"``.

    Accepts the digits 0–9, the words zero … nine (any case), whitespace, commas and hyphens.
    Raises :class:`UnsupportedTextError` naming every other character, or a letter sequence that is
    not a digit word, and for text with nothing to say.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    bad = [c for c in text if not (c.isascii() and (c.isdigit() or c.isalpha())) and not c.isspace()
           and c not in SEPARATORS]
    if bad:
        unique = list(dict.fromkeys(bad))
        more = f" and {len(unique) - 10} more" if len(unique) > 10 else ""
        raise UnsupportedTextError(
            f"unsupported characters in {_quote(text)}: {_describe(unique[:10])}{more}. The digit TTS reads digits "
            f"0-9, the words zero ... nine, spaces, commas and hyphens."
        )
    words = []
    for token in re.findall(r"[0-9]|[a-zA-Z]+", text):
        if token.isdigit():
            words.append(DIGIT_WORDS[int(token)])
        elif token.lower() in DIGIT_WORDS:
            words.append(token.lower())
        else:
            raise UnsupportedTextError(
                f"unsupported word {_quote(token)} in {_quote(text)}: the digit TTS only says zero, one, ..., nine"
            )
    if not words:
        raise UnsupportedTextError(f"nothing to say in {_quote(text)}: give at least one digit")
    return " ".join(words)


def digits_to_text(digits: str | Sequence[int]) -> str:
    """``"381"`` or ``[3, 8, 1]`` → ``"three eight one"``."""
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


def text_to_digits(normalized: str) -> str:
    """Inverse of :func:`digits_to_text`: ``"three eight one"`` → ``"381"``."""
    try:
        return "".join(str(DIGIT_WORDS.index(w)) for w in normalized.split())
    except ValueError:
        raise UnsupportedTextError(
            f"{normalized!r} is not a normalised digit text; call normalize_text first"
        ) from None


def encode_text(normalized: str) -> torch.Tensor:
    """Character ids of a normalised text plus the end symbol: ``str`` of length N → ``LongTensor (N + 1,)``.

    Raises :class:`UnsupportedTextError` naming any character outside :data:`SYMBOLS`.
    """
    bad = [c for c in normalized if c not in SYMBOL_TO_ID or c in (PAD, EOS)]
    if bad:
        raise UnsupportedTextError(
            f"characters outside the TTS alphabet in {normalized!r}: {_describe(bad)}; "
            f"the alphabet is {''.join(SYMBOLS[2:])!r} (normalize_text spells digits out first)"
        )
    return torch.tensor([SYMBOL_TO_ID[c] for c in normalized] + [SYMBOL_TO_ID[EOS]], dtype=torch.long)


def decode_ids(ids: Sequence[int] | torch.Tensor) -> str:
    """Character ids → text (padding dropped, the end symbol kept as ``~``)."""
    return "".join(SYMBOLS[int(i)] for i in ids if int(i) != SYMBOL_TO_ID[PAD])


# --------------------------------------------------------------------------------------------
# Data: utterances made of FSDD clips
# --------------------------------------------------------------------------------------------
def prepare_clip(audio: np.ndarray, cfg: ac_audio.MelConfig, *, top_db: float = 35.0, peak: float = 0.9
                 ) -> np.ndarray:
    """Trim a clip's silences and normalise its peak: ``(samples,)`` → ``(k · hop,)`` float32."""
    return ac_audio.peak_normalize(ac_audio.trim_silence(audio, top_db=top_db, frame=cfg.hop_length), peak)


def clips_by_digit(clips: Iterable, cfg: ac_audio.MelConfig, *, speaker: str | None = None,
                   top_db: float = 35.0) -> dict[int, list[np.ndarray]]:
    """Prepared clips (:func:`prepare_clip`) of FSDD ``SpokenDigit`` records grouped by digit (one speaker
    if ``speaker`` is given): ``{digit: [audio (k · hop,), ...]}``."""
    out: dict[int, list[np.ndarray]] = {d: [] for d in range(10)}
    for clip in clips:
        if speaker is None or clip.speaker == speaker:
            out[clip.digit].append(prepare_clip(clip.audio, cfg, top_db=top_db))
    return out


def concatenate(pieces: Sequence[np.ndarray], gaps: Sequence[int], hop: int, *, tail: int = 0
                ) -> tuple[np.ndarray, list[int]]:
    """Join ``pieces`` (each a multiple of ``hop`` samples) with ``gaps[i]`` frames of silence after piece
    ``i`` (``len(gaps) == len(pieces) - 1``) and ``tail`` silent frames at the end.

    Returns the waveform ``(hop · frames,)`` and the frame count of every piece.
    """
    if len(gaps) != len(pieces) - 1:
        raise ValueError(f"{len(pieces)} pieces need {len(pieces) - 1} gaps, got {len(gaps)}")
    parts, frames = [], []
    for i, piece in enumerate(pieces):
        if len(piece) % hop:
            raise ValueError(f"piece {i} has {len(piece)} samples, not a multiple of the hop {hop}")
        parts.append(np.asarray(piece, dtype=np.float32))
        frames.append(len(piece) // hop)
        silence = gaps[i] if i < len(gaps) else tail
        parts.append(np.zeros(silence * hop, dtype=np.float32))
    return np.concatenate(parts), frames


def char_durations(digits: str, word_frames: Sequence[int], gaps: Sequence[int], tail: int) -> np.ndarray:
    """Frames per character of ``digits_to_text(digits) + EOS``: ``(N + 1,)`` int64 summing to the total.

    A word's frames are shared equally by its letters (the first letters take the remainder), a space
    owns the gap after its word, and the end symbol owns the ``tail``.
    """
    out: list[int] = []
    for i, (d, frames) in enumerate(zip(digits, word_frames)):
        n = len(DIGIT_WORDS[int(d)])
        base, extra = divmod(frames, n)
        out += [base + (1 if k < extra else 0) for k in range(n)]
        if i < len(gaps):
            out.append(gaps[i])
    out.append(tail)
    return np.asarray(out, dtype=np.int64)


@dataclass(frozen=True)
class TTSUtterance:
    """One corpus utterance: ``audio`` ``(frames · hop,)``, its texts, and ``durations`` ``(N + 1,)`` in frames
    per character of ``text`` plus the end symbol (``durations.sum() == frames``)."""

    digits: str
    text: str
    audio: np.ndarray
    durations: np.ndarray
    hop: int

    @property
    def frames(self) -> int:
        return len(self.audio) // self.hop


def make_utterance(digits: str, clips: dict[int, list[np.ndarray]], rng: np.random.Generator,
                   cfg: ac_audio.MelConfig, *, gap_frames: tuple[int, int] = (6, 10), tail_frames: int = 3
                   ) -> TTSUtterance:
    """Speak ``digits`` with one random clip per digit from ``clips`` and random gaps of
    ``gap_frames[0] .. gap_frames[1]`` frames (inclusive) between words."""
    pieces = [clips[int(d)][rng.integers(len(clips[int(d)]))] for d in digits]
    gaps = [int(g) for g in rng.integers(gap_frames[0], gap_frames[1] + 1, size=len(digits) - 1)]
    wav, frames = concatenate(pieces, gaps, cfg.hop_length, tail=tail_frames)
    durations = char_durations(digits, frames, gaps, tail_frames)
    return TTSUtterance(digits, digits_to_text(digits), wav, durations, cfg.hop_length)


def utterance_log_mel(wav: np.ndarray, cfg: ac_audio.MelConfig) -> torch.Tensor:
    """Log-mel of a corpus waveform ``(frames · hop,)`` → ``(n_mels, frames)``: the centred STFT's extra last
    frame is dropped so that frame ``t`` is centred on sample ``t · hop`` and the durations add up."""
    return ac_audio.log_mel(wav, cfg)[:, :-1]


def heldout_sequences(n: int, lengths: Sequence[int], seed: int) -> list[str]:
    """``n`` distinct random digit strings with lengths drawn from ``lengths``: the texts kept out of training."""
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        k = int(rng.choice(lengths))
        out["".join(str(d) for d in rng.integers(0, 10, size=k))] = None
    return list(out)


def sample_digits(rng: np.random.Generator, n_digits: int, exclude: set[str] | frozenset[str] = frozenset()) -> str:
    """A random digit string of length ``n_digits`` that is not in ``exclude``."""
    while True:
        digits = "".join(str(d) for d in rng.integers(0, 10, size=n_digits))
        if digits not in exclude:
            return digits


@dataclass
class Batch:
    """A padded training batch. ``text`` ``(B, N)`` ids, ``text_lengths`` ``(B,)``, ``mels`` ``(B, n_mels, T)``
    log-mels padded with the floor, ``mel_lengths`` ``(B,)``, ``durations`` ``(B, N)`` frames per character."""

    text: torch.Tensor
    text_lengths: torch.Tensor
    mels: torch.Tensor
    mel_lengths: torch.Tensor
    durations: torch.Tensor
    utterances: list[TTSUtterance]

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.text.to(device), self.text_lengths.to(device), self.mels.to(device),
                     self.mel_lengths.to(device), self.durations.to(device), self.utterances)


def collate(utterances: Sequence[TTSUtterance], cfg: ac_audio.MelConfig) -> Batch:
    """Pad a list of utterances into a :class:`Batch` (texts with :data:`PAD`, mels with ``cfg.log_floor``)."""
    ids = [encode_text(u.text) for u in utterances]
    mels = [utterance_log_mel(u.audio, cfg) for u in utterances]
    n, t = max(len(i) for i in ids), max(m.shape[1] for m in mels)
    text = torch.zeros(len(ids), n, dtype=torch.long)
    durations = torch.zeros(len(ids), n, dtype=torch.long)
    out = torch.full((len(ids), cfg.n_mels, t), cfg.log_floor)
    for b, (i, m, u) in enumerate(zip(ids, mels, utterances)):
        text[b, : len(i)] = i
        durations[b, : len(i)] = torch.from_numpy(u.durations)
        out[b, :, : m.shape[1]] = m
    return Batch(text, torch.tensor([len(i) for i in ids]), out, torch.tensor([m.shape[1] for m in mels]), durations,
                 list(utterances))


def sample_batch(clips: dict[int, list[np.ndarray]], batch_size: int, rng: np.random.Generator,
                 cfg: ac_audio.MelConfig, *, max_digits: int = 4, exclude: frozenset[str] = frozenset(),
                 gap_frames: tuple[int, int] = (6, 10), tail_frames: int = 3) -> Batch:
    """A fresh random batch; all its utterances have the same number of digits (drawn from 1..``max_digits``),
    so they have similar lengths and little padding. Texts in ``exclude`` are never drawn."""
    k = int(rng.integers(1, max_digits + 1))
    utts = [make_utterance(sample_digits(rng, k, exclude), clips, rng, cfg, gap_frames=gap_frames,
                           tail_frames=tail_frames) for _ in range(batch_size)]
    return collate(utts, cfg)


def mel_statistics(clips: dict[int, list[np.ndarray]], cfg: ac_audio.MelConfig, *, n: int = 200, seed: int = 0,
                   gap_frames: tuple[int, int] = (6, 10), tail_frames: int = 3) -> tuple[float, float]:
    """Mean and standard deviation of the log-mel values of ``n`` random corpus utterances (1–4 digits)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        k = int(rng.integers(1, 5))
        utt = make_utterance(sample_digits(rng, k), clips, rng, cfg, gap_frames=gap_frames, tail_frames=tail_frames)
        values.append(utterance_log_mel(utt.audio, cfg).flatten())
    v = torch.cat(values)
    return round(float(v.mean()), 3), round(float(v.std()), 3)


def length_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B,)`` lengths → ``(B, max_len)`` bool mask, True on valid positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------
class ConvBNReLU(nn.Module):
    """Conv1d (same padding) → BatchNorm → ReLU → Dropout: ``(B, C_in, T)`` → ``(B, C_out, T)``."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 5, dropout: float = 0.1):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm1d(c_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(F.relu(self.bn(self.conv(x))))


class _MelNorm(nn.Module):
    """Holds the fixed mel statistics and normalises: ``(x - mean) / std`` and back."""

    def __init__(self, mel_mean: float, mel_std: float):
        super().__init__()
        self.register_buffer("mel_mean", torch.tensor(float(mel_mean)))
        self.register_buffer("mel_std", torch.tensor(float(mel_std)))

    def normalize(self, logmel: torch.Tensor) -> torch.Tensor:
        return (logmel - self.mel_mean) / self.mel_std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mel_std + self.mel_mean


# --------------------------------------------------------------------------------------------
# The duration-based baseline (FastSpeech-style)
# --------------------------------------------------------------------------------------------
def length_regulate(encodings: torch.Tensor, durations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                torch.Tensor]:
    """Repeat character encodings by their durations (FastSpeech's length regulator).

    ``encodings`` ``(B, N, D)``, ``durations`` ``(B, N)`` non-negative ints →
    frames ``(B, T, D)`` (zero-padded to the longest), ``lengths`` ``(B,)`` and the position of every frame
    inside its character as a fraction in [0, 1) ``(B, T)``.
    """
    rows, fracs = [], []
    for enc, dur in zip(encodings, durations):
        dur = dur.clamp(min=0).long()
        rows.append(torch.repeat_interleave(enc, dur, dim=0))
        counts = dur[dur > 0]
        starts = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        total = torch.repeat_interleave(counts, counts)
        fracs.append((torch.arange(int(counts.sum()), device=enc.device) - starts).float() / total.float())
    lengths = torch.tensor([len(r) for r in rows], device=encodings.device)
    t = max(int(lengths.max()), 1)
    out = encodings.new_zeros(len(rows), t, encodings.shape[-1])
    frac = encodings.new_zeros(len(rows), t)
    for b, (r, f) in enumerate(zip(rows, fracs)):
        out[b, : len(r)] = r
        frac[b, : len(f)] = f
    return out, lengths, frac


class DurationTTS(_MelNorm):
    """Character ids → log-mels with explicit durations (no attention).

    ``forward(text (B, N), text_lengths (B,), durations (B, N) or None)`` returns ``(mel (B, n_mels, T),
    log_duration (B, N), mel_lengths (B,))``: with ``durations`` given (training, teacher-forced evaluation)
    the regulator uses them, otherwise the model's own rounded predictions. ``log_duration`` predicts
    ``log(1 + frames)`` of each character.
    """

    def __init__(self, n_mels: int, mel_mean: float, mel_std: float, *, dim: int = 128, enc_layers: int = 3,
                 dec_layers: int = 3, kernel: int = 5, dropout: float = 0.1, n_symbols: int = len(SYMBOLS)):
        super().__init__(mel_mean, mel_std)
        self.embedding = nn.Embedding(n_symbols, dim, padding_idx=0)
        self.encoder = nn.Sequential(*[ConvBNReLU(dim, dim, kernel, dropout) for _ in range(enc_layers)])
        self.duration = nn.Sequential(ConvBNReLU(dim, dim, 3, dropout), ConvBNReLU(dim, dim, 3, dropout),
                                      nn.Conv1d(dim, 1, 1))
        self.position = nn.Linear(2, dim)  # where a frame lies inside its character: (frac, 1 - frac)
        self.decoder = nn.Sequential(*[ConvBNReLU(dim, dim, kernel, dropout) for _ in range(dec_layers)])
        self.out = nn.Conv1d(dim, n_mels, 1)

    def encode(self, text: torch.Tensor, text_lengths: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` ids → ``(B, N, dim)`` encodings (padding zeroed)."""
        mask = length_mask(text_lengths, text.shape[1]).unsqueeze(1).float()
        x = self.embedding(text).transpose(1, 2) * mask
        for layer in self.encoder:
            x = layer(x) * mask
        return x.transpose(1, 2)

    def predict_durations(self, log_duration: torch.Tensor, text_lengths: torch.Tensor) -> torch.Tensor:
        """``log(1 + d)`` ``(B, N)`` → integer frames ``(B, N)``: at least 1 per character (every letter, gap and
        end symbol of the corpus lasts at least a frame), 0 on padding."""
        d = torch.round(torch.expm1(log_duration)).clamp(min=1).long()
        return d * length_mask(text_lengths, d.shape[1]).long()

    def forward(self, text: torch.Tensor, text_lengths: torch.Tensor, durations: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        enc = self.encode(text, text_lengths)
        log_duration = self.duration(enc.transpose(1, 2)).squeeze(1)
        if durations is None:
            durations = self.predict_durations(log_duration, text_lengths)
        frames, mel_lengths, frac = length_regulate(enc, durations)
        frames = frames + self.position(torch.stack([frac, 1 - frac], -1))
        mask = length_mask(mel_lengths, frames.shape[1]).unsqueeze(1).float()
        x = frames.transpose(1, 2) * mask
        for layer in self.decoder:
            x = layer(x) * mask
        mel = self.denormalize(self.out(x))
        return mel, log_duration, mel_lengths

    @torch.no_grad()
    def infer(self, text: torch.Tensor) -> dict[str, torch.Tensor]:
        """One text ``(N,)`` → ``{"mel": (n_mels, T), "durations": (N,)}`` with predicted durations."""
        self.eval()
        lengths = torch.tensor([len(text)], device=text.device)
        mel, log_d, _ = self(text[None], lengths)
        return {"mel": mel[0], "durations": self.predict_durations(log_d, lengths)[0]}


# --------------------------------------------------------------------------------------------
# Tacotron-style attention model
# --------------------------------------------------------------------------------------------
class TacotronEncoder(nn.Module):
    """Embedding → ``n_convs`` × ConvBNReLU → BiLSTM: ids ``(B, N)`` → memory ``(B, N, dim)``."""

    def __init__(self, n_symbols: int, dim: int = 128, n_convs: int = 3, kernel: int = 5, dropout: float = 0.1):
        super().__init__()
        self.embedding = nn.Embedding(n_symbols, dim, padding_idx=0)
        self.convs = nn.Sequential(*[ConvBNReLU(dim, dim, kernel, dropout) for _ in range(n_convs)])
        self.lstm = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)

    def forward(self, text: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.convs(self.embedding(text).transpose(1, 2)).transpose(1, 2)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=text.shape[1])
        return out


class Prenet(nn.Module):
    """Two ReLU layers with dropout that stays **on** at inference too (Tacotron 2): ``(B, n_in)`` → ``(B, dim)``.

    The always-on dropout keeps the decoder from copying its previous frame and adds the variation that
    makes autoregressive inference work."""

    def __init__(self, n_in: int, dim: int = 128, dropout: float = 0.5):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(n_in, dim), nn.Linear(dim, dim)])
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = F.dropout(F.relu(layer(x)), self.dropout, training=True)
        return x


class LocationSensitiveAttention(nn.Module):
    """Chorowski et al. (2015) / Tacotron 2 attention.

    For decoder query ``s_i`` ``(B, query_dim)``, memory ``h_j`` ``(B, N, memory_dim)`` and location features
    ``f_i = F * [α_{i-1}; Σ_{k<i} α_k]`` (a 1-D convolution over the previous and cumulative weights),

    ``e_ij = wᵀ tanh(W s_i + V h_j + U f_ij + b)``,   ``α_i = softmax_j(e_ij)``,   ``c_i = Σ_j α_ij h_j``.

    ``W`` (with the bias ``b``) is :attr:`query`, ``V`` :attr:`memory`, ``F`` :attr:`location_conv`,
    ``U`` :attr:`location`, ``w`` :attr:`v`.
    """

    def __init__(self, query_dim: int, memory_dim: int, attn_dim: int = 128, n_filters: int = 32,
                 kernel: int = 31):
        super().__init__()
        self.query = nn.Linear(query_dim, attn_dim, bias=True)
        self.memory = nn.Linear(memory_dim, attn_dim, bias=False)
        self.location_conv = nn.Conv1d(2, n_filters, kernel, padding=kernel // 2, bias=False)
        self.location = nn.Linear(n_filters, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def energies(self, query: torch.Tensor, processed_memory: torch.Tensor, weights_cat: torch.Tensor
                 ) -> torch.Tensor:
        """``query`` ``(B, query_dim)``, ``processed_memory = V h`` ``(B, N, attn_dim)``, ``weights_cat``
        ``(B, 2, N)`` (previous and cumulative weights) → energies ``(B, N)``."""
        loc = self.location(self.location_conv(weights_cat).transpose(1, 2))  # (B, N, attn_dim)
        return self.v(torch.tanh(self.query(query).unsqueeze(1) + processed_memory + loc)).squeeze(-1)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, processed_memory: torch.Tensor,
                weights_cat: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """→ context ``(B, memory_dim)`` and weights ``(B, N)`` (``mask`` ``(B, N)`` True on real characters)."""
        e = self.energies(query, processed_memory, weights_cat).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(e, dim=-1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


class Postnet(nn.Module):
    """Residual correction of the decoder's mels: ``layers`` × (Conv1d → BN → tanh → dropout), last one linear:
    ``(B, n_mels, T)`` → ``(B, n_mels, T)`` (to be *added* to the input)."""

    def __init__(self, n_mels: int, dim: int = 128, layers: int = 3, kernel: int = 5, dropout: float = 0.1):
        super().__init__()
        chans = [n_mels] + [dim] * (layers - 1) + [n_mels]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, kernel, padding=kernel // 2) for a, b in zip(chans, chans[1:]))
        self.bns = nn.ModuleList(nn.BatchNorm1d(b) for b in chans[1:])
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = bn(conv(x))
            x = self.dropout(torch.tanh(x) if i < len(self.convs) - 1 else x)
        return x


@dataclass
class DecoderState:
    """The recurrent state carried from one decoder step to the next (all ``(B, ·)``)."""

    attn_h: torch.Tensor
    attn_c: torch.Tensor
    dec_h: torch.Tensor
    dec_c: torch.Tensor
    context: torch.Tensor
    weights: torch.Tensor
    weights_cum: torch.Tensor


class Tacotron(_MelNorm):
    """A small Tacotron 2: encoder → location-sensitive attention → autoregressive decoder (r frames per step)
    → postnet, with a stop token.

    Decoder step ``i`` (``x`` = last frame of the previous step, a zero "go" frame at ``i = 0``)::

        p = prenet(x)                                      # (B, prenet_dim)
        a_h = attention_lstm([p; c_{i-1}])                 # (B, rnn_dim)
        c_i, α_i = attention(a_h, memory, [α_{i-1}; Σα])   # (B, enc_dim), (B, N)
        d_h = decoder_lstm([a_h; c_i])                     # (B, rnn_dim)
        frames = proj([d_h; c_i])  → r frames              # (B, r · n_mels)
        stop   = stop_proj([d_h; c_i])                     # (B,) logit of "this was the last step"

    :meth:`forward` runs it teacher-forced on real mels; :meth:`infer` feeds back its own output until the
    stop token fires or ``max_decoder_steps`` is reached. Mels go in and out in log-mel units.
    """

    def __init__(self, n_mels: int, mel_mean: float, mel_std: float, *, r: int = 2, enc_dim: int = 128,
                 enc_convs: int = 3, prenet_dim: int = 128, rnn_dim: int = 256, attn_dim: int = 128,
                 loc_filters: int = 32, loc_kernel: int = 31, postnet_dim: int = 128, postnet_layers: int = 3,
                 dropout: float = 0.1, rnn_dropout: float = 0.1, n_symbols: int = len(SYMBOLS)):
        super().__init__(mel_mean, mel_std)
        self.n_mels, self.r, self.rnn_dim, self.rnn_dropout = n_mels, r, rnn_dim, rnn_dropout
        self.encoder = TacotronEncoder(n_symbols, enc_dim, enc_convs, dropout=dropout)
        self.prenet = Prenet(n_mels, prenet_dim)
        self.attention_rnn = nn.LSTMCell(prenet_dim + enc_dim, rnn_dim)
        self.attention = LocationSensitiveAttention(rnn_dim, enc_dim, attn_dim, loc_filters, loc_kernel)
        self.decoder_rnn = nn.LSTMCell(rnn_dim + enc_dim, rnn_dim)
        self.proj = nn.Linear(rnn_dim + enc_dim, n_mels * r)
        self.stop_proj = nn.Linear(rnn_dim + enc_dim, 1)
        self.postnet = Postnet(n_mels, postnet_dim, postnet_layers, dropout=dropout)

    # ---- one decoder step -------------------------------------------------------------------
    def initial_state(self, memory: torch.Tensor) -> DecoderState:
        b, n, d = memory.shape
        z = memory.new_zeros
        w = z(b, n)
        w[:, 0] = 1.0  # start looking at the first character
        return DecoderState(z(b, self.rnn_dim), z(b, self.rnn_dim), z(b, self.rnn_dim), z(b, self.rnn_dim),
                            z(b, d), w, w.clone())

    def step(self, x: torch.Tensor, state: DecoderState, memory: torch.Tensor, processed_memory: torch.Tensor,
             mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """One decoder step: previous frame ``x`` ``(B, n_mels)`` (normalised) → ``r`` frames ``(B, r, n_mels)``,
        stop logit ``(B,)`` and the new state."""
        p = self.prenet(x)
        attn_h, attn_c = self.attention_rnn(torch.cat([p, state.context], -1), (state.attn_h, state.attn_c))
        attn_h = F.dropout(attn_h, self.rnn_dropout, self.training)
        weights_cat = torch.stack([state.weights, state.weights_cum], 1)
        context, weights = self.attention(attn_h, memory, processed_memory, weights_cat, mask)
        dec_h, dec_c = self.decoder_rnn(torch.cat([attn_h, context], -1), (state.dec_h, state.dec_c))
        dec_h = F.dropout(dec_h, self.rnn_dropout, self.training)
        out = torch.cat([dec_h, context], -1)
        frames = self.proj(out).view(-1, self.r, self.n_mels)
        new = DecoderState(attn_h, attn_c, dec_h, dec_c, context, weights, state.weights_cum + weights)
        return frames, self.stop_proj(out).squeeze(-1), new

    def encode(self, text: torch.Tensor, text_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                               torch.Tensor]:
        """``(B, N)`` → memory ``(B, N, enc_dim)``, processed memory ``(B, N, attn_dim)``, mask ``(B, N)``."""
        memory = self.encoder(text, text_lengths)
        return memory, self.attention.memory(memory), length_mask(text_lengths, text.shape[1])

    # ---- training: teacher forcing ------------------------------------------------------------
    def forward(self, text: torch.Tensor, text_lengths: torch.Tensor, mels: torch.Tensor
                ) -> dict[str, torch.Tensor]:
        """Teacher-forced pass. ``mels`` ``(B, n_mels, T)`` log-mels with ``T`` a multiple of ``r``.

        Returns ``mel`` (decoder) and ``mel_post`` (after the postnet), both ``(B, n_mels, T)`` log-mels,
        ``stop`` logits ``(B, T / r)`` and ``alignments`` ``(B, T / r, N)``.
        """
        b, _, t = mels.shape
        if t % self.r:
            raise ValueError(f"mel length {t} is not a multiple of r = {self.r}; pad with pad_to_multiple")
        memory, pmem, mask = self.encode(text, text_lengths)
        target = self.normalize(mels)
        inputs = torch.cat([target.new_zeros(b, self.n_mels, 1), target[:, :, self.r - 1: -1: self.r]], 2)
        state = self.initial_state(memory)
        frames, stops, aligns = [], [], []
        for i in range(t // self.r):
            f, s, state = self.step(inputs[:, :, i], state, memory, pmem, mask)
            frames.append(f)
            stops.append(s)
            aligns.append(state.weights)
        mel = torch.cat(frames, 1).transpose(1, 2)  # (B, n_mels, T), normalised
        mel_post = mel + self.postnet(mel)
        return {"mel": self.denormalize(mel), "mel_post": self.denormalize(mel_post),
                "stop": torch.stack(stops, 1), "alignments": torch.stack(aligns, 1)}

    # ---- inference: free running --------------------------------------------------------------
    @torch.no_grad()
    def infer(self, text: torch.Tensor, *, max_decoder_steps: int = 200, stop_threshold: float = 0.5,
              min_steps: int = 2) -> dict[str, torch.Tensor | bool | int]:
        """Synthesise one text ``(N,)`` of ids.

        Returns ``{"mel": (n_mels, T) log-mels after the postnet, "mel_decoder": (n_mels, T),
        "alignment": (T / r, N), "stop": (T / r,) probabilities, "steps": int, "reached_max": bool}``.
        If the stop token never fires, decoding ends after ``max_decoder_steps`` steps with
        ``reached_max=True`` and a warning (the classic "reached max decoder steps" of Tacotron).
        """
        self.eval()
        text = text.reshape(1, -1)
        memory, pmem, mask = self.encode(text, torch.tensor([text.shape[1]], device=text.device))
        state = self.initial_state(memory)
        x = memory.new_zeros(1, self.n_mels)
        frames, stops, aligns = [], [], []
        reached_max = True
        for i in range(max_decoder_steps):
            f, s, state = self.step(x, state, memory, pmem, mask)
            frames.append(f)
            stops.append(torch.sigmoid(s))
            aligns.append(state.weights)
            x = f[:, -1]
            if i + 1 >= min_steps and float(stops[-1]) > stop_threshold:
                reached_max = False
                break
        if reached_max:
            warnings.warn(f"reached max decoder steps ({max_decoder_steps}) without a stop token: the output is "
                          "cut off (the attention probably failed to reach the end of the text)", stacklevel=2)
        mel = torch.cat(frames, 1).transpose(1, 2)
        mel_post = mel + self.postnet(mel)
        return {"mel": self.denormalize(mel_post)[0], "mel_decoder": self.denormalize(mel)[0],
                "alignment": torch.cat(aligns, 0), "stop": torch.cat(stops, 0), "steps": len(frames),
                "reached_max": reached_max}


def pad_to_multiple(mels: torch.Tensor, r: int, value: float) -> torch.Tensor:
    """Pad the time axis of ``(B, n_mels, T)`` with ``value`` up to a multiple of ``r``."""
    extra = (-mels.shape[-1]) % r
    return F.pad(mels, (0, extra), value=value) if extra else mels


def stop_targets(mel_lengths: torch.Tensor, steps: int, r: int) -> torch.Tensor:
    """``(B, steps)`` float: 1 from the decoder step that emits the last real frame onwards, else 0."""
    last = (mel_lengths + r - 1) // r - 1
    return (torch.arange(steps, device=mel_lengths.device)[None, :] >= last[:, None]).float()


def guided_attention_weights(n_text: int, n_steps: int, g: float = 0.2, *, device: torch.device | None = None
                             ) -> torch.Tensor:
    """Tachibana et al. (2017) penalty ``W[t, n] = 1 - exp(-(n / N - t / T)² / (2 g²))``: ``(T, N)``,
    0 on the diagonal and close to 1 far from it."""
    t = torch.arange(n_steps, device=device, dtype=torch.float32)[:, None] / n_steps
    n = torch.arange(n_text, device=device, dtype=torch.float32)[None, :] / n_text
    return 1.0 - torch.exp(-((n - t) ** 2) / (2 * g * g))


def guided_attention_loss(alignments: torch.Tensor, text_lengths: torch.Tensor, step_lengths: torch.Tensor,
                          g: float = 0.2) -> torch.Tensor:
    """Mean of ``α ⊙ W`` over the valid (step, character) cells of every utterance.

    ``alignments`` ``(B, S, N)``; ``text_lengths``, ``step_lengths`` ``(B,)``.
    """
    b, s, n = alignments.shape
    w = torch.zeros_like(alignments)
    for i, (nt, st) in enumerate(zip(text_lengths.tolist(), step_lengths.tolist())):
        w[i, :st, :nt] = guided_attention_weights(nt, st, g, device=alignments.device)
    mask = length_mask(step_lengths, s).unsqueeze(2) & length_mask(text_lengths, n).unsqueeze(1)
    return (alignments * w).sum() / mask.sum().clamp(min=1)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the valid frames: ``(B, n_mels, T)`` each, ``lengths`` ``(B,)``."""
    mask = length_mask(lengths, target.shape[-1]).unsqueeze(1).to(pred.dtype)
    return ((pred - target).abs() * mask).sum() / (mask.sum() * pred.shape[1]).clamp(min=1)


__all__ = [
    "DIGIT_WORDS", "SYMBOLS", "UnsupportedTextError", "normalize_text", "digits_to_text", "text_to_digits",
    "encode_text", "decode_ids", "prepare_clip", "clips_by_digit", "concatenate", "char_durations", "TTSUtterance",
    "make_utterance", "utterance_log_mel", "heldout_sequences", "sample_digits", "Batch", "collate", "sample_batch",
    "mel_statistics", "length_mask", "length_regulate", "DurationTTS", "LocationSensitiveAttention", "Tacotron",
    "pad_to_multiple", "stop_targets", "guided_attention_weights", "guided_attention_loss", "masked_l1",
    "count_parameters",
]
