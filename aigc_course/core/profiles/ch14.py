"""Profile-table row of chapter 14: Risks and responsibility."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="14_responsible_aigc",
        title="Risks and responsibility",
        branch="foundations",
        summary=("FGSM and PGD against the MNIST judge and adversarial training, a detector of generated digits "
                 "tested on unseen generators, name-swap bias probes of the sentiment model, memorisation of the "
                 "mini-GPT, a green-list text watermark with its threshold set on separate texts, saliency and "
                 "attention maps"),
        base={
            "torch_threads": 1,  # measured: on a busy 2-core machine two threads made the attacks ~5x slower
            # adversarial examples (pixels in [0, 1]); the recorded figures use eps = 0.1 and PGD-20
            "eps": 0.1, "eps_grid": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3), "pgd_steps": 20, "attack_images": 500,
            "curve_pgd_steps": 10, "curve_images": 300, "check_images": 256, "linear_eps": 1e-5, "linear_jitter": 0.01,
            "show_attacks": 6,
            # adversarial fine-tuning of a copy of the course classifier (Madry et al. 2018)
            "adv_eps": 0.1, "adv_pgd_steps": 2, "adv_steps": 100, "adv_batch": 128, "adv_lr": 1e-3, "adv_chunk": 50,
            "train_limit": None,
            # interpretability
            "saliency_images": 6, "ig_steps": 64, "saliency_stat_images": 500,
            # compact generators and the detector of generated digits. A diffusion model worth detecting needs
            # minutes of CPU training (chapter 06; 300 steps gave noise), so only the GPU profile includes one.
            "generators": ("dcgan", "mlp_gan", "vae"),
            "course_generators": True,  # load chapters 04/05's checkpoints when present, else train compact ones
            "dcgan": {"latent_dim": 64, "channels": 16, "steps": 400, "batch": 64, "lr_g": 1e-3, "lr_d": 2e-4},
            # the MLP-GAN needs ~2000 steps before its samples are digits rather than speckle
            "mlp_gan": {"latent_dim": 64, "hidden": 256, "depth": 2, "steps": 2000, "batch": 64, "lr_g": 1e-3,
                        "lr_d": 2e-4},
            "vae": {"latent_dim": 16, "channels": 16, "hidden": 256, "steps": 300, "batch": 64, "lr": 2e-3},
            "diffusion": {"channels": (16, 32, 32), "emb_dim": 64, "T": 200, "steps": 400, "batch": 64, "lr": 2e-3,
                          "ema_decay": 0.99, "sample_steps": 10},
            "detector_train": 2000, "detector_test": 1000, "detector_channels": 16, "detector_steps": 300,
            "detector_batch": 128, "detector_lr": 2e-3, "seen_generator": "dcgan", "show_samples": 8,
            # bias probe: chapter 09's model (fast: the TF-IDF model, chapter 09's choice there; full: the best)
            "sentiment_arch": "tfidf",
            # memorisation
            "mem_prompts": 100, "mem_prompt_len": 32, "mem_new": 50, "mem_lengths": (10, 20, 30, 40, 50),
            "mem_examples": 2,
            # a copy of the mini-GPT trained to memorise: ~60 passes over 5,000 characters (fast: 150 steps of 16
            # windows of the mini-GPT's 128-character context)
            "overfit_chars": 5000, "overfit_steps": 150, "overfit_lr": 2e-3, "overfit_batch": 16,
            # green-list watermark (Kirchenbauer et al. 2023)
            "wm_key": 15485863, "wm_gamma": 0.5, "wm_delta": 2.0, "wm_texts": 60, "wm_tokens": 200,
            "wm_prompt_len": 16, "wm_fpr": 0.01, "wm_delta_grid": (1.0, 2.0, 4.0), "wm_grid_texts": 20,
            "wm_loss_windows": 100, "wm_edit_shares": (0.0, 0.1, 0.2, 0.3, 0.5), "wm_sim_trials": 20000,
            "wm_other_keys": 20, "wm_human_texts": 200,  # human windows for calibration, as many for evaluation
            # attention maps
            "attn_text": "ROMEO:\nBut soft, what light through yonder window breaks?", "attn_zoom": 16,
        },
        profiles={
            "smoke": {"eps_grid": (0.0, 0.1, 0.3), "pgd_steps": 5, "curve_pgd_steps": 3, "attack_images": 100,
                      "curve_images": 50,
                      "check_images": 32, "adv_steps": 10, "adv_batch": 32, "adv_chunk": 5, "train_limit": 4000,
                      "ig_steps": 16,
                      "dcgan": {"latent_dim": 16, "channels": 8, "steps": 20, "batch": 32, "lr_g": 1e-3,
                                "lr_d": 2e-4},
                      "mlp_gan": {"latent_dim": 16, "hidden": 32, "depth": 1, "steps": 20, "batch": 32, "lr_g": 1e-3,
                                  "lr_d": 2e-4},
                      "vae": {"latent_dim": 8, "channels": 8, "hidden": 64, "steps": 20, "batch": 32, "lr": 2e-3},
                      "diffusion": {"channels": (8, 16), "emb_dim": 32, "T": 50, "steps": 10, "batch": 16,
                                    "lr": 2e-3, "ema_decay": 0.99, "sample_steps": 3},
                      "generators": ("dcgan", "mlp_gan", "vae", "diffusion"), "detector_train": 300,
                      "detector_test": 200, "detector_channels": 8, "detector_steps": 20,
                      "mem_prompts": 20, "mem_new": 30, "mem_lengths": (10, 20, 30), "overfit_chars": 1000,
                      "overfit_steps": 10, "wm_other_keys": 3, "wm_human_texts": 40,
                      "wm_texts": 20, "wm_tokens": 60, "wm_delta_grid": (1.0, 4.0), "wm_grid_texts": 10,
                      "wm_loss_windows": 20, "wm_edit_shares": (0.0, 0.3), "wm_sim_trials": 2000},
            "full": {"attack_images": 10000, "curve_images": 2000, "adv_steps": 2000, "adv_pgd_steps": 7,
                     "generators": ("dcgan", "mlp_gan", "vae", "diffusion"),
                     "dcgan": {"latent_dim": 64, "channels": 64, "steps": 4000, "batch": 128, "lr_g": 1e-3,
                               "lr_d": 2e-4},
                     "mlp_gan": {"latent_dim": 64, "hidden": 512, "depth": 2, "steps": 4000, "batch": 128,
                                 "lr_g": 1e-3, "lr_d": 2e-4},
                     "vae": {"latent_dim": 16, "channels": 32, "hidden": 256, "steps": 4000, "batch": 128, "lr": 2e-3},
                     "diffusion": {"channels": (32, 64, 64), "emb_dim": 128, "T": 400, "steps": 4000, "batch": 128,
                                   "lr": 2e-3, "ema_decay": 0.995, "sample_steps": 20},
                     "detector_train": 10000, "detector_test": 2000, "detector_steps": 1500,
                     "sentiment_arch": None, "mem_prompts": 1000, "overfit_steps": 1000, "wm_texts": 500,
                     "wm_human_texts": 1000,
                     "wm_delta_grid": (0.5, 1.0, 2.0, 4.0), "wm_grid_texts": 100, "wm_loss_windows": None},
        },
        targets={
            profile: {
                "clean_acc": ">= 0.98",
                "fgsm_step_max_err": "< 1e-6",
                "linear_gain_rel_err": "< 0.01",
                "pgd_within_eps_ball": "== True",
                "pgd_acc_eps_0_1": "<= fgsm_acc_eps_0_1",
                "adv_trained_pgd_acc_eps_0_1": "> pgd_acc_eps_0_1",
                "adv_training_robust_gain": ">= 0.2",
                "ig_completeness_max_rel_err": "< 0.05",
                "attention_logits_max_err": "< 1e-4",
                # chapter 04's DCGAN (loaded when its checkpoint exists) is much harder to spot than the compact
                # one: 0.72 with the chapter's generators, >= 0.9 with the compact ones (fast, CPU)
                "detector_acc_seen": ">= 0.65",
                "watermark_z_null_sim_mean_abs": "< 0.05",
                "watermark_detect_tpr_at_fpr_1pct": ">= 0.9",
            }
            for profile in ("fast", "full")
        },
        datasets=("mnist", "tinyshakespeare", "financial-tweets"),
        # the MNIST judge's classifier and the GANs (04), the VAE (05) whose images its detector sees, the char GPT
        # (08), the sentiment model (09)
        needs=("04_image_gans", "05_vae", "08_transformers_gpt", "09_sentiment"),
        minutes={"smoke": 0.7, "fast": 6.0, "full": 10.0},
    )
)
