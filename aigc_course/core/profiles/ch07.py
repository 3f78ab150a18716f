"""Profile-table row of chapter 07: Language models: n-grams, RNNs, LSTMs."""

from __future__ import annotations

import torch

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="07_language_models",
        title="Language models: n-grams, RNNs, LSTMs",
        branch="NLP",
        summary=("tokenisation (characters, words, a byte-level BPE checked token for token against HF `tokenizers`), "
                 "smoothed n-grams, RNN vs LSTM and vanishing gradients, a char-LSTM on Tiny Shakespeare, "
                 "greedy/temperature/top-k/top-p decoding, skip-gram embeddings"),
        # the char-LSTM itself is the shared COMPONENTS["char_lstm"] row (chapter 08 races it in short runs of its own)
        base={
            # smoke: one CPU thread (tiny models; on a busy machine two threads can be many times slower)
            "torch_threads": torch.get_num_threads(),
            "show_chars": 250, "min_count": 5,
            "addk_grid": (0.003, 0.01, 0.03, 0.1, 0.3, 1.0), "heldout_frac": 0.1, "max_order": 6,
            "heatmap_chars": " \netaoinsrhl.,:", "ngram_sample_chars": 300,
            "gate_check_input": 5, "gate_check_hidden": 8, "gate_check_batch": 3,
            "vg_steps": 100, "vg_embed": 32, "vg_hidden": 128, "vg_batch": 16, "vg_forget_bias": 3.0,
            "prompt": "ROMEO:\n", "probe_prompt": "ROMEO:\nI will ", "sample_chars": 400,
            "temperatures": (0.5, 1.0, 1.5), "top_k": 10, "top_p": 0.9,
            "diversity_excerpts": 4, "diversity_chars": 2000,
            "sgns_dim": 64, "sgns_window": 4, "sgns_negatives": 5, "sgns_subsample": 1e-3, "sgns_epochs": 3,
            "sgns_batch": 4096, "sgns_lr": 0.02, "sgns_train_limit": None,
            "neighbour_words": ("king", "queen", "romeo", "father", "death", "three", "york", "thou"),
            "wlm_hidden": 128, "wlm_steps": 300, "wlm_batch": 32, "wlm_block": 32, "wlm_lr": 3e-3,
            "wlm_eval_every": 50, "wlm_eval_windows": 200, "wlm_final_windows": None, "wlm_bf16": True,
            # byte-level BPE (§1): the plain trainer of the notebook is checked on a slice, the package's on the
            # whole training text (None) against Hugging Face tokenizers at bpe_vocab tokens
            "bpe_check_chars": 100_000, "bpe_check_merges": 40, "bpe_train_chars": None, "bpe_vocab": 1024,
            "bpe_sizes": (256, 512, 1024, 2048, 4096),
        },
        profiles={
            "smoke": {"torch_threads": 1, "addk_grid": (0.1, 1.0), "max_order": 3, "ngram_sample_chars": 60,
                      "bpe_check_chars": 20_000, "bpe_check_merges": 10, "bpe_train_chars": 200_000,
                      "bpe_vocab": 512, "bpe_sizes": (256, 512, 1024),
                      "vg_steps": 30, "vg_hidden": 32, "sample_chars": 80, "diversity_excerpts": 2,
                      "diversity_chars": 300,
                      "sgns_epochs": 1, "sgns_train_limit": 20_000, "wlm_hidden": 32, "wlm_steps": 10,
                      "wlm_eval_every": 5, "wlm_eval_windows": 20, "wlm_final_windows": 20},
            "full": {"max_order": 7, "sgns_epochs": 5, "wlm_hidden": 256, "wlm_steps": 1500, "wlm_eval_every": 150,
                     "wlm_bf16": False},
        },
        targets={
            "fast": {"lstm_val_loss": "<= 1.75", "trigram_val_loss": "< bigram_val_loss",
                     "lstm_val_loss_below_trigram": "== True", "lstm_cell_check_max_err": "< 1e-5",
                     "sample_distinct_2": "> greedy_distinct_2", "bpe_matches_tokenizers": "== 1.0",
                     "bpe_round_trip_exact": "== True", "bpe_plain_matches_package": "== True"},
            "full": {"lstm_val_loss": "<= 1.50", "trigram_val_loss": "< bigram_val_loss",
                     "lstm_val_loss_below_trigram": "== True", "lstm_cell_check_max_err": "< 1e-5",
                     "sample_distinct_2": "> greedy_distinct_2", "bpe_matches_tokenizers": "== 1.0",
                     "bpe_round_trip_exact": "== True", "bpe_plain_matches_package": "== True"},
        },
        datasets=("tinyshakespeare",),
        minutes={"smoke": 0.5, "fast": 4.0, "full": 6.0},
    )
)
