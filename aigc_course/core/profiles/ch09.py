"""Profile-table row of chapter 09: Text classification and sentiment analysis."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="09_sentiment",
        title="Text classification and sentiment analysis",
        branch="NLP",
        summary=("financial-tweet sentiment with TF-IDF, TextCNN, BiLSTM and a Transformer encoder; macro-F1, "
                 "calibration, error analysis"),
        base={
            "torch_threads": 1,  # small models, short batches: one thread each is fastest on a shared 2-core CPU
            "ablation_archs": ("tfidf", "textcnn"),  # retrained without class weights to show their effect
            "examples_per_class": 2, "top_ngrams": 8, "errors_shown": 12, "timing_texts": 2000,
            "check_n": 64,  # size of the random numeric checks (cross-entropy, weighted CE)
            "n_boot": 1000,  # paired bootstrap resamples of the test tweets for intervals of macro-F1 differences
        },
        profiles={"smoke": {"timing_texts": 200, "n_boot": 200}},
        targets={
            "fast": {
                "best_macro_f1": ">= 0.75", "best_accuracy": ">= 0.80", "expected_calibration_error": "<= 0.05",
                "macro_f1_sklearn_abs_err": "< 1e-12", "tfidf_sklearn_max_abs_err": "< 1e-9",
                "weighted_ce_abs_err": "< 1e-9", "ece_by_hand_abs_err": "< 1e-12",
                "temperature_keeps_predictions": "== True", "served_is_best": "== True",
                "prior_bias_val_mean_err": "< 1e-4",
            },
            "full": {
                "best_macro_f1": ">= 0.76", "best_accuracy": ">= 0.80", "expected_calibration_error": "<= 0.05",
                "macro_f1_sklearn_abs_err": "< 1e-12", "tfidf_sklearn_max_abs_err": "< 1e-9",
                "weighted_ce_abs_err": "< 1e-9", "ece_by_hand_abs_err": "< 1e-12",
                "temperature_keeps_predictions": "== True", "served_is_best": "== True",
                "prior_bias_val_mean_err": "< 1e-4",
            },
        },
        datasets=("financial-tweets",),
        minutes={"smoke": 0.5, "fast": 3.0, "full": 5.0},
    )
)
