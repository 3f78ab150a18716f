"""Profile-table row of chapter 03: GAN theory."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="03_gan_theory",
        title="GAN theory",
        branch="GAN",
        summary=("optimal discriminator, the JSD identity, saturating vs non-saturating loss, toy GANs, what causes "
                 "mode collapse (step ratio vs R1, measured), anatomy of a broken GAN, why the JSD saturates when "
                 "supports do not overlap"),
        base={
            "torch_threads": 1,  # tiny MLPs: one CPU thread is faster than several
            "grid_lim": 8.0, "grid_points": 4001,  # 1-D integration grid [-lim, lim]
            "pg_mean": 0.5, "pg_std": 1.5,  # the p_g of the numeric checks
            "dstar_lr": 0.1, "dstar_steps": 1000, "mass_floor": 1e-3,
            "batch": 256, "lr": 1e-3, "beta1": 0.5, "beta2": 0.999, "cosine_lr": True, "data_pool": 20000,
            "snapshot_fracs": (0.0, 0.05, 0.2, 1.0),
            "gan1d_latent": 1, "gan1d_hidden": 32, "gan1d_depth": 2, "gan1d_steps": 1500, "sat_demo_steps": 300,
            "ring_std": 0.05, "ring_latent": 2, "ring_hidden": 64, "ring_depth": 3, "ring_steps": 4000,
            "r1_gamma": 0.1,
            "eval_samples": 2000, "n_sigma": 3.0, "min_share": 0.25,
            "collapse_steps": 1000, "collapse_g_steps": 5, "collapse_seeds": 2,
            "linear_steps": 1500, "broken_steps": 300, "zero_grad_steps": 200, "zero_grad_lr": 0.1,
            "plot_ylim_1d": 1.3, "scan_std": 0.3, "scan_max_shift": 4.0, "scan_points": 41,
        },
        profiles={
            "smoke": {"grid_points": 1001, "dstar_steps": 200, "gan1d_steps": 60, "sat_demo_steps": 30,
                      "ring_steps": 150, "collapse_steps": 40, "collapse_seeds": 1, "linear_steps": 60,
                      "broken_steps": 30, "zero_grad_steps": 30, "eval_samples": 400},
            "full": {"gan1d_steps": 3000, "ring_steps": 8000, "collapse_steps": 2000, "linear_steps": 3000},
        },
        targets={
            profile: {
                "jsd_identity_abs_err": "< 1e-3",
                "optimal_d_max_err": "< 1e-2",
                "ns_over_sat_grad_ratio": "> 10",
                "ring_modes_covered": ">= 7",
                "ring_high_quality_frac": ">= 0.7",
                "linear_generator_modes_covered": "< ring_modes_covered",
                "collapsed_run_modes_covered": "< ring_modes_covered",
            }
            for profile in ("fast", "full")
        },
        datasets=(),
        minutes={"smoke": 0.5, "fast": 2, "full": 2},  # fast: 118 s alone, from empty checkpoints
    )
)
