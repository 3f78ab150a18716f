"""Financial sentiment monitoring (chapter 12): a replayed tweet stream, per-ticker indices, spike alerts.

The pieces, in the order the chapter uses them:

* :func:`extract_tickers` finds cash-tags (``$AAPL``) in a tweet.
* :func:`build_stream` replays held-out tweets as a timestamped stream and injects **negative bursts**:
  bearish-labelled tweets, re-tagged with a chosen ticker, packed into a short window at a known time.
  The bursts are the ground truth the alerts are scored against.
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


def retag(text: str, ticker: str) -> str:
    """``text`` about ``ticker`` instead: every cash-tag becomes ``$ticker``; one is prepended if there is none."""
    if TICKER_RE.search(text):
        return TICKER_RE.sub(f"${ticker}", text)
    return f"${ticker} {text}"


@dataclass
class Stream:
    """A replayed stream: ``tweets`` (columns ``time_min``, ``text``, ``label``, ``burst`` = burst id or -1,
    ``tickers`` = list of cash-tags), sorted by time, and ``bursts`` (columns ``ticker``, ``start_min``,
    ``end_min``). Times are minutes since the start of the stream."""

    tweets: pd.DataFrame
    bursts: pd.DataFrame
    minutes: float
    info: dict = field(default_factory=dict)


def build_stream(texts: Sequence[str], labels: Sequence[int], hp: Mapping, seed: int, *, bearish: int = 0) -> Stream:
    """Replay ``texts`` (held-out tweets with their true ``labels``) as a stream with negative bursts.

    Construction (all random draws from ``seed``):

    1. ``hp["n_bursts"] * hp["burst_size"]`` tweets labelled ``bearish`` are set aside for the bursts;
       every other tweet gets a uniform random time in ``[0, days · 1440)`` minutes (a Poisson-like stream).
    2. ``hp["n_bursts"]`` target tickers are drawn from ``hp["ticker_pool"]``; each also receives
       ``hp["chatter_per_ticker"]`` background tweets (random tweets of any label re-tagged with it), so that
       its normal level of (sometimes bearish) talk is not zero.
    3. Burst ``b`` starts at a random time (at least ``hp["burst_gap_min"]`` minutes after the start and
       apart from the other bursts) and its ``burst_size`` bearish tweets, re-tagged with the ticker, get
       uniform times in ``[start, start + burst_minutes)``.
    """
    rng = np.random.default_rng(seed)
    texts, labels = list(texts), np.asarray(labels)
    minutes = float(hp["days"]) * 1440.0
    n_bursts, size = int(hp["n_bursts"]), int(hp["burst_size"])
    bear_idx = rng.permutation(np.flatnonzero(labels == bearish))
    if len(bear_idx) < n_bursts * size:
        raise ValueError(f"only {len(bear_idx)} bearish tweets for {n_bursts} bursts of {size}")
    burst_idx = bear_idx[: n_bursts * size].reshape(n_bursts, size)
    rest = np.setdiff1d(np.arange(len(texts)), burst_idx.ravel())
    tickers = list(rng.choice(list(hp["ticker_pool"]), n_bursts, replace=False))
    rows = []
    chatter = set()
    for ticker in tickers:  # background talk about each target ticker, any label
        for i in rng.choice(rest, int(hp["chatter_per_ticker"]), replace=False):
            chatter.add(int(i))
            rows.append((rng.uniform(0, minutes), retag(texts[i], ticker), int(labels[i]), -1))
    rows += [(rng.uniform(0, minutes), texts[i], int(labels[i]), -1) for i in rest if int(i) not in chatter]
    starts: list[float] = []
    gap, length = float(hp["burst_gap_min"]), float(hp["burst_minutes"])
    while len(starts) < n_bursts:
        s = rng.uniform(gap, minutes - length - gap / 4)
        if all(abs(s - t) > gap for t in starts):
            starts.append(s)
    bursts = []
    for b, (ticker, start) in enumerate(zip(tickers, starts)):
        bursts.append((ticker, start, start + length))
        rows += [(rng.uniform(start, start + length), retag(texts[i], ticker), int(labels[i]), b)
                 for i in burst_idx[b]]
    tweets = pd.DataFrame(rows, columns=["time_min", "text", "label", "burst"]).sort_values("time_min")
    tweets = tweets.reset_index(drop=True)
    tweets["tickers"] = tweets["text"].map(extract_tickers)
    return Stream(tweets, pd.DataFrame(bursts, columns=["ticker", "start_min", "end_min"]), minutes,
                  {"seed": seed, "n_tweets": len(tweets), "chatter": len(chatter)})


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


__all__ = ["Stream", "TICKER_RE", "alert_table", "bin_ticker_series", "build_stream", "choose_threshold",
           "crossings", "cusum_detector", "extract_tickers", "match_alerts", "retag", "rolling_index",
           "window_sum", "zscore_detector"]
