"""Chapter 12: ticker extraction, stream construction, rolling index, detectors and alert scoring."""

import numpy as np
import pandas as pd

from aigc_course.apps import monitoring as mon

HP = {"days": 1, "n_bursts": 2, "n_decoys": 2, "event_tweets": 3, "burst_minutes": 30, "burst_gap_min": 120,
      "burst_bearish_share": 1.0, "rate_per_hour": 1.0, "min_pool_bearish": 2, "min_pool_other": 2,
      "ticker_names": {"TSLA": ("Tesla",), "BA": ("Boeing",), "XOM": ("Exxon",)}}
TEXTS = ["Tesla shares slump", "$TSLA recall widens", "Tesla hits record", "Tesla opens plant",
         "Boeing cuts output", "$BA halts deliveries", "Boeing wins order", "Boeing upgraded",
         "Exxon beats", "Fed holds rates", "$SPY flat", "Oil at $80", "Apple event today"]
LABELS = np.array([0, 0, 1, 2, 0, 0, 1, 1, 1, 2, 2, 2, 2])


def test_extract_tickers():
    assert mon.extract_tickers("$aapl and $AAPL vs $5, $1.2bn, $msft") == ["AAPL", "MSFT"]


def test_company_mentions_and_pools():
    names = HP["ticker_names"]
    assert mon.company_mentions("Tesla and $BA", names) == ["TSLA", "BA"]
    assert mon.company_mentions("Teslas? no: Boeingx", names) == []
    assert mon.all_tickers("$AAPL vs Tesla", names) == ["AAPL", "TSLA"]
    pools = mon.company_pools(TEXTS, LABELS, names, min_bearish=2, min_other=2)
    assert set(pools) == {"TSLA", "BA"}  # Exxon has no bearish text
    assert pools["TSLA"]["bearish"].tolist() == [0, 1] and pools["TSLA"]["other"].tolist() == [2, 3]


def test_build_stream_injects_bursts_and_equal_volume_decoys():
    s = mon.build_stream(TEXTS, LABELS, HP, seed=0)
    assert s.tweets["time_min"].is_monotonic_increasing and len(s.bursts) == 2 and len(s.info["decoys"]) == 2
    for b in s.bursts.itertuples():
        part = s.tweets[s.tweets.burst == b.Index]
        assert len(part) == 3 and (part.label == 0).all() and (part.kind == "burst").all()
        assert part.time_min.between(b.start_min, b.end_min).all()
        assert all(b.ticker in ts for ts in part.tickers)  # every burst tweet names its company
    decoy = s.tweets[s.tweets.kind == "decoy"]
    assert len(decoy) == 6 and (decoy.label != 0).all()  # same volume as the bursts, never bearish
    assert all(t == TEXTS[i] for t, i in zip(s.tweets.text, s.tweets.src))  # no tweet is re-tagged
    general = s.tweets[(s.tweets.kind == "normal") & ~s.tweets.src.isin([0, 1, 2, 3, 4, 5, 6, 7])]
    assert sorted(general.src.tolist()) == [8, 9, 10, 11, 12]  # the general feed: every other text once
    assert mon.build_stream(TEXTS, LABELS, HP, seed=0).tweets.equals(s.tweets)


def test_rolling_index_and_bins():
    times, scores = np.array([0.0, 5.0, 12.0, 31.0]), np.array([1.0, -1.0, 0.5, 0.0])
    ends, idx = mon.rolling_index(times, scores, 40, 10, 2)
    assert np.allclose(ends, [10, 20, 30, 40])
    assert np.allclose(idx[:2], [0.0, 1 / 6]) and idx[2] == 0.5 and idx[3] == 0.0
    names, sums, counts = mon.bin_ticker_series(times, [["A"], ["A", "B"], [], ["B"]], np.ones(4), 40, 10)
    assert names == ["A", "B"] and sums.tolist() == [[2, 0, 0, 0], [1, 0, 0, 1]] and counts.sum() == 4


def test_cusum_and_zscore_fire_on_a_step():
    x = np.zeros((1, 50))
    x[0, 30:33] = 2.0
    s, alerts = mon.cusum_detector(x, 20, 0.3, 1.0)
    assert alerts[0, 30] and not alerts[0, :30].any() and s[0, 29] == 0
    z = mon.zscore_detector(x, 3, 20, 0.5)
    assert np.argmax(mon.crossings(z, 3.0)[0]) == 30
    assert np.allclose(mon.window_sum(np.arange(5.0)[None], 2), [[0, 1, 3, 5, 7]])


def test_match_alerts_precision_recall_delay():
    bursts = pd.DataFrame({"ticker": ["A", "B"], "start_min": [100.0, 500.0], "end_min": [160.0, 560.0]})
    alerts = pd.DataFrame({"ticker": ["A", "A", "B", "C"], "time_min": [120.0, 200.0, 900.0, 110.0]})
    r = mon.match_alerts(alerts, bursts, tolerance_min=60)
    assert r["precision"] == 0.5 and r["recall"] == 0.5 and r["median_delay_min"] == 20.0
    h, table = mon.choose_threshold(lambda h: {"f1": 1.0 if h < 3 else 0.5}, [1, 2, 3])
    assert h == 2 and len(table) == 3
