"""Profile-table row of chapter 16: Instruction tuning and preferences."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="16_instruction_tuning",
        title="Instruction tuning and preferences",
        branch="NLP",
        summary=("an instruction set built from the course's own data (bookshop notes with changed prices, tweets, "
                 "Shakespeare speakers) with a held-out side, pretraining → SFT with the loss on the response only → "
                 "DPO derived from Bradley–Terry and checked numerically, on pairs of the model's own lines ranked by "
                 "a program; held-out win rate, KL to the reference, a β sweep and over-optimisation measured"),
        # Stage 1 pretrains chapter 08's GPT (RoPE, 2 layers of 128) on raw text; stage 2 fine-tunes it on the
        # course-made instructions (loss on the responses only); stage 3 is DPO on pairs of the model's own lines
        # ranked by a program (instruct.judge_voice), in rounds. Tuned without the held-out speakers: pairs from 3
        # of the DPO speakers, win rate on the 4th (fresh samples). One round of 100 steps: 0.77-0.80 for lr 5e-5 /
        # beta 0.1; more steps or a larger lr fitted the pairs better (train accuracy 0.95-1.0) and did not help
        # (0.71-0.77, KL 10-25 nats); rounds of fresh pairs did: 0.77 -> 0.83 -> 0.89 after three. The lenient
        # judge's rounds (same sizes, lr 1e-4) were tried once, on the held-out speakers, to see that the hack shows:
        # full-judge win rate 0.63 -> 0.35 while the lenient judge's rose 0.90 -> 0.96.
        base={
            "torch_threads": None,  # torch's default: every core (smoke: one)
            "seed": 0,
            "speakers": ("ROMEO", "JULIET", "GLOUCESTER", "MENENIUS", "CORIOLANUS", "LEONTES", "ISABELLA", "LUCIO"),
            "dpo_speakers": ("ROMEO", "JULIET", "GLOUCESTER", "MENENIUS"),  # the pairs come from these prompts only
            "n_tweet": 200, "n_voice": 160, "n_tweet_heldout": 90, "n_voice_heldout": 40, "voice_train_share": 0.85,
            "note_copies": 3, "note_copies_heldout": 1,
            "gpt": {"n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 352, "dropout": 0.0, "positions": "rope"},
            # a fixed number of steps, not a time budget: a 40 s budget gave 300-344 steps from run to run, and the
            # reward-hacking figures moved with the base model (full judge 0.54 -> 0.31 in one run, 0.75 -> 0.72 in
            # another); 350 steps take ~41 s here and are the full profile's recipe
            "pretrain": {"batch_size": 16, "block_size": 256, "lr": 4e-3, "min_lr_frac": 0.1, "warmup": 50,
                         "max_steps": 350, "seconds": None, "weight_decay": 0.1, "grad_clip": 1.0,
                         "eval_every": 100, "eval_windows": 50, "seed": 0},
            "kb_repeats": 20,  # the bookshop FAQ (original figures) is repeated in the pretraining text
            "sft": {"steps": 500, "batch_size": 16, "lr": 3e-3, "warmup": 20, "weight_decay": 0.0, "log_every": 50},
            "max_new": 100,
            # per DPO speaker: prompts x samples (128: 160 took 352 s in one fast run, 128 took 300 s, same claims)
            "pair_prompts": 128, "pair_samples": 4, "pair_min_gap": 0.1,
            "dpo": {"beta": 0.1, "steps": 100, "batch_size": 16, "lr": 5e-5, "log_every": 25},
            "dpo_rounds": 3,  # fresh pairs from the current policy, which becomes the next round's reference
            # reward hacking: rounds on pairs ranked by a lenient judge (known-word share only), scored by the full one
            "hack": {"rounds": 3, "steps": 100, "lr": 1e-4},
            "beta_grid": (0.03, 0.1, 1.0),
            "eval_samples": 40,  # sampled lines per held-out speaker for the win rate
            "kl_samples": 10, "show": 4, "best_of_n": 4,
        },
        profiles={
            "smoke": {"torch_threads": 1,  # seconds-long runs: one thread, so two notebooks share two cores
                      "n_tweet": 30, "n_voice": 24, "n_tweet_heldout": 12, "n_voice_heldout": 8, "note_copies": 1,
                      "note_copies_heldout": 1,
                      "gpt": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 352, "dropout": 0.0,
                              "positions": "rope"},
                      "pretrain": {"batch_size": 8, "block_size": 128, "lr": 4e-3, "min_lr_frac": 0.1, "warmup": 5,
                                   "max_steps": 30, "seconds": 3.0, "weight_decay": 0.1, "grad_clip": 1.0,
                                   "eval_every": 10, "eval_windows": 5, "seed": 0},
                      "kb_repeats": 1,
                      "sft": {"steps": 20, "batch_size": 8, "lr": 3e-3, "warmup": 5, "weight_decay": 0.0,
                              "log_every": 10},
                      "max_new": 40, "pair_prompts": 6, "dpo": {"beta": 0.1, "steps": 6, "batch_size": 4, "lr": 5e-5,
                                                               "log_every": 3},
                      "dpo_rounds": 2, "hack": {"rounds": 1, "steps": 6, "lr": 1e-4}, "beta_grid": (0.1, 1.0),
                      "eval_samples": 4, "kl_samples": 2, "show": 2,
                      "best_of_n": 2},
            # full: the fast recipe with a fixed number of pretraining steps instead of a time budget (the same
            # models on any machine). Chapter 08's full sizes were tried on one H200 (4 layers of 256, 3,000
            # pretraining and 1,500 SFT steps): the SFT lines were real lines (known-word share 0.96, 40 % of them
            # distinct: memorised), so the judge had no headroom, and DPO at these settings lost to SFT (round 1:
            # KL 51 nats, win rate 0.33; round 3: 0.53). A stronger model needs a judge that asks for more.
            "full": {"pretrain": {"batch_size": 16, "block_size": 256, "lr": 4e-3, "min_lr_frac": 0.1, "warmup": 50,
                                  "max_steps": 350, "seconds": None, "weight_decay": 0.1, "grad_clip": 1.0,
                                  "eval_every": 100, "eval_windows": 50, "seed": 0}},
        },
        targets={
            profile: {
                "sft_mask_max_err": "< 1e-6",
                "dpo_closed_form_max_err": "< 1e-9",
                "dpo_reward_identity_max_err": "< 1e-9",
                "dpo_heldout_win_rate": ">= 0.8",
                "sft_tweet_label_rate": ">= 0.9",
            }
            for profile in ("fast", "full")
        },
        datasets=("tinyshakespeare", "financial-tweets"),
        minutes={"smoke": 0.5, "fast": 6.0, "full": 3.0},
    )
)
