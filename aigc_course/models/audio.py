"""Audio plumbing for chapter 10: log-mel features, Griffin-Lim, WAV files and in-notebook players.

Conventions used throughout the course:

- a **waveform** is float32 in [-1, 1], shape ``(samples,)`` or ``(batch, samples)``;
- a **log-mel spectrogram** is the natural log of a *magnitude* mel spectrogram (``power=1``),
  floored at ``log(cfg.floor)``, shape ``(n_mels, frames)`` or ``(batch, n_mels, frames)``;
- frames are centred (``center=True``, reflect padding), so ``samples`` give ``1 + samples // hop``
  frames, frame ``t`` centred on sample ``t * hop``.

Files are read and written with ``soundfile`` (``torchaudio.load`` needs torchcodec, which the course
does not install). The mel filterbank is torchaudio's (HTK mel scale, no area normalisation); the
notebook checks it against the formula :func:`hz_to_mel`.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio


@dataclass(frozen=True)
class MelConfig:
    """STFT and mel settings. The defaults suit 8 kHz speech (FSDD): a 50 ms Hann window, 12.5 ms hop
    (80 frames per second), 512-point FFT (257 bins, 15.6 Hz apart) and 40 mel bands up to 4 kHz."""

    sample_rate: int = 8000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 100
    n_mels: int = 40
    f_min: float = 0.0
    f_max: float | None = None
    floor: float = 1e-5

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def fmax(self) -> float:
        return float(self.f_max if self.f_max is not None else self.sample_rate / 2)

    @property
    def log_floor(self) -> float:
        """The smallest log-mel value, ``log(floor)`` (digital silence)."""
        return math.log(self.floor)

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def hz_to_mel(f: float | np.ndarray | torch.Tensor) -> float | np.ndarray | torch.Tensor:
    """HTK mel scale: ``m = 2595 · log10(1 + f / 700)`` (f in Hz)."""
    if isinstance(f, torch.Tensor):
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: float | np.ndarray | torch.Tensor) -> float | np.ndarray | torch.Tensor:
    """Inverse of :func:`hz_to_mel`: ``f = 700 · (10^(m / 2595) - 1)``."""
    if isinstance(m, torch.Tensor):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(cfg: MelConfig = MelConfig()) -> torch.Tensor:
    """torchaudio's triangular mel filters, ``(n_freqs, n_mels)``: column ``m`` weights the STFT bins."""
    return torchaudio.functional.melscale_fbanks(cfg.n_freqs, cfg.f_min, cfg.fmax, cfg.n_mels, cfg.sample_rate,
                                                  norm=None, mel_scale="htk")


@functools.lru_cache(maxsize=8)
def _mel_module(cfg: MelConfig) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length,
        f_min=cfg.f_min, f_max=cfg.fmax, n_mels=cfg.n_mels, power=1.0, center=True, pad_mode="reflect",
        norm=None, mel_scale="htk",
    )


@functools.lru_cache(maxsize=8)
def _inverse_mel_module(cfg: MelConfig) -> torchaudio.transforms.InverseMelScale:
    return torchaudio.transforms.InverseMelScale(n_stft=cfg.n_freqs, n_mels=cfg.n_mels, sample_rate=cfg.sample_rate,
                                                 f_min=cfg.f_min, f_max=cfg.fmax, norm=None, mel_scale="htk")


def n_frames(n_samples: int, cfg: MelConfig = MelConfig()) -> int:
    """Frames of a centred STFT of ``n_samples`` samples: ``1 + n_samples // hop``."""
    return 1 + n_samples // cfg.hop_length


def stft_magnitude(audio: torch.Tensor | np.ndarray, cfg: MelConfig = MelConfig()) -> torch.Tensor:
    """Magnitude STFT ``|X|``: ``(..., samples)`` → ``(..., n_freqs, frames)`` (Hann window, centred)."""
    x = torch.as_tensor(audio, dtype=torch.float32)
    window = torch.hann_window(cfg.win_length, device=x.device)
    shape = x.shape
    spec = torch.stft(x.reshape(-1, shape[-1]), cfg.n_fft, cfg.hop_length, cfg.win_length, window,
                      center=True, pad_mode="reflect", return_complex=True).abs()
    return spec.reshape(*shape[:-1], *spec.shape[-2:])


def mel_spectrogram(audio: torch.Tensor | np.ndarray, cfg: MelConfig = MelConfig()) -> torch.Tensor:
    """Magnitude mel spectrogram: ``(..., samples)`` → ``(..., n_mels, frames)``."""
    x = torch.as_tensor(audio, dtype=torch.float32)
    module = _mel_module(cfg).to(x.device)
    return module(x)


def log_mel(audio: torch.Tensor | np.ndarray, cfg: MelConfig = MelConfig()) -> torch.Tensor:
    """Log-mel spectrogram ``log(max(mel, floor))``: ``(..., samples)`` → ``(..., n_mels, frames)``."""
    return torch.log(mel_spectrogram(audio, cfg).clamp(min=cfg.floor))


def mel_to_linear(logmel: torch.Tensor, cfg: MelConfig = MelConfig()) -> torch.Tensor:
    """Least-squares inverse of the mel filterbank (torchaudio ``InverseMelScale``, clipped at 0):
    log-mel ``(..., n_mels, frames)`` → magnitude STFT estimate ``(..., n_freqs, frames)``."""
    mel = torch.as_tensor(logmel, dtype=torch.float32).exp()
    return _inverse_mel_module(cfg).to(mel.device)(mel)


def griffin_lim(
    logmel: torch.Tensor,
    cfg: MelConfig = MelConfig(),
    *,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
) -> torch.Tensor:
    """Waveform from a log-mel spectrogram: inverse mel, then Griffin-Lim phase reconstruction.

    ``logmel`` ``(n_mels, frames)`` or ``(batch, n_mels, frames)`` → waveform ``(samples,)`` or
    ``(batch, samples)`` with ``samples = (frames - 1) · hop`` unless ``length`` is given. The fast
    Griffin-Lim of Perraudin et al. (2013) with ``momentum``, starting from zero phase (deterministic).
    """
    spec = mel_to_linear(logmel, cfg)
    length = length if length is not None else (spec.shape[-1] - 1) * cfg.hop_length
    window = torch.hann_window(cfg.win_length, device=spec.device)
    wav = torchaudio.functional.griffinlim(spec, window, cfg.n_fft, cfg.hop_length, cfg.win_length, power=1.0,
                                           n_iter=n_iter, momentum=momentum, length=length, rand_init=False)
    return wav.clamp(-1.0, 1.0)


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """``‖|X| - |Y|‖_F / ‖|X|‖_F`` for magnitude spectrograms of equal shape (0 = identical)."""
    reference, estimate = torch.as_tensor(reference), torch.as_tensor(estimate)
    t = min(reference.shape[-1], estimate.shape[-1])
    ref, est = reference[..., :t], estimate[..., :t]
    return float(torch.linalg.vector_norm(ref - est) / torch.linalg.vector_norm(ref).clamp(min=1e-12))


# --------------------------------------------------------------------------------------------
# Clips: trimming, levels
# --------------------------------------------------------------------------------------------
def frame_energy_db(audio: np.ndarray, frame: int) -> np.ndarray:
    """Mean power of consecutive non-overlapping frames of ``frame`` samples, in dB: ``(samples // frame,)``."""
    a = np.asarray(audio, dtype=np.float64)
    n = len(a) // frame
    power = (a[: n * frame].reshape(n, frame) ** 2).mean(1)
    return 10.0 * np.log10(power + 1e-12)


def trim_silence(audio: np.ndarray, *, top_db: float = 35.0, frame: int = 100, margin: int = 1) -> np.ndarray:
    """Cut leading and trailing frames more than ``top_db`` below the loudest frame.

    ``audio`` ``(samples,)`` → a copy ``(trimmed,)`` whose length is a multiple of ``frame``, keeping
    ``margin`` extra frames on each side, with 5 ms linear fades so the cut does not click.
    """
    a = np.asarray(audio, dtype=np.float32)
    energy = frame_energy_db(a, frame)
    if len(energy) == 0:
        raise ValueError(f"clip of {len(a)} samples is shorter than one frame ({frame})")
    loud = np.nonzero(energy > energy.max() - top_db)[0]
    first, last = max(0, loud[0] - margin), min(len(energy) - 1, loud[-1] + margin)
    out = a[first * frame: (last + 1) * frame].copy()
    fade = min(len(out) // 4, 40)
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        out[:fade] *= ramp
        out[-fade:] *= ramp[::-1]
    return out


def peak_normalize(audio: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale ``audio`` so that its largest absolute sample is ``peak`` (silence is returned unchanged)."""
    a = np.asarray(audio, dtype=np.float32)
    m = float(np.abs(a).max()) if a.size else 0.0
    return a if m == 0.0 else (a * (peak / m)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Files and players
# --------------------------------------------------------------------------------------------
def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a WAV file with soundfile: ``(float32 (samples,) in [-1, 1], sample_rate)`` (channels averaged)."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(1), int(rate)


def write_wav(path: str | os.PathLike[str], audio: np.ndarray | torch.Tensor, sample_rate: int) -> Path:
    """Write a mono 16-bit PCM WAV (samples clipped to [-1, 1]); returns the path."""
    a = audio.detach().cpu().float().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio, np.float32)
    a = np.clip(a.reshape(-1), -1.0, 1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), a, sample_rate, subtype="PCM_16")
    return path


def play(audio: np.ndarray | torch.Tensor, sample_rate: int = 8000, *, normalize: bool = True):
    """An ``IPython.display.Audio`` player for a waveform ``(samples,)`` (shown when it ends a cell).

    ``normalize=False`` keeps the level (samples must then lie in [-1, 1]).
    """
    from IPython.display import Audio

    a = audio.detach().cpu().float().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio, np.float32)
    return Audio(a.reshape(-1), rate=sample_rate, normalize=normalize)
