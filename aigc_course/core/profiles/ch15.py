"""Profile-table row of chapter 15: Scaling out: data-parallel training."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="15_scaling_out",
        title="Scaling out: data-parallel training",
        branch="foundations",
        summary=("data parallelism from the gradient-averaging proof, ring all-reduce and its byte count, the "
                 "mini-GPT trained with HF Accelerate in 2 gloo processes (notebook launcher and torchrun) matching "
                 "the 1-process curve step by step, a compute + communication cost model, mixed precision and "
                 "gradient accumulation"),
        # The equivalence runs use chapter 08's fast mini-GPT sizes in every profile (2 gloo CPU processes, float32,
        # dropout 0); a machine with CUDA adds a run with chapter 08's full sizes on every GPU (mixed precision,
        # gradient accumulation), launched with torchrun.
        base={
            "n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 64, "global_batch": 32, "steps": 150,
            "lr": 4e-3, "warmup": 20, "weight_decay": 0.1, "grad_clip": 1.0, "eval_windows": 200,
            "threads_per_process": 1, "bucket_cap_mb": 25.0, "timeout_s": 120.0, "deadline_s": 600.0,
            "comm_sizes": (2**10, 2**13, 2**16, 2**18, 2**20, 2**22), "comm_repeats": 10, "probe_every": 10,
            "curve_tolerance": 1e-5,  # relative, per step: float32 reduction order gives ~1e-7 to 1e-6
            "check_batch": 8, "check_world_sizes": (2, 4), "accum_steps": 2, "accum_run_steps": 30,
            "ring_world_sizes": (2, 3, 4, 8), "ring_numel": 1200,
            "precision_samples": 100_000, "small_grad": 1e-8, "loss_scale_log2": 16,
            "gpu_n_layer": 6, "gpu_n_head": 6, "gpu_n_embd": 384, "gpu_block_size": 256, "gpu_global_batch": 64,
            "gpu_grad_accum": 2, "gpu_steps": 200, "gpu_lr": 1e-3, "gpu_warmup": 50, "gpu_mixed_precision": "auto",
        },
        profiles={
            "smoke": {"n_embd": 32, "block_size": 32, "global_batch": 8, "steps": 6, "warmup": 2, "eval_windows": 10,
                      "comm_sizes": (2**10, 2**16), "comm_repeats": 2, "probe_every": 2, "accum_run_steps": 4,
                      "deadline_s": 240.0, "precision_samples": 10_000, "gpu_n_layer": 2, "gpu_n_head": 4,
                      "gpu_n_embd": 128, "gpu_block_size": 64, "gpu_steps": 20, "gpu_warmup": 5},
            "full": {"steps": 200, "gpu_steps": 600},
        },
        targets={
            profile: {
                "max_curve_gap": "< 1e-5", "cli_vs_notebook_gap": "< 1e-5", "accum_curve_gap": "< 1e-5",
                "replica_max_diff": "== 0", "grad_avg_max_err": "< 1e-6", "accum_grad_max_err": "< 1e-6",
                "ring_bytes_formula_ok": "== True", "precision_bounds_ok": "== True",
                "two_proc_final_loss": "< 2.6",
            }
            for profile in ("fast", "full")
        },
        datasets=("tinyshakespeare",),
        minutes={"smoke": 0.8, "fast": 2.0, "full": 7.0},
    )
)
