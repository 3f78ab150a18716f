"""Profile-table row of chapter 13: App: personalised recommendation."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="13_recommendation",
        title="App: personalised recommendation",
        branch="applications",
        summary=("MovieLens with a random per-user hold-out (rating time is not viewing order), popularity, item-kNN, "
                 "BPR matrix factorisation tuned on validation and a text + history model, full-ranking HR@10 / "
                 "NDCG@10 with bootstrap intervals, cold start, the item space"),
        base={
            "torch_threads": 1,  # embedding look-ups in small batches: one thread is fastest on a shared CPU
            "k": 10, "cold_max_ratings": 10,  # cold-start slice: test items with at most this many training ratings
            "split_seed": 13, "session_gap_min": 30, "n_boot": 2000,  # random per-user hold-out; bootstrap over users
            # MF: dim and BPR-Opt's λ ("reg") are chosen on validation NDCG@10 from this grid
            "mf_grid": {"dim": (32, 64), "reg": (0.0, 1e-3)},
            "mf": {"dim": 64, "epochs": 15, "batch_size": 1024, "lr": 5e-3, "weight_decay": 0.0, "patience": 3},
            "text": {"dim": 64, "epochs": 12, "batch_size": 1024, "lr": 5e-3, "weight_decay": 0.0, "patience": 3},
            "history": 20, "decay": 0.8, "svd_dim": 64, "min_df": 2,
            "space_items": 1500, "space_labels": 12, "show_users": 3,
            "space_genres": ("Animation", "Horror", "Documentary", "Romance", "Sci-Fi", "War"),
        },
        profiles={
            "smoke": {"mf": {"dim": 16, "epochs": 1, "batch_size": 2048, "lr": 5e-3, "weight_decay": 0.0,
                             "patience": 1},
                      "text": {"dim": 16, "epochs": 1, "batch_size": 2048, "lr": 5e-3, "weight_decay": 0.0,
                               "patience": 1},
                      "svd_dim": 16, "space_items": 300, "mf_grid": {"dim": (16,), "reg": (0.0, 1e-3)}},
            "full": {"mf": {"dim": 128, "epochs": 40, "batch_size": 1024, "lr": 3e-3, "weight_decay": 0.0,
                            "patience": 5},
                     "text": {"dim": 128, "epochs": 30, "batch_size": 1024, "lr": 3e-3, "weight_decay": 0.0,
                              "patience": 5},
                     "svd_dim": 128},
        },
        targets={
            "fast": {"text_vs_popularity_ndcg10": ">= 1.2", "text_vs_popularity_hr10": ">= 1.2",
                     "ndcg_by_hand_abs_err": "< 1e-12", "bpr_grad_max_err": "< 1e-9"},
            "full": {"text_vs_popularity_ndcg10": ">= 1.2", "text_vs_popularity_hr10": ">= 1.2",
                     "ndcg_by_hand_abs_err": "< 1e-12", "bpr_grad_max_err": "< 1e-9"},
        },
        datasets=("movielens-small",),
        minutes={"smoke": 0.7, "fast": 3.0, "full": 5.0},
    )
)
