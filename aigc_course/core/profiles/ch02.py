"""Profile-table row of chapter 02: Losses: cross-entropy, MSE and likelihood."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="02_losses",
        title="Losses: cross-entropy, MSE and likelihood",
        branch="neural networks",
        summary=("cross-entropy, MSE and BCE as likelihoods, the p − y gradient, log-sum-exp, label smoothing, "
                 "entropy and KL divergence (forward vs reverse KL on the ring)"),
        base={
            "torch_threads": 1,  # tiny tensors: one CPU thread is fastest and immune to a busy machine
            "check_n": 64, "check_k": 5, "check_d": 3, "logit_scale": 3.0, "big_logit": 1000.0,
            "logit_range": 10.0, "smoothing": 0.1, "smoothing_steps": 2000, "smoothing_lr": 1.0,
            "blob_n": 500, "blob_shift": 2.0, "test_seed_offset": 1000, "wrong_logit": 10.0,
            "recovery_steps": 2000, "recovery_lr": 0.5,
            "kl_pairs": 1000, "kl_lr": 0.05, "kl_fit_steps": 1500, "kl_ring_std": 0.2, "kl_samples": 20000,
            "kl_fit_samples": 4000,
            "kl_mc": 200_000, "kl_grid": 561, "kl_grid_lim": 7.0,
        },
        profiles={
            "smoke": {"smoothing_steps": 100, "blob_n": 100, "recovery_steps": 20, "kl_fit_steps": 100,
                      "kl_samples": 2000, "kl_fit_samples": 1000, "kl_mc": 20000, "kl_grid": 241},
        },
        targets={
            profile: {
                "softmax_ce_grad_max_err": "< 1e-9",
                "mse_equals_gaussian_nll_gap": "< 1e-9",
                "bce_equals_bernoulli_nll_err": "< 1e-9",
                "logsumexp_naive_overflows": "== True",
                "stable_ce_max_err": "< 1e-9",
                "label_smoothing_max_err": "< 1e-9",
                "smoothing_gap_err": "< 1e-6",
                "mse_steps_to_90": "> bce_steps_to_90",
            }
            for profile in ("fast", "full")
        },
        datasets=(),
        minutes={"smoke": 0.2, "fast": 0.3, "full": 0.3},
    )
)
