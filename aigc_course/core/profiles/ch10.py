"""Profile-table row of chapter 10: Text-to-speech."""

from __future__ import annotations

from ..config import ChapterSpec, register
from .components import TTS_MEL

register(
    ChapterSpec(
        stem="10_text_to_speech",
        title="Text-to-speech",
        branch="TTS",
        summary=("STFT and mel features, Griffin-Lim, a CTC spoken-digit recogniser as judge (trained on the other "
                 "speakers, so it has never heard the TTS voice), a duration model, a Tacotron-style model with "
                 "location-sensitive attention, a GAN vocoder"),
        base={
            "torch_threads": 1,  # small sequential models: one thread is fastest, and robust on a busy machine
            **TTS_MEL, "speaker": "lucas", "trim_db": 35.0, "gap_frames": (6, 10), "tail_frames": 3, "max_digits": 4,
            "heldout_texts": 40, "heldout_lengths": (2, 3, 4), "heldout_seed": 10, "stats_utterances": 200,
            "gl_iters": 32, "gl_momentum": 0.99, "gl_iter_scan": (1, 4, 16, 32, 64), "mel_scan": (40, 64, 80),
            "scan_clips": 10, "ctc_toy_steps": 6, "diag_band": 0.2, "steps_per_epoch": 50,
            # duration model (FastSpeech-style)
            "dur_dim": 128, "dur_layers": 3, "dur_steps": 200, "dur_batch": 16, "dur_lr": 2e-3,
            # Tacotron
            "r": 2, "enc_dim": 128, "prenet_dim": 64, "rnn_dim": 128, "attn_dim": 128, "loc_filters": 16,
            "loc_kernel": 15, "postnet_dim": 128, "postnet_layers": 3, "taco_steps": 700, "taco_batch": 16,
            "taco_lr": 2e-3, "warmup": 50, "ga_weight": 2.0, "ga_g": 0.2, "stop_pos_weight": 5.0, "grad_clip": 1.0,
            "snapshot_fracs": (0.0, 0.1, 0.2, 0.4, 1.0), "max_decoder_steps": 250, "demo_max_steps": 10,
            # vocoder (HiFi-GAN-style)
            "voc_channels": 128, "voc_upsample": (5, 5, 4), "voc_periods": (2, 3, 5), "voc_scales": 2,
            "voc_disc_channels": (16, 32, 64), "voc_steps": 800, "voc_adv_from": 700, "voc_batch": 16,
            "voc_segment": 16, "voc_lr": 2e-3, "voc_stft_weight": 2.5, "voc_fm_weight": 2.0,
            "demo_text": "2 0 2 4",
        },
        profiles={
            "smoke": {"heldout_texts": 4, "stats_utterances": 20, "gl_iters": 4, "gl_iter_scan": (1, 4),
                      "mel_scan": (40, 64), "scan_clips": 2, "steps_per_epoch": 5,
                      "dur_dim": 16, "dur_steps": 5, "dur_batch": 4,
                      "enc_dim": 16, "prenet_dim": 16, "rnn_dim": 32, "attn_dim": 16, "loc_filters": 4,
                      "postnet_dim": 16, "taco_steps": 4, "taco_batch": 4, "warmup": 2, "max_decoder_steps": 30,
                      "voc_channels": 16, "voc_disc_channels": (4, 8, 8), "voc_steps": 4, "voc_adv_from": 2,
                      "voc_batch": 4},
            "full": {"heldout_texts": 100, "stats_utterances": 500, "gl_iters": 64, "scan_clips": 20,
                     "steps_per_epoch": 250, "dur_dim": 256, "dur_steps": 1500, "dur_batch": 32, "dur_lr": 1e-3,
                     "enc_dim": 256, "prenet_dim": 128, "rnn_dim": 512, "attn_dim": 128, "loc_filters": 32,
                     "loc_kernel": 31, "postnet_dim": 256, "postnet_layers": 5, "taco_steps": 2000,
                     "taco_batch": 32, "taco_lr": 1e-3, "warmup": 200, "voc_channels": 256,
                     "voc_disc_channels": (32, 64, 128), "voc_steps": 4000, "voc_adv_from": 1000, "voc_batch": 32,
                     "voc_segment": 24, "voc_lr": 5e-4},
        },
        targets={
            "fast": {"recognizer_real_test_acc": ">= 0.97", "recognizer_unseen_speaker_acc": ">= 0.80",
                     "griffinlim_real_der": "<= 0.05", "duration_model_der": "<= 0.1", "tacotron_der": "<= 0.25",
                     "tacotron_alignment_diagonality": ">= 0.8", "mel_formula_max_err": "< 1e-4",
                     "ctc_brute_force_abs_err": "< 1e-9", "attention_energy_max_err": "< 1e-5",
                     "saved_wavs_der": "<= 0.25"},
            "full": {"recognizer_real_test_acc": ">= 0.97", "recognizer_unseen_speaker_acc": ">= 0.80",
                     "griffinlim_real_der": "<= 0.05", "duration_model_der": "<= 0.05", "tacotron_der": "<= 0.1",
                     "tacotron_alignment_diagonality": ">= 0.9", "mel_formula_max_err": "< 1e-4",
                     "ctc_brute_force_abs_err": "< 1e-9", "attention_energy_max_err": "< 1e-5",
                     "vocoder_der": "<= 0.1", "saved_wavs_der": "<= 0.1"},
        },
        datasets=("fsdd", "ljspeech-sample"),
        minutes={"smoke": 0.7, "fast": 7.5, "full": 10.0},  # fast alone, empty checkpoints: 421 s (limit 8)
    )
)
