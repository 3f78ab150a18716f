"""Profile-table row of chapter 01: Neural networks from scratch."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="01_neural_networks",
        title="Neural networks from scratch",
        branch="neural networks",
        summary="backprop by hand, gradient checks, SGD vs momentum vs Adam, decision boundaries",
        base={
            "torch_threads": 1,  # tiny tensors: one CPU thread is fastest and immune to a busy machine
            "hidden": 32, "n_train": 1000, "n_test": 1000, "moons_noise": 0.15, "circles_noise": 0.08,
            "circles_factor": 0.5, "test_seed_offset": 1000,
            "check_n": 8, "check_d": 3, "check_m": 5, "check_k": 4, "fd_eps": 1e-6,
            "manual_lr": 0.5, "manual_steps": 300,
            "batch_size": 64, "race_steps": 600, "lr_sgd": 0.1, "lr_momentum": 0.1, "momentum": 0.9,
            "lr_adam": 0.01, "fit_steps": 1500, "fit_lr": 0.01, "grid_resolution": 200,
        },
        profiles={
            "smoke": {"n_train": 200, "n_test": 200, "manual_steps": 20, "race_steps": 30, "fit_steps": 40,
                      "grid_resolution": 60},
            "full": {"race_steps": 1500, "fit_steps": 3000},
        },
        targets={
            profile: {
                "manual_vs_autograd_max_rel_err": "< 1e-6",
                "finite_diff_max_rel_err": "< 1e-6",
                "optimizer_rules_max_err": "< 1e-6",
                "moons_test_accuracy": ">= 0.97",
                "circles_test_accuracy": ">= 0.95",
                "moons_linear_test_accuracy": "< moons_test_accuracy",
            }
            for profile in ("fast", "full")
        },
        datasets=(),
        minutes={"smoke": 0.2, "fast": 0.5, "full": 0.5},
    )
)
