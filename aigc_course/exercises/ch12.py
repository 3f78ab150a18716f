"""Chapter 12 (sentiment monitoring): the exercises' references, known mistakes and hints."""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..apps import monitoring as mon
from ..datasets import FINANCIAL_LABELS
from . import Exercise, copying
from . import checkers as ex

BEARISH = FINANCIAL_LABELS.index("bearish")

# ---- 12.tickers (implement): the distinct cash-tags of a tweet --------------------------------------------

_TICKER_CASES = ["$aapl and $AAPL vs $5", "$TSLA $F: Ford and Tesla", "Oil at $80.5bn", "$SPY, $QQQ and $spy",
                 "$ABCDEFG has seven letters, $BRK.B has a dot", "No tickers here", "$$NVDA up"]


def _tickers_repeated(text: str) -> list[str]:
    return [m.upper() for m in re.findall(r"\$([A-Za-z]{1,6})(?![A-Za-z])", text)]


def _tickers_word_chars(text: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"\$(\w+)", text)))


def _tickers_case_kept(text: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"\$([A-Za-z]{1,6})(?![A-Za-z])", text)))


def _tickers_no_lookahead(text: str) -> list[str]:
    return list(dict.fromkeys(m.upper() for m in re.findall(r"\$([A-Za-z]{1,6})", text)))


def _tickers_sorted(text: str) -> list[str]:
    return sorted({m.upper() for m in re.findall(r"\$([A-Za-z]{1,6})(?![A-Za-z])", text)})


_TICKERS_MISTAKES: list[tuple[Any, str]] = [
    (_tickers_repeated, "Keep each ticker once, at its first appearance: '$aapl' and '$AAPL' are the same ticker "
                        "(dict.fromkeys, or a list with a membership test)."),
    (_tickers_word_chars, "`\\w` also matches digits, so '$80' becomes a ticker: use [A-Za-z]{1,6}, and upper-case "
                          "the result."),
    (_tickers_case_kept, "Upper-case the tickers: '$spy' and '$SPY' name the same fund."),
    (_tickers_no_lookahead, "Without the look-ahead (?![A-Za-z]) the pattern takes the first six letters of "
                            "'$ABCDEFG'; seven letters are no cash-tag."),
    (_tickers_sorted, "Keep the order of first appearance ('$TSLA $F' gives ['TSLA', 'F']): a set loses it, and "
                      "sorting is another order."),
]
_TICKERS_WRONG = [(fn, text.split(":")[0][:24]) for fn, text in _TICKERS_MISTAKES]


def _run_tickers(answer: Any) -> bool:
    return ex.check_function("12.tickers", copying(answer), mon.extract_tickers, [(t,) for t in _TICKER_CASES],
                             mistakes=_TICKERS_MISTAKES, compare=operator.eq,
                             hint="re.findall(r'\\$([A-Za-z]{1,6})(?![A-Za-z])', text), upper-cased, duplicates "
                                  "dropped")


# ---- 12.cusum_step (derive): one step of the CUSUM recursion ----------------------------------------------


def _cusum_step(s_prev: float, x: float, mu: float, k: float) -> float:
    return max(0.0, s_prev + x - mu - k)


_CUSUM_CASES = [(0.0, 2.0, 0.1, 0.3), (1.0, 0.0, 0.1, 0.3), (0.5, 0.2, 0.1, 0.3), (2.0, 1.0, 0.5, 0.0),
                (0.0, 0.1, 0.5, 0.3)]
_CUSUM_MISTAKES: list[tuple[Any, str]] = [
    (lambda s, x, mu, k: s + x - mu - k, "Clip at zero: CUSUM never goes negative (max(0, ...))."),
    (lambda s, x, mu, k: max(0.0, s + x - mu + k), "The allowance k is *subtracted*: only excess beyond μ + k "
                                                   "accumulates."),
    (lambda s, x, mu, k: max(0.0, x - mu - k), "Add the previous value S_{t-1}: evidence accumulates."),
]
_CUSUM_WRONG = [(_CUSUM_MISTAKES[0][0], "Clip at zero"), (_CUSUM_MISTAKES[1][0], "subtracted"),
                (_CUSUM_MISTAKES[2][0], "S_{t-1}")]


def _run_cusum_step(answer: Any) -> bool:
    return ex.check_function("12.cusum_step", answer, _cusum_step, _CUSUM_CASES, mistakes=_CUSUM_MISTAKES,
                             hint="S_t = max(0, S_{t−1} + x_t − μ_t − k)")


# ---- 12.bearish_mass (implement): the signal x_{T,t} of every detector -------------------------------------


def _bearish_mass(times: np.ndarray, tickers: Sequence[Sequence[str]], p_bear: np.ndarray, names: Sequence[str],
                  n_bins: int, bin_minutes: float) -> np.ndarray:
    """Bearish mass per ticker and bin.

    ``times`` (N,) minutes since the start, ``tickers`` N lists of cash-tags, ``p_bear`` (N,) the classifier's
    bearish probabilities, ``names`` the T monitored tickers (others are ignored), ``n_bins`` = B. Returns x
    (T, B): ``x[j, b]`` = Σ p_bear of the tweets naming ``names[j]`` whose time falls in ``[bΔ, (b+1)Δ)``; a time
    at or past the end counts in the last bin; a tweet naming several tickers counts, in full, for each."""
    row = {t: j for j, t in enumerate(names)}
    out = np.zeros((len(names), n_bins))
    bins = np.minimum((np.asarray(times, dtype=float) // bin_minutes).astype(int), n_bins - 1)
    for b, ts, p in zip(bins, tickers, p_bear):
        for t in ts:
            if t in row:
                out[row[t], b] += p
    return out


def _mass_variant(times, tickers, p_bear, names, n_bins, bin_minutes, *, value=None, first_only=False,
                  split=False, rounding=False, drop_end=False, mean=False):
    row = {t: j for j, t in enumerate(names)}
    out, count = np.zeros((len(names), n_bins)), np.zeros((len(names), n_bins))
    for tm, ts, p in zip(times, tickers, p_bear):
        b = int(round(tm / bin_minutes)) if rounding else int(tm // bin_minutes)
        if b >= n_bins:
            if drop_end:
                continue
            b = n_bins - 1
        mine = [t for t in ts if t in row][: 1 if first_only else None]
        for t in mine:
            out[row[t], b] += (p if value is None else value) / (len(mine) if split else 1)
            count[row[t], b] += 1
    return out / np.maximum(count, 1) if mean else out


def _mass_counts(*a):
    return _mass_variant(*a, value=1.0)


def _mass_first_ticker(*a):
    return _mass_variant(*a, first_only=True)


def _mass_split(*a):
    return _mass_variant(*a, split=True)


def _mass_rounded(*a):
    return _mass_variant(*a, rounding=True)


def _mass_drop_end(*a):
    return _mass_variant(*a, drop_end=True)


def _mass_mean(*a):
    return _mass_variant(*a, mean=True)


def _mass_cases() -> list[tuple]:
    """Random streams (times in minutes, 0–2 tickers per tweet, some not monitored) and edge cases: a tweet
    with two monitored tickers, a time on a bin's edge and one at the very end, no tweet at all, a monitored
    ticker nobody names."""
    rng = np.random.default_rng(1201)
    names = ["AAPL", "F", "TSLA"]
    cases = []
    for n, n_bins, width in ((30, 6, 10.0), (80, 12, 5.0), (12, 4, 15.0)):
        times = np.sort(rng.uniform(0, n_bins * width, n))
        pool = [*names, "XOM"]
        tickers = [list(rng.choice(pool, size=rng.integers(0, 3), replace=False)) for _ in range(n)]
        cases.append((times, tickers, rng.uniform(0, 1, n), names, n_bins, width))
    cases.append((np.array([10.0, 19.9, 40.0]), [["TSLA", "F"], ["F"], ["TSLA"]], np.array([0.8, 0.3, 0.6]),
                  names, 4, 10.0))
    cases.append((np.array([], dtype=float), [], np.array([], dtype=float), names, 3, 10.0))
    return cases


_MASS_MISTAKES: list[tuple[Any, str]] = [
    (_mass_counts, "That is the tweet count n_{T,t}, the volume baseline's signal: add each tweet's bearish "
                   "probability p_bear, not 1."),
    (_mass_first_ticker, "A tweet that names several tickers counts for each of them ('$TSLA and Ford' is about "
                         "both): loop over all of its monitored tickers, not only the first."),
    (_mass_split, "Do not share a tweet's probability among its tickers: it is about each of them, so each gets "
                  "the full p_bear (the chapter's x counts expected bearish tweets per ticker)."),
    (_mass_rounded, "Bin b holds the times in [bΔ, (b+1)Δ): take floor(t / Δ) (t // Δ), not round(t / Δ), which "
                    "moves the second half of every bin into the next one."),
    (_mass_drop_end, "A time at or past the end (t = n_bins·Δ) belongs to the last bin: clip the index to "
                     "n_bins − 1 rather than dropping the tweet."),
    (_mass_mean, "Sum, do not average: x_{T,t} is the expected number of bearish tweets in the bin, so it grows with "
                 "the volume *and* the negativity of the talk; a mean would hide a burst's volume."),
]
_MASS_WRONG = [(fn, text.split(":")[0][:30]) for fn, text in _MASS_MISTAKES]


def _run_bearish_mass(answer: Any) -> bool:
    return ex.check_function(
        "12.bearish_mass", copying(answer), _bearish_mass, _mass_cases(), atol=1e-9, rtol=1e-9,
        mistakes=_MASS_MISTAKES,
        hint="row of each ticker = names.index(t); bin = min(int(t // Δ), n_bins − 1); for every monitored ticker "
             "of the tweet add p_bear to x[row, bin]; skip tickers not in names")


# ---- 12.match_alerts (implement): precision and recall of a list of alerts ---------------------------------


def _precision_recall(alerts: pd.DataFrame, bursts: pd.DataFrame, tolerance_min: float) -> tuple[float, float]:
    """``(precision, recall)`` of ``alerts`` (columns ticker, time_min) against ``bursts`` (ticker, start_min,
    end_min): an alert is true when it names a burst's ticker inside ``[start, end + tolerance]``; precision =
    true alerts / alerts (1.0 without any alert), recall = bursts with at least one true alert / bursts."""
    r = mon.match_alerts(alerts, bursts, tolerance_min)
    return r["precision"], r["recall"]


def _pr_variant(alerts, bursts, tolerance_min, *, tol=True, ticker=True, count_alerts=False, add_hits=False,
                empty_precision=1.0):
    hits = np.zeros(len(alerts))
    caught = 0
    for b in bursts.itertuples():
        hit = ((alerts["time_min"] >= b.start_min)
               & (alerts["time_min"] <= b.end_min + (tolerance_min if tol else 0.0))).to_numpy()
        if ticker:
            hit = hit & (alerts["ticker"] == b.ticker).to_numpy()
        hits = hits + hit if add_hits else np.maximum(hits, hit)
        caught += int(hit.sum()) if count_alerts else int(hit.any())
    precision = float(hits.sum() / len(alerts)) if len(alerts) else empty_precision
    return precision, caught / len(bursts)


def _pr_count_alerts(*a):
    return _pr_variant(*a, count_alerts=True)


def _pr_no_tolerance(*a):
    return _pr_variant(*a, tol=False)


def _pr_any_ticker(*a):
    return _pr_variant(*a, ticker=False)


def _pr_added_hits(*a):
    return _pr_variant(*a, add_hits=True)


def _pr_empty_zero(*a):
    return _pr_variant(*a, empty_precision=0.0)


def _alerts(rows: list[tuple[str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ticker", "time_min"]).astype({"time_min": float})


def _bursts(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ticker", "start_min", "end_min"]).astype({"start_min": float,
                                                                                  "end_min": float})


def _pr_cases() -> list[tuple]:
    """Hand-made cases (an alert inside a burst, one in the tolerance after it, one on another ticker, one before
    the start, two alerts on one burst, an alert on the closing edge end + tolerance, overlapping bursts of one
    ticker, no alert at all) and seeded random ones."""
    cases = [
        (_alerts([("TSLA", 130.0), ("TSLA", 200.0), ("F", 420.0), ("AAPL", 390.0)]),
         _bursts([("TSLA", 100.0, 160.0), ("AAPL", 400.0, 460.0)]), 60.0),
        (_alerts([("AAPL", 50.0), ("AAPL", 60.0), ("AAPL", 170.0)]), _bursts([("AAPL", 50.0, 110.0),
                                                                             ("F", 300.0, 360.0)]), 60.0),
        (_alerts([("F", 250.0)]), _bursts([("F", 200.0, 260.0), ("F", 230.0, 290.0)]), 30.0),
        (_alerts([]), _bursts([("TSLA", 100.0, 160.0)]), 60.0),
    ]
    rng = np.random.default_rng(1202)
    names = ["AAPL", "F", "TSLA"]
    for n_alerts in (12, 25):
        starts = rng.uniform(0, 1200, 5).round()
        bursts = _bursts([(str(rng.choice(names)), s, s + 60.0) for s in starts])
        alerts = _alerts([(str(rng.choice(names)), float(t)) for t in (rng.integers(0, 130, n_alerts) * 10)])
        cases.append((alerts, bursts, 60.0))
    return cases


_PR_MISTAKES: list[tuple[Any, str]] = [
    (_pr_count_alerts, "Recall counts *bursts* caught, each once: two true alerts on one burst still catch one burst "
                       "(use hit.any() per burst, not hit.sum())."),
    (_pr_no_tolerance, "An alert up to tolerance_min after a burst's end is still true: the detector needs a few "
                       "bins to see the excess, so match inside [start, end + tolerance]."),
    (_pr_any_ticker, "An alert must name the burst's ticker: an alert on $F during a $TSLA burst is a false alarm."),
    (_pr_added_hits, "An alert is true or false once: an alert inside two overlapping bursts counts once for "
                     "precision (combine the matches with OR, do not add them)."),
    (_pr_empty_zero, "With no alert at all precision is 1.0 by the chapter's convention (no false alarm was raised); "
                     "recall is then 0, and so is F1."),
]
_PR_WRONG = [(fn, text.split(":")[0][:28]) for fn, text in _PR_MISTAKES]


def _run_match_alerts(answer: Any) -> bool:
    return ex.check_function(
        "12.match_alerts", copying(answer), _precision_recall, _pr_cases(), atol=1e-9, rtol=1e-9,
        mistakes=_PR_MISTAKES,
        hint="for each burst: hit = same ticker & start <= time <= end + tolerance; true |= hit; a burst is caught "
             "if hit.any(); precision = true.mean() (1.0 when there is no alert), recall = caught / len(bursts)")


# ---- 12.threshold_streams (concept): where the alert threshold is chosen -----------------------------------

_THRESHOLD_MISTAKES = {
    "evaluation": "Then the reported precision and recall are tuned to that very stream and optimistic.",
    "both": "Any use of the evaluation stream for a choice leaks into the reported figures.",
    "all": "Any use of the evaluation stream for a choice leaks into the reported figures.",
    "eval": "Then the reported precision and recall are tuned to that very stream and optimistic.",
    "test": "The evaluation stream is the test data here: the reported precision and recall would be tuned to that "
            "very stream and optimistic.",
}
_THRESHOLD_WRONG = [("evaluation", "tuned to that very stream"), ("both", "leaks"), ("test", "test data")]


def _run_threshold_streams(answer: Any) -> bool:
    return ex.check_choice("12.threshold_streams", answer, "calibration", mistakes=_THRESHOLD_MISTAKES,
                           hint='Answer with one of the listed words: "calibration", "evaluation" or "both".')


# ---- 12.oracle_labels (experiment): the detector fed with the human labels ---------------------------------

ORACLE_BAND = 0.002  # the check accepts the figure within ± this of the value the streams give


def _binned(streams: Sequence[mon.Stream], values: Sequence[np.ndarray], hp: Mapping[str, Any],
            volume: bool = False) -> list[tuple[list[str], np.ndarray, np.ndarray | None]]:
    """Per stream: (tickers, signal (T, B), z-scores (T, B) or None for CUSUM); the signal is the per-ticker sum
    of ``values`` (one array per stream), or the tweet count when ``volume``."""
    out = []
    for s, v in zip(streams, values):
        names, x, n = mon.bin_ticker_series(s.tweets["time_min"].to_numpy(), s.tweets["tickers"], v, s.minutes,
                                            hp["bin_minutes"])
        sig = n if volume else x
        z = (mon.zscore_detector(sig, hp["z_window_bins"], hp["baseline_bins"], hp["sigma_floor"])
             if hp["detector"] == "zscore" else None)
        out.append((names, sig, z))
    return out


def _split_scores(streams: Sequence[mon.Stream], binned: Sequence[tuple], hp: Mapping[str, Any],
                  h: float) -> pd.DataFrame:
    """``match_alerts`` of ``hp.detector`` at threshold ``h`` on every stream (one row per stream)."""
    rows = []
    for s, (names, sig, z) in zip(streams, binned):
        fired = mon.crossings(z, h) if z is not None else mon.cusum_detector(sig, hp["baseline_bins"],
                                                                             hp["cusum_k"], h)[1]
        rows.append(mon.match_alerts(mon.alert_table(fired, names, hp["bin_minutes"]), s.bursts,
                                     hp["match_tolerance_min"]))
    return pd.DataFrame(rows)


def _chosen_and_scored(streams: Mapping[str, Sequence[mon.Stream]], values: Mapping[str, Sequence[np.ndarray]],
                       hp: Mapping[str, Any], volume: bool = False) -> tuple[float, pd.DataFrame, pd.DataFrame]:
    """The threshold chosen on the calibration streams (as §5 chooses it), the calibration streams' scores at it
    and the evaluation streams' scores at it."""
    grid = hp["z_grid"] if hp["detector"] == "zscore" else hp["cusum_grid"]
    cal_binned = _binned(streams["calibration"], values["calibration"], hp, volume)
    cal = {h: _split_scores(streams["calibration"], cal_binned, hp, h) for h in grid}
    h, _ = mon.choose_threshold(lambda h: cal[h].mean(), grid)
    ev_binned = _binned(streams["evaluation"], values["evaluation"], hp, volume)
    return h, cal[h], _split_scores(streams["evaluation"], ev_binned, hp, h)


def _oracle_values(streams: Mapping[str, Sequence[mon.Stream]]) -> dict[str, list[np.ndarray]]:
    return {name: [(s.tweets["label"].to_numpy() == BEARISH).astype(float) for s in ss] for name, ss in streams.items()}


def _oracle_figures(streams: Mapping[str, Sequence[mon.Stream]], hp: Mapping[str, Any],
                    p_text: Mapping[str, np.ndarray] | None = None) -> dict[str, float]:
    """The oracle detector's mean evaluation F1 (the answer) and the figures of the known wrong answers."""
    oracle = _oracle_values(streams)
    _, cal, ev = _chosen_and_scored(streams, oracle, hp)
    _, _, vol = _chosen_and_scored(streams, oracle, hp, volume=True)
    out = {"oracle": float(ev["f1"].mean()), "oracle_precision": float(ev["precision"].mean()),
           "oracle_recall": float(ev["recall"].mean()), "oracle_calibration": float(cal["f1"].mean()),
           "volume": float(vol["f1"].mean())}
    if p_text is not None:
        model = {name: [p_text[name][s.tweets["src"].to_numpy(), BEARISH] for s in ss] for name, ss in streams.items()}
        out["classifier"] = float(_chosen_and_scored(streams, model, hp)[2]["f1"].mean())
    return out


def _oracle_mistakes(f: Mapping[str, float]) -> list[tuple[float, str]]:
    found = [(f["oracle_precision"], "That is the oracle detector's mean precision; report the mean F1 over the "
                                     "evaluation streams."),
             (f["oracle_recall"], "That is the oracle detector's mean recall; report the mean F1 over the evaluation "
                                  "streams."),
             (f["oracle_calibration"], "That is measured on the calibration streams, where the threshold was "
                                       "chosen; report the mean F1 over the evaluation streams."),
             (f["volume"], "That is the volume baseline's F1 (tweet counts, no labels at all); feed the detector the "
                           "human bearish labels instead.")]
    if "classifier" in f:
        found.insert(0, (f["classifier"], "That is the unchanged figure of §5 (the classifier's probabilities); "
                                          "replace p_bear by 1[label == bearish] and choose the threshold again."))
    return found


def _oracle_wrong(streams: Mapping[str, Sequence[mon.Stream]], hp: Mapping[str, Any],
                  p_text: Mapping[str, np.ndarray] | None = None) -> list[tuple[float, str]]:
    f = _oracle_figures(streams, hp, p_text)
    return [(value, text.split(";")[0][:40]) for value, text in _oracle_mistakes(f)
            if abs(value - f["oracle"]) > ORACLE_BAND]


def _run_oracle(answer: Any, *, streams: Mapping[str, Sequence[mon.Stream]], hp: Mapping[str, Any],
                p_text: Mapping[str, np.ndarray] | None = None) -> bool:
    f = _oracle_figures(streams, hp, p_text)
    return ex.check_value(
        "12.oracle_labels", answer, f["oracle"], atol=ORACLE_BAND, rtol=0.0, mistakes=_oracle_mistakes(f),
        hint=f"accepted within ±{ORACLE_BAND} of the mean evaluation F1 that human labels give on these streams")


def test_context() -> dict[str, object]:
    """The keyword arguments of the chapter's experiment check, rebuilt from the data mirror as the notebook
    builds them (fast profile, no classifier: the oracle needs only the labels)."""
    from ..apps import sentiment
    from ..core import config
    from ..datasets import load_financial_tweets

    hp = config.chapter("12_sentiment_monitoring").hparams("fast")
    test = load_financial_tweets("valid")
    _, validation = sentiment.train_validation_split(sentiment.component_hparams("fast"))
    corpus = {"calibration": (validation["text"].to_numpy(), validation["label"].to_numpy()),
              "evaluation": (test["text"].to_numpy(), test["label"].to_numpy())}
    seeds = {"calibration": hp.calibration_seeds, "evaluation": hp.evaluation_seeds}
    return {"streams": {name: [mon.build_stream(*corpus[name], hp, seed) for seed in seeds[name]] for name in corpus},
            "hp": hp}


EXERCISES: list[Exercise] = [
    Exercise("12.tickers", "implement", 1, "the distinct cash-tags of a tweet", _run_tickers,
             lambda: mon.extract_tickers,
             hint="A cash-tag is $ then 1–6 letters not followed by another letter: \\$([A-Za-z]{1,6})(?![A-Za-z]). "
                  "Upper-case each match and keep the first appearance only.", wrong=_TICKERS_WRONG),
    Exercise("12.bearish_mass", "implement", 2, "the bearish mass per ticker and bin", _run_bearish_mass,
             lambda: _bearish_mass,
             hint="Start from np.zeros((len(names), n_bins)); a tweet's bin is min(int(t // bin_minutes), "
                  "n_bins − 1); add its p_bear once to the row of every monitored ticker it names.",
             wrong=_MASS_WRONG),
    Exercise("12.match_alerts", "implement", 3, "precision and recall of the alerts", _run_match_alerts,
             lambda: _precision_recall,
             hint="Loop over the bursts: hit = (ticker matches) & (start <= time <= end + tolerance), a boolean per "
                  "alert. OR the hits into one 'true' mask for precision; a burst is caught when hit.any().",
             wrong=_PR_WRONG),
    Exercise("12.oracle_labels", "experiment", 2, "the detector fed with the human labels", _run_oracle,
             lambda streams, hp, p_text=None: _oracle_figures(streams, hp)["oracle"],
             hint="Per stream: p = (s.tweets['label'] == bearish) as float; mon.bin_ticker_series gives x; sweep the "
                  "grid on the calibration streams with mon.choose_threshold (mean of match_alerts over streams), "
                  "then average match_alerts(...)['f1'] over the evaluation streams.", wrong=_oracle_wrong),
    Exercise("12.cusum_step", "derive", 1, "one CUSUM step", _run_cusum_step, lambda: _cusum_step,
             hint="Add the excess x_t − μ_t − k to the previous S and clip at 0.", wrong=_CUSUM_WRONG),
    Exercise("12.threshold_streams", "concept", 1, "where the alert threshold is chosen", _run_threshold_streams,
             lambda: "calibration",
             hint="Which streams are never used for a choice, so that their figures can be reported?",
             wrong=_THRESHOLD_WRONG),
]
