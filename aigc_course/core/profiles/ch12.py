"""Profile-table row of chapter 12: App: financial sentiment monitoring."""

from __future__ import annotations

from ..config import ChapterSpec, register

register(
    ChapterSpec(
        stem="12_sentiment_monitoring",
        title="App: financial sentiment monitoring",
        branch="applications",
        summary=("held-out tweets replayed as a stream with volume-matched negative bursts and decoys, the chapter-09 "
                 "model, per-ticker rolling sentiment, z-score and CUSUM alerts scored by precision, recall and delay "
                 "against a tweet-volume baseline"),
        base={
            "torch_threads": 1,  # the served classifier is small; one thread is fastest on a shared CPU
            # calibration streams replay chapter 09's validation subset, evaluation streams the test split
            "calibration_seeds": (1, 2, 3), "evaluation_seeds": tuple(range(11, 21)), "n_boot": 2000,
            "days": 3, "n_bursts": 8, "n_decoys": 8, "event_tweets": 6, "burst_minutes": 60, "burst_gap_min": 180,
            "burst_bearish_share": 0.75, "rate_per_hour": 1.0, "min_pool_bearish": 2, "min_pool_other": 4,
            # companies by name; no investment bank: "target cut at Deutsche Bank" is about another company
            "ticker_names": {"TSLA": ("Tesla",), "UBER": ("Uber",), "AMZN": ("Amazon",), "BA": ("Boeing",),
                             "F": ("Ford Motor", "Ford"), "MSFT": ("Microsoft",), "HD": ("Home Depot",),
                             "AAPL": ("Apple",), "T": ("AT&T",), "FB": ("Facebook",), "ZM": ("Zoom Video",),
                             "NFLX": ("Netflix",), "DIS": ("Disney",), "GE": ("General Electric",)},
            "bin_minutes": 10, "index_window_bins": 6, "z_window_bins": 6, "baseline_bins": 144, "sigma_floor": 0.5,
            "cusum_k": 0.3, "match_tolerance_min": 60,
            "z_grid": (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0),
            "cusum_grid": (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0),
            "detector": "zscore", "dashboard_tickers": 3, "check_bins": 40,
        },
        profiles={"smoke": {"days": 1, "n_bursts": 3, "n_decoys": 3, "calibration_seeds": (1,),
                            "evaluation_seeds": (11, 12)}},
        targets={
            "fast": {"alert_f1_gain_over_volume": "> 0", "zscore_by_hand_max_err": "< 1e-9",
                     "cusum_by_hand_max_err": "< 1e-9", "index_by_hand_max_err": "< 1e-9"},
            "full": {"alert_f1_gain_over_volume": "> 0", "zscore_by_hand_max_err": "< 1e-9",
                     "cusum_by_hand_max_err": "< 1e-9", "index_by_hand_max_err": "< 1e-9"},
        },
        datasets=("financial-tweets",),
        needs=("09_sentiment",),  # the served sentiment model
        minutes={"smoke": 0.5, "fast": 1.0, "full": 2.0},
    )
)
