"""Financial sentiment monitoring (chapter 12): a replayed tweet stream, per-ticker indices, spike alerts.

The pieces, in the order the chapter uses them:

* :func:`extract_tickers` finds cash-tags (``$AAPL``) in a tweet.
* :func:`company_mentions` finds the monitored companies a tweet names (cash-tag or company name).
* :func:`build_stream` replays held-out tweets as a timestamped stream and injects **negative bursts** and
  **decoys** of the same volume: extra tweets that name a monitored company, bearish for a burst, bullish or
  neutral for a decoy, packed into a short window at a known time. No tweet is re-tagged. The bursts are the
  ground truth the alerts are scored against; the decoys make tweet volume alone useless.
* :func:`bin_ticker_series` turns per-tweet bearish probabilities into one series per ticker
  (bearish mass per time bin); :func:`rolling_index` is the dashboard's sentiment index.
* :func:`zscore_detector` and :func:`cusum_detector` raise alerts; :func:`match_alerts` scores them
  (precision, recall, detection delay); :func:`choose_threshold` picks a threshold on a calibration stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TICKER_RE = re.compile(r"\$([A-Za-z]{1,6})(?![A-Za-z])")
"""A cash-tag: ``$`` followed by 1–6 letters (``$AAPL``, ``$spy``); ``$5`` or ``$1.2bn`` are not tickers."""


def extract_tickers(text: str) -> list[str]:
    """The distinct cash-tags of ``text``, upper-cased, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in TICKER_RE.findall(text):
        seen.setdefault(match.upper(), None)
    return list(seen)


@dataclass
class Stream:
    """A replayed stream: ``tweets`` (columns ``time_min``, ``text``, ``label``, ``burst`` = burst id or -1,
    ``tickers`` = list of cash-tags), sorted by time, and ``bursts`` (columns ``ticker``, ``start_min``,
    ``end_min``). Times are minutes since the start of the stream."""

    tweets: pd.DataFrame
    bursts: pd.DataFrame
    minutes: float
    info: dict = field(default_factory=dict)


def company_mentions(text: str, ticker_names: Mapping[str, Sequence[str]]) -> list[str]:
    """The tickers of ``ticker_names`` (ticker → company names) that ``text`` names, by cash-tag (``$TSLA``)
    or by a company name as a whole word (``Tesla``), in the order of ``ticker_names``."""
    tags = set(extract_tickers(text))
    return [t for t, names in ticker_names.items()
            if t in tags or any(re.search(rf"(?<![A-Za-z]){re.escape(n)}(?![A-Za-z])", text) for n in names)]


def all_tickers(text: str, ticker_names: Mapping[str, Sequence[str]]) -> list[str]:
    """Cash-tags of ``text`` followed by the monitored companies it names without a cash-tag (no duplicates)."""
    return list(dict.fromkeys(extract_tickers(text) + company_mentions(text, ticker_names)))


def company_pools(texts: Sequence[str], labels: Sequence[int], ticker_names: Mapping[str, Sequence[str]], *,
                  bearish: int = 0, min_bearish: int = 2, min_other: int = 4) -> dict[str, dict[str, np.ndarray]]:
    """Per monitored ticker, the indices of the texts that name it, split into ``"bearish"`` and ``"other"``
    (bullish or neutral) by their human label. Tickers with fewer than ``min_bearish`` bearish or
    ``min_other`` other texts are left out (too little material for a burst or a decoy)."""
    labels = np.asarray(labels)
    pools = {}
    for t in ticker_names:
        idx = np.array([i for i, x in enumerate(texts) if t in company_mentions(x, {t: ticker_names[t]})], dtype=int)
        bear, other = idx[labels[idx] == bearish], idx[labels[idx] != bearish]
        if len(bear) >= min_bearish and len(other) >= min_other:
            pools[t] = {"all": idx, "bearish": bear, "other": other}
    return pools


def build_stream(texts: Sequence[str], labels: Sequence[int], hp: Mapping, seed: int, *, bearish: int = 0) -> Stream:
    """Replay ``texts`` (held-out tweets with their true ``labels``) as a stream with negative bursts and
    equal-volume decoys.

    No tweet is re-tagged: a tweet counts for the cash-tags it carries and for the monitored companies it
    names (:func:`all_tickers`, ``hp["ticker_names"]``). Construction (all random draws from ``seed``):

    1. **Monitored companies**: those of ``hp["ticker_names"]`` named by at least ``hp["min_pool_bearish"]``
       bearish and ``hp["min_pool_other"]`` other texts (:func:`company_pools`).
    2. **Normal talk**: each monitored company is talked about at ``hp["rate_per_hour"]`` tweets per hour
       (a Poisson process over ``hp["days"]`` days); each tweet is a text that names it, drawn with
       replacement from all its texts (any label) — a repeated text is a repost of the same story.
    3. **Events**: ``hp["n_bursts"]`` negative bursts and ``hp["n_decoys"]`` decoys, each on a random
       monitored company at a random time (events on one company at least ``hp["burst_gap_min"]`` apart).
       An event adds ``hp["event_tweets"]`` tweets naming the company, at uniform times in a
       ``hp["burst_minutes"]``-minute window: the *same volume* for both kinds. A burst's texts are bearish
       with probability ``hp["burst_bearish_share"]`` (else drawn from the other texts); a decoy's are never
       bearish. So volume alone cannot tell a burst from a decoy; only the negative share can.
    4. **General feed**: every text that names no monitored company appears once at a uniform random time.

    ``tweets`` has columns ``time_min``, ``text``, ``label``, ``src`` (index into ``texts``), ``event``
    (event id or -1), ``kind`` (``"normal"``, ``"burst"`` or ``"decoy"``), ``tickers``. ``bursts`` lists the
    negative bursts only (the ground truth of the alerts); ``info["decoys"]`` the decoys.
    """
    rng = np.random.default_rng(seed)
    texts, labels = list(texts), np.asarray(labels)
    names = dict(hp["ticker_names"])
    minutes = float(hp["days"]) * 1440.0
    pools = company_pools(texts, labels, names, bearish=bearish, min_bearish=int(hp["min_pool_bearish"]),
                          min_other=int(hp["min_pool_other"]))
    if not pools:
        raise ValueError("no monitored company has enough texts")
    monitored = list(pools)
    rows = []  # (time, src, event, kind)
    for t in monitored:
        n = rng.poisson(float(hp["rate_per_hour"]) * minutes / 60)
        rows += [(rng.uniform(0, minutes), int(rng.choice(pools[t]["all"])), -1, "normal") for _ in range(n)]
    named = set(np.concatenate([p["all"] for p in pools.values()]).tolist())
    rows += [(rng.uniform(0, minutes), i, -1, "normal") for i in range(len(texts)) if i not in named]
    kinds = ["burst"] * int(hp["n_bursts"]) + ["decoy"] * int(hp["n_decoys"])
    gap, length, size = float(hp["burst_gap_min"]), float(hp["burst_minutes"]), int(hp["event_tweets"])
    share = float(hp["burst_bearish_share"])
    events: list[tuple[str, float, float, str]] = []
    for kind in rng.permutation(kinds):
        for _ in range(1000):
            t = str(rng.choice(monitored))
            s = rng.uniform(gap, minutes - length - gap / 4)
            if all(e[0] != t or abs(s - e[1]) > gap for e in events):
                break
        else:
            raise ValueError("could not place the events apart; lower n_bursts/n_decoys or burst_gap_min")
        events.append((t, s, s + length, str(kind)))
        for _ in range(size):
            pool = pools[t]["bearish"] if kind == "burst" and rng.random() < share else pools[t]["other"]
            rows.append((rng.uniform(s, s + length), int(rng.choice(pool)), len(events) - 1, str(kind)))
    tweets = pd.DataFrame(rows, columns=["time_min", "src", "event", "kind"]).sort_values("time_min", kind="stable")
    tweets = tweets.reset_index(drop=True)
    tweets.insert(1, "text", [texts[i] for i in tweets["src"]])
    tweets.insert(2, "label", labels[tweets["src"].to_numpy()].astype(int))
    tweets["tickers"] = tweets["text"].map(lambda x: all_tickers(x, names))
    ev = pd.DataFrame(events, columns=["ticker", "start_min", "end_min", "kind"])
    bursts = ev[ev.kind == "burst"].drop(columns="kind").reset_index(drop=True)
    decoys = ev[ev.kind == "decoy"].drop(columns="kind").reset_index(drop=True)
    tweets["burst"] = -1  # burst id (row of ``bursts``), -1 elsewhere
    burst_rows = np.flatnonzero(ev.kind.to_numpy() == "burst")
    is_b = tweets["kind"].to_numpy() == "burst"
    tweets.loc[is_b, "burst"] = np.searchsorted(burst_rows, tweets.loc[is_b, "event"].to_numpy())
    return Stream(tweets, bursts, minutes, {"seed": seed, "n_tweets": len(tweets), "monitored": monitored,
                                            "decoys": decoys, "pool_sizes": {t: {k: len(v) for k, v in p.items()}
                                                                             for t, p in pools.items()}})


def bin_ticker_series(times: np.ndarray, tickers: Sequence[Sequence[str]], values: np.ndarray, minutes: float,
                      bin_minutes: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sum ``values`` (N,) per ticker and time bin.

    Returns ``(names, sums, counts)``: ``names`` the T tickers (sorted), ``sums`` and ``counts`` arrays
    (T, B) with ``B = ceil(minutes / bin_minutes)``; a tweet with several tickers counts for each.
    """
    names = sorted({t for ts in tickers for t in ts})
    pos = {t: k for k, t in enumerate(names)}
    n_bins = int(np.ceil(minutes / bin_minutes))
    sums, counts = np.zeros((len(names), n_bins)), np.zeros((len(names), n_bins))
    bins = np.minimum((np.asarray(times) // bin_minutes).astype(int), n_bins - 1)
    for b, ts, v in zip(bins, tickers, values):
        for t in ts:
            sums[pos[t], b] += v
            counts[pos[t], b] += 1
    return names, sums, counts


def rolling_index(times: np.ndarray, scores: np.ndarray, minutes: float, bin_minutes: float,
                  window_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling sentiment index: the mean of ``scores`` (N,) over the tweets of the last ``window_bins`` bins.

    Returns ``(bin_end_minutes, index)``, both (B,); ``index`` is NaN where the window holds no tweet.
    With ``scores = p_bullish − p_bearish`` the index lies in [−1, 1].
    """
    n_bins = int(np.ceil(minutes / bin_minutes))
    bins = np.minimum((np.asarray(times) // bin_minutes).astype(int), n_bins - 1)
    s = np.bincount(bins, weights=scores, minlength=n_bins)
    c = np.bincount(bins, minlength=n_bins).astype(float)
    kernel = np.ones(window_bins)
    s_w, c_w = np.convolve(s, kernel)[:n_bins], np.convolve(c, kernel)[:n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(c_w > 0, s_w / c_w, np.nan)
    return (np.arange(n_bins) + 1) * bin_minutes, index


def window_sum(x: np.ndarray, window: int) -> np.ndarray:
    """``Σ_{s=t−window+1}^{t} x_s`` for every bin t of every row of x (T, B) (missing bins count as 0)."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)  # (T, B+1)
    idx = np.arange(1, x.shape[1] + 1)
    return c[:, idx] - c[:, np.maximum(idx - window, 0)]


def _trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the ``window`` bins *before* each bin (0 before any bin), per row of x (T, B)."""
    before = np.concatenate([np.zeros((x.shape[0], 1)), x[:, :-1]], axis=1)
    n = np.minimum(np.arange(x.shape[1]), window)
    return window_sum(before, window) / np.maximum(n, 1)


def zscore_detector(x: np.ndarray, window: int, baseline: int, sigma_floor: float) -> np.ndarray:
    """z-scores of the rolling sum of x (T, B) over ``window`` bins against its own past.

    ``r_t = Σ_{s=t−window+1}^{t} x_s``; ``z_t = (r_t − m_t) / sqrt(v_t + σ₀²)``, where ``m_t`` and ``v_t`` are the
    mean and variance of ``r_s`` over the ``baseline`` bins ``s`` just before ``t − window + 1`` (windows that do
    not overlap the current one) and ``σ₀ = sigma_floor`` keeps a quiet ticker's first tweet from being an
    infinite spike. Returns z (T, B).
    """
    r = window_sum(x, window)
    lagged = np.concatenate([np.zeros((x.shape[0], window - 1)), r], axis=1)[:, : x.shape[1]]  # r_{t-window+1}
    m = _trailing_mean(lagged, baseline)
    v = np.maximum(_trailing_mean(lagged ** 2, baseline) - m ** 2, 0.0)
    return (r - m) / np.sqrt(v + sigma_floor ** 2)


def cusum_detector(x: np.ndarray, baseline: int, k: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided (upward) CUSUM per row of x (T, B).

    ``S_t = max(0, S_{t−1} + x_t − μ_t − k)`` with ``μ_t`` the mean of the ``baseline`` bins before ``t`` and
    the allowance ``k``; an alert fires when ``S_t > h`` and ``S`` restarts from 0. Returns ``(S, alerts)``,
    both (T, B); ``alerts`` is boolean.
    """
    mu = _trailing_mean(x, baseline)
    s = np.zeros_like(x, dtype=float)
    alerts = np.zeros(x.shape, dtype=bool)
    prev = np.zeros(x.shape[0])
    for t in range(x.shape[1]):
        cur = np.maximum(0.0, prev + x[:, t] - mu[:, t] - k)
        fire = cur > h
        alerts[:, t] = fire
        s[:, t] = cur
        prev = np.where(fire, 0.0, cur)
    return s, alerts


def crossings(z: np.ndarray, h: float) -> np.ndarray:
    """Alert events of a z-score detector: bins where z (T, B) rises above ``h`` (boolean (T, B))."""
    above = z > h
    return above & ~np.concatenate([np.zeros((z.shape[0], 1), dtype=bool), above[:, :-1]], axis=1)


def alert_table(alerts: np.ndarray, names: Sequence[str], bin_minutes: float) -> pd.DataFrame:
    """Alerts (T, B) boolean → a table (``ticker``, ``time_min`` = end of the alerting bin)."""
    rows, cols = np.nonzero(alerts)
    return pd.DataFrame({"ticker": [names[r] for r in rows], "time_min": (cols + 1) * bin_minutes}).sort_values(
        "time_min").reset_index(drop=True)


def match_alerts(alerts: pd.DataFrame, bursts: pd.DataFrame, tolerance_min: float) -> dict[str, float]:
    """Score alerts against the injected bursts.

    An alert is **true** if it names the ticker of a burst and fires inside ``[start, end + tolerance]``.
    ``precision`` = true alerts / all alerts (1.0 when there is no alert); ``recall`` = bursts with at least
    one true alert / bursts; ``median_delay_min`` = median over detected bursts of (first true alert − start).
    """
    true = np.zeros(len(alerts), dtype=bool)
    delays = []
    for burst in bursts.itertuples():
        hit = ((alerts["ticker"] == burst.ticker) & (alerts["time_min"] >= burst.start_min)
               & (alerts["time_min"] <= burst.end_min + tolerance_min)).to_numpy()
        true |= hit
        if hit.any():
            delays.append(alerts["time_min"].to_numpy()[hit].min() - burst.start_min)
    precision = float(true.mean()) if len(alerts) else 1.0
    recall = len(delays) / len(bursts) if len(bursts) else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "n_alerts": len(alerts),
            "median_delay_min": float(np.median(delays)) if delays else float("nan")}


def choose_threshold(score_fn, grid: Sequence[float]) -> tuple[float, pd.DataFrame]:
    """The threshold of ``grid`` with the best F1 of ``score_fn(h) -> match_alerts dict`` (ties: the higher h,
    i.e. fewer alerts). Returns ``(h, table of every threshold's scores)``. Use a calibration stream."""
    table = pd.DataFrame([{"h": h, **score_fn(h)} for h in grid])
    best = table.sort_values(["f1", "h"], ascending=[False, False]).iloc[0]
    return float(best["h"]), table


__all__ = ["Stream", "TICKER_RE", "alert_table", "all_tickers", "bin_ticker_series", "build_stream",
           "choose_threshold", "company_mentions", "company_pools", "crossings", "cusum_detector", "extract_tickers",
           "match_alerts", "rolling_index", "window_sum", "zscore_detector"]
