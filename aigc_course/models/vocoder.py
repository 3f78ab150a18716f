"""A small HiFi-GAN-style vocoder (chapter 10): log-mel frames → waveform, trained as a GAN.

**Generator** (Kong et al. 2020, HiFi-GAN, scaled down for a CPU): a 7-tap convolution lifts the
``n_mels`` channels, then for every upsampling factor ``u`` a transposed convolution (stride ``u``,
kernel ``2u``) multiplies the time resolution by ``u`` and halves the channels, followed by a residual
block of dilated convolutions; a last 7-tap convolution and ``tanh`` give the waveform. The factors
multiply to the hop: one input frame becomes ``hop`` samples.

**Discriminators** (both from HiFi-GAN): the *multi-period* discriminator reshapes the waveform into
``(samples / p, p)`` for periods ``p`` (2, 3, 5) and applies 2-D convolutions along time, so each sub-
discriminator sees one phase of a periodic signal; the *multi-scale* discriminator applies 1-D
convolutions to the waveform and to average-pooled (coarser) copies of it.

**Losses** (:func:`generator_loss`, :func:`discriminator_loss`): least-squares GAN losses, feature matching
(L1 between the discriminators' intermediate features of real and generated audio), and the
multi-resolution STFT loss of Parallel WaveGAN (Yamamoto et al. 2020): spectral convergence plus L1
of log magnitudes at several STFT resolutions, which alone already gives intelligible (if buzzy) audio.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

LRELU = 0.1


class ResBlock(nn.Module):
    """HiFi-GAN residual block: for each dilation ``d``, ``x += conv(lrelu(conv_d(lrelu(x))))``; ``(B, C, T)`` → same
    shape."""

    def __init__(self, channels: int, kernel: int = 3, dilations: Sequence[int] = (1, 3)):
        super().__init__()
        self.convs1 = nn.ModuleList(weight_norm(nn.Conv1d(channels, channels, kernel, dilation=d,
                                                          padding=d * (kernel - 1) // 2)) for d in dilations)
        self.convs2 = nn.ModuleList(weight_norm(nn.Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2))
                                    for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU)), LRELU))
        return x


class Generator(nn.Module):
    """Log-mel ``(B, n_mels, T)`` → waveform ``(B, 1, T · hop)`` in [-1, 1], ``hop = prod(upsample)``.

    The log-mels are normalised inside with the fixed ``mel_mean`` / ``mel_std`` buffers.
    """

    def __init__(self, n_mels: int, mel_mean: float, mel_std: float, *, channels: int = 128,
                 upsample: Sequence[int] = (5, 5, 4), kernel: int = 3, dilations: Sequence[int] = (1, 3)):
        super().__init__()
        self.register_buffer("mel_mean", torch.tensor(float(mel_mean)))
        self.register_buffer("mel_std", torch.tensor(float(mel_std)))
        self.pre = weight_norm(nn.Conv1d(n_mels, channels, 7, padding=3))
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        c = channels
        for u in upsample:
            self.ups.append(weight_norm(nn.ConvTranspose1d(c, c // 2, 2 * u, stride=u, padding=u // 2 + u % 2,
                                                           output_padding=u % 2)))
            c //= 2
            self.blocks.append(ResBlock(c, kernel, dilations))
        self.post = weight_norm(nn.Conv1d(c, 1, 7, padding=3))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        x = self.pre((logmel - self.mel_mean) / self.mel_std)
        for up, block in zip(self.ups, self.blocks):
            x = block(up(F.leaky_relu(x, LRELU)))
        return torch.tanh(self.post(F.leaky_relu(x, LRELU)))


def _conv_stack(convs: nn.ModuleList, out: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Leaky-ReLU conv stack, then ``out``: (flat score map ``(B, N)``, each layer's output for feature matching)."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU)
        feats.append(x)
    x = out(x)
    feats.append(x)
    return x.flatten(1), feats


class PeriodDiscriminator(nn.Module):
    """One sub-discriminator of the multi-period discriminator: waveform ``(B, 1, S)`` → (score map, features)."""

    def __init__(self, period: int, channels: Sequence[int] = (16, 32, 64)):
        super().__init__()
        self.period = period
        chans = [1, *channels]
        self.convs = nn.ModuleList(weight_norm(nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0)))
                                   for a, b in zip(chans, chans[1:]))
        self.out = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, s = x.shape
        if s % self.period:
            x = F.pad(x, (0, self.period - s % self.period), mode="reflect")
        return _conv_stack(self.convs, self.out, x.view(b, c, -1, self.period))


class ScaleDiscriminator(nn.Module):
    """One sub-discriminator of the multi-scale discriminator: waveform ``(B, 1, S)`` → (score map, features)."""

    def __init__(self, channels: Sequence[int] = (16, 32, 64)):
        super().__init__()
        chans = [1, *channels]
        layers = [weight_norm(nn.Conv1d(chans[0], chans[1], 15, padding=7))]
        layers += [weight_norm(nn.Conv1d(a, b, 41, stride=4, groups=4, padding=20)) for a, b in zip(chans[1:],
                                                                                                   chans[2:])]
        self.convs = nn.ModuleList(layers)
        self.out = weight_norm(nn.Conv1d(chans[-1], 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _conv_stack(self.convs, self.out, x)


class Discriminators(nn.Module):
    """Multi-period (``periods``) plus multi-scale (``scales`` copies, each average-pooled ×2) discriminators.

    ``forward(waveform (B, 1, S))`` → list of score maps and list of feature lists, one per sub-discriminator.
    """

    def __init__(self, periods: Sequence[int] = (2, 3, 5), scales: int = 2, channels: Sequence[int] = (16, 32, 64)):
        super().__init__()
        self.period_discs = nn.ModuleList(PeriodDiscriminator(p, channels) for p in periods)
        self.scale_discs = nn.ModuleList(ScaleDiscriminator(channels) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        scores, feats = [], []
        for d in self.period_discs:
            s, f = d(x)
            scores.append(s)
            feats.append(f)
        for i, d in enumerate(self.scale_discs):
            if i:
                x = F.avg_pool1d(x, 4, 2, padding=2)
            s, f = d(x)
            scores.append(s)
            feats.append(f)
        return scores, feats


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int, floor: float = 1e-5) -> torch.Tensor:
    """``(B, S)`` → ``(B, n_fft // 2 + 1, frames)`` magnitudes, floored at ``floor`` so that the log of silence
    (FSDD clips have stretches of exact digital zeros) stays finite and does not dominate the loss."""
    spec = torch.stft(x, n_fft, hop, win, torch.hann_window(win, device=x.device), return_complex=True)
    return spec.abs().clamp(min=floor)


def multi_resolution_stft_loss(fake: torch.Tensor, real: torch.Tensor,
                               resolutions: Sequence[tuple[int, int, int]] = ((128, 32, 128), (256, 64, 256),
                                                                              (512, 128, 512))) -> torch.Tensor:
    """Parallel WaveGAN's loss: mean over ``(n_fft, hop, win)`` resolutions of spectral convergence
    ``‖|S| - |Ŝ|‖_F / ‖|S|‖_F`` plus ``mean |log|S| - log|Ŝ||``. Waveforms ``(B, S)`` or ``(B, 1, S)``."""
    fake, real = fake.reshape(fake.shape[0], -1), real.reshape(real.shape[0], -1)
    total = fake.new_zeros(())
    for n_fft, hop, win in resolutions:
        f, r = stft_magnitude(fake, n_fft, hop, win), stft_magnitude(real, n_fft, hop, win)
        sc = torch.linalg.vector_norm(r - f) / torch.linalg.vector_norm(r)
        total = total + sc + (r.log() - f.log()).abs().mean()
    return total / len(resolutions)


def discriminator_loss(real_scores: list[torch.Tensor], fake_scores: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares GAN: ``Σ_k mean((D_k(x) - 1)²) + mean(D_k(G(m))²)``."""
    return sum(((r - 1) ** 2).mean() + (f ** 2).mean() for r, f in zip(real_scores, fake_scores))


def generator_adversarial_loss(fake_scores: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares GAN, generator side: ``Σ_k mean((D_k(G(m)) - 1)²)``."""
    return sum(((f - 1) ** 2).mean() for f in fake_scores)


def feature_matching_loss(real_feats: list[list[torch.Tensor]], fake_feats: list[list[torch.Tensor]]
                          ) -> torch.Tensor:
    """Mean L1 distance between the discriminators' features of real and generated audio (real detached)."""
    terms = [(r.detach() - f).abs().mean() for rs, fs in zip(real_feats, fake_feats) for r, f in zip(rs, fs)]
    return sum(terms) / len(terms)


__all__ = ["ResBlock", "Generator", "PeriodDiscriminator", "ScaleDiscriminator", "Discriminators",
           "stft_magnitude", "multi_resolution_stft_loss", "discriminator_loss", "generator_adversarial_loss",
           "feature_matching_loss"]
