"""Financial-tweet sentiment: train the chapter 09 classifiers, pick the best, and serve ``predict``.

The API that later chapters use (12: sentiment monitoring, 14: risks)::

    from aigc_course.apps import sentiment

    model = sentiment.load_sentiment_model()           # trains on first use, then loads in a second
    probs = model.predict(["$AAPL beats estimates", "Fed holds rates"])  # (2, 3) numpy, rows sum to 1
    sentiment.LABELS                                   # ("bearish", "bullish", "neutral"): the columns

or in one call, with the model cached per profile and device: ``sentiment.predict(texts)``.

How the model is made (chapter 09 walks through it):

* The data are the ``train`` split of the financial tweets; the ``valid`` split is the **test set**
  and is never touched here. A stratified validation subset (``val_fraction``) is carved out of
  ``train`` for early stopping, for the TF-IDF regularisation grid, for temperature scaling and for
  choosing the best architecture.
* Four candidates (``COMPONENTS["sentiment_classifier"]``, key ``candidates``): TF-IDF + logistic
  regression, TextCNN, BiLSTM and a Transformer encoder. Each is trained through
  :func:`aigc_course.core.training.load_or_train` with its tokenizer / TF-IDF vocabulary, the fitted
  temperature and its validation scores in the checkpoint's ``extra`` (plain lists and numbers, so the
  file loads with ``weights_only=True``).
* :func:`load_sentiment_model` returns the candidate with the highest **validation** macro-F1.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..core import config, paths, training
from ..datasets.text import FINANCIAL_LABELS, load_financial_tweets
from ..metrics import classification as cm
from ..models import text_classifiers as tc
from ..models.text_tokenize import TfidfFeaturizer, WordTokenizer, _check_texts, encoder_from_state, split_words

LABELS: tuple[str, ...] = FINANCIAL_LABELS
"""Column order of every probability array: 0 = bearish, 1 = bullish, 2 = neutral."""
COMPONENT = "sentiment_classifier"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def stratified_split(labels: Sequence[int], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(fit, held_out)`` with ``round(fraction · n_k)`` of every class ``k`` held out (seeded)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1); got {fraction}")
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held = []
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        held.append(rng.permutation(idx)[: int(round(fraction * len(idx)))])
    held_out = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(y)), held_out), held_out


def train_validation_split(hp: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``train`` split cut into (fitting subset, validation subset); ``hp.train_limit`` keeps a
    stratified share of the fitting subset (smoke profile). The test split is not read."""
    frame = load_financial_tweets("train")
    fit_idx, val_idx = stratified_split(frame["label"].to_numpy(), hp["val_fraction"], hp["split_seed"])
    fit, val = frame.iloc[fit_idx].reset_index(drop=True), frame.iloc[val_idx].reset_index(drop=True)
    limit = hp.get("train_limit")
    if limit and limit < len(fit):
        keep, _ = stratified_split(fit["label"].to_numpy(), 1 - limit / len(fit), hp["split_seed"] + 1)
        fit = fit.iloc[keep].reset_index(drop=True)
    return fit, val


# --------------------------------------------------------------------------------------------
# The served model
# --------------------------------------------------------------------------------------------
class SentimentModel:
    """A trained classifier with its tokenizer and temperature: texts → calibrated probabilities.

    ``predict(texts)`` returns ``softmax(logits / temperature)`` as a NumPy array ``(N, 3)`` whose
    columns follow :data:`LABELS`. ``info`` holds the validation scores and training facts stored
    in the checkpoint; ``history`` the per-epoch curves.

    The candidates are trained with class weights ``w = info["class_weight_values"]`` (chapter 09 §4),
    which makes them over-state the rare classes: averaged over many tweets, the bearish and bullish
    probabilities exceed those classes' frequencies (chapter 09 §9 measures it). Where unbiased
    averages matter, use :meth:`predict` with ``prior_correction=True``.
    """

    def __init__(self, arch: str, encoder: WordTokenizer | TfidfFeaturizer, net: nn.Module, temperature: float = 1.0,
                 *, max_len: int | None = None, info: Mapping[str, Any] | None = None,
                 history: Mapping[str, list[float]] | None = None, path: Path | None = None, loaded: bool = False,
                 device: torch.device | str | None = None):
        if arch not in tc.ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(tc.ARCHITECTURES)}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        self.arch, self.encoder, self.temperature, self.max_len = arch, encoder, float(temperature), max_len
        self.device = torch.device(device) if device is not None else next(net.parameters()).device
        self.net = net.to(self.device).eval()
        self.labels = LABELS
        self.info: dict[str, Any] = dict(info or {})
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        self.path, self.loaded = path, loaded

    def __repr__(self) -> str:
        f1 = self.info.get("val_macro_f1")
        score = f", validation macro-F1 {f1:.3f}" if f1 is not None else ""
        size = tc.count_parameters(self.net)
        return f"SentimentModel({self.arch}, {size:,} parameters, T = {self.temperature:.2f}{score})"

    def _inputs(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(self.encoder, TfidfFeaturizer):
            return self.encoder.batch(texts)
        return self.encoder.batch(texts, self.max_len, min_len=1)

    @torch.no_grad()
    def logits(self, texts: Sequence[str], batch_size: int = 512) -> torch.Tensor:
        """Raw logits ``(N, 3)`` float32 on the CPU (no temperature). Texts are batched by length."""
        texts = check_texts(texts)
        blind = [i for i, t in enumerate(texts) if not knows_a_word(self.encoder, t)]
        # a handful of typed texts, or a batch that is mostly unreadable, is a mistake worth saying; a few unknown
        # proper nouns among thousands of headlines (chapter 09's test set: 8 of 2,388 in smoke) are not
        if blind and (len(texts) <= 32 or len(blind) >= 0.1 * len(texts)):
            import warnings

            warnings.warn(f"{len(blind)} of {len(texts)} texts contain no word the model knows (e.g. texts[{blind[0]}]"
                          f" = {texts[blind[0]][:60]!r}): their probabilities are the model's prior, not a reading of "
                          "the text (is it in another language, or all symbols?)", stacklevel=3)
        self.net.eval()
        out = torch.empty(len(texts), len(self.labels))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths → little padding
        for start in range(0, len(order), batch_size):
            idx = order[start: start + batch_size]
            out[idx] = self.net(self._inputs([texts[i] for i in idx]).to(self.device)).float().cpu()
        return out

    def predict(self, texts: Sequence[str], batch_size: int = 512, *, prior_correction: bool = False) -> np.ndarray:
        """Calibrated probabilities ``(N, 3)`` float64 in :data:`LABELS` order; ``N = len(texts)``.

        By default the probabilities are ``softmax(z / T)``: their most probable class is the model's
        class-weighted decision (the one chapter 09 scores with macro-F1). ``prior_correction=True`` returns
        ``softmax(z / T' + b)`` instead, with ``T'`` and one bias per class ``b`` fitted on the validation
        subset, so that each class's average probability matches its frequency there — the rare-class boost
        of the class weights removed (the most probable class may change). Raises ``TypeError`` for a bare
        string or non-string items, ``ValueError`` for an empty or whitespace-only text. An empty list gives
        an empty ``(0, 3)`` array.
        """
        logits = self.logits(texts, batch_size).double()
        if prior_correction:
            bias = torch.as_tensor(self.info["prior_bias"], dtype=torch.float64)
            return torch.softmax(logits / self.info["prior_temperature"] + bias, dim=1).numpy()
        return torch.softmax(logits / self.temperature, dim=1).numpy()

    __call__ = predict

    def predict_labels(self, texts: Sequence[str]) -> list[str]:
        """The most probable label name of each text."""
        return [self.labels[i] for i in self.predict(texts).argmax(1)]


def knows_a_word(encoder: WordTokenizer | TfidfFeaturizer, text: str) -> bool:
    """Whether ``text`` has at least one token (word tokenizer) or n-gram (TF-IDF) of ``encoder``'s vocabulary."""
    if isinstance(encoder, TfidfFeaturizer):
        return any(g in encoder.index for g in encoder.analyze(text))
    return any(encoder.stoi.get(w, encoder.unk_id) != encoder.unk_id for w in split_words(text))


def check_texts(texts: Any) -> list[str]:
    """``texts`` as a list of non-empty strings, or a clear ``TypeError`` / ``ValueError``."""
    items = _check_texts(texts)
    for i, text in enumerate(items):
        if not text.strip():
            raise ValueError(f"texts[{i}] is empty or whitespace only: there is nothing to classify")
    return items


# --------------------------------------------------------------------------------------------
# Training one candidate
# --------------------------------------------------------------------------------------------
def candidate_config(arch: str, hp: Mapping[str, Any]) -> dict[str, Any]:
    """Everything that determines candidate ``arch``'s weights (the checkpoint key)."""
    if arch not in tc.ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(tc.ARCHITECTURES)}")
    common = {k: hp[k] for k in ("val_fraction", "split_seed", "train_limit", "class_weights", "seed")}
    if arch != "tfidf":
        common.update({k: hp[k] for k in ("min_freq", "max_len", "batch_size", "weight_decay", "warmup_frac",
                                          "grad_clip")})
    return {"arch": arch, **common, **dict(hp[arch])}


def _net_kwargs(arch: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    keys = {"textcnn": ("embed_dim", "kernel_sizes", "channels", "dropout"),
            "bilstm": ("embed_dim", "hidden", "layers", "dropout"),
            "transformer": ("d_model", "heads", "layers", "ff", "dropout")}[arch]
    kwargs = {k: cfg[k] for k in keys}
    if arch == "transformer":
        kwargs["max_len"] = cfg["max_len"]
    return kwargs


def build_net(arch: str, input_size: int, cfg: Mapping[str, Any]) -> nn.Module:
    """A fresh network for ``arch``: ``input_size`` is the vocabulary size (or the TF-IDF dimension)."""
    torch.manual_seed(cfg["seed"])
    if arch == "tfidf":
        return tc.TfidfLogisticRegression(input_size, len(LABELS))
    return tc.ARCHITECTURES[arch](input_size, len(LABELS), **_net_kwargs(arch, cfg))


def checkpoint_path(name: str, cfg: Mapping[str, Any]) -> Path:
    """Where :func:`~aigc_course.core.training.load_or_train` keeps ``name``'s finished checkpoint for ``cfg``."""
    return training.checkpoint_path(name, cfg)


def _from_checkpoint(name: str, arch: str, cfg: Mapping[str, Any], device: torch.device) -> SentimentModel | None:
    """The finished candidate, rebuilt from its checkpoint alone (no training data needed), or ``None``."""
    path = checkpoint_path(name, cfg)
    if not path.is_file():
        return None
    try:
        state = training.load_checkpoint(path)
        extra = state["extra"]
        encoder = encoder_from_state(extra["encoder"])
        net = build_net(arch, len(encoder), cfg)
        net.load_state_dict(state["model"])
    except (training.CheckpointError, KeyError, RuntimeError, ValueError):
        return None  # load_or_train will move the bad file aside and train again
    print(f"loaded {name} from {path}")
    return SentimentModel(arch, encoder, net.to(device), extra["temperature"], max_len=cfg.get("max_len"),
                          info=extra, history=state.get("history", {}), path=path, loaded=True, device=device)


def _scores(logits: torch.Tensor, y: np.ndarray) -> dict[str, float]:
    pred = logits.argmax(1).numpy()
    return {"macro_f1": cm.macro_f1(y, pred, len(LABELS)), "accuracy": cm.accuracy(y, pred),
            "loss": float(F.cross_entropy(logits.double(), torch.as_tensor(np.array(y))))}


def _finish(logits_val: torch.Tensor, y_val: np.ndarray, extra: dict[str, Any], ece_bins: int) -> dict[str, Any]:
    """Fit the temperature on the validation subset and add the validation figures to ``extra``."""
    temperature = cm.fit_temperature(logits_val, y_val)
    prior_temperature, prior_bias = cm.fit_temperature_and_bias(logits_val, y_val)
    probs = torch.softmax(logits_val.double(), 1).numpy()
    scaled = torch.softmax(logits_val.double() / temperature, 1).numpy()
    scores = _scores(logits_val, y_val)
    extra.update(temperature=temperature, prior_temperature=prior_temperature, prior_bias=prior_bias.tolist(),
                 val_macro_f1=scores["macro_f1"], val_accuracy=scores["accuracy"],
                 val_ece=cm.expected_calibration_error(probs, y_val, ece_bins),
                 val_ece_scaled=cm.expected_calibration_error(scaled, y_val, ece_bins))
    return extra


def tfidf_trainer(featurizer: TfidfFeaturizer, fit: pd.DataFrame, val: pd.DataFrame, cfg: Mapping[str, Any],
                  ece_bins: int):
    """The ``train(model, session)`` function of :func:`~aigc_course.core.training.load_or_train` for the TF-IDF
    baseline: fit scikit-learn's LogisticRegression for every ``C`` of ``cfg["C"]`` on the fitting subset, keep
    the one with the best validation macro-F1, copy its weights into ``model`` and fit the temperature."""
    from sklearn.linear_model import LogisticRegression

    def train(model: nn.Module, session: training.TrainingSession) -> dict[str, Any]:
        t0 = time.perf_counter()
        x_fit, x_val = featurizer.transform(fit["text"].tolist()), featurizer.transform(val["text"].tolist())
        y_fit, y_val = fit["label"].to_numpy(), val["label"].to_numpy()
        best, best_f1 = None, -1.0
        for c in cfg["C"]:  # the regularisation strength is chosen on the validation subset
            clf = LogisticRegression(C=c, solver=cfg["solver"], tol=cfg["tol"], max_iter=cfg["max_iter"],
                                     random_state=cfg["seed"],
                                     class_weight="balanced" if cfg["class_weights"] else None)
            clf.fit(x_fit, y_fit)
            f1 = cm.macro_f1(y_val, clf.predict(x_val), len(LABELS))
            session.log(C=c, val_macro_f1=f1)
            if f1 > best_f1:
                best, best_f1 = clf, f1
        with torch.no_grad():
            model.load_state_dict(tc.TfidfLogisticRegression.from_sklearn(best).state_dict())
        logits_val = torch.as_tensor(best.decision_function(x_val), dtype=torch.float32)
        extra = {"arch": "tfidf", "encoder": featurizer.state(), "C": float(best.C),
                 "class_weight_values": cm.balanced_class_weights(y_fit, len(LABELS)).tolist()
                 if cfg["class_weights"] else [1.0] * len(LABELS)}
        extra = _finish(logits_val, y_val, extra, ece_bins)
        extra["train_seconds"] = time.perf_counter() - t0
        return extra

    return train


def length_buckets(lengths: torch.Tensor, batch_size: int, generator: torch.Generator,
                    pool: int = 20) -> list[torch.Tensor]:
    """Shuffled mini-batches of indices in which texts have similar lengths (less padding to compute):
    shuffle, sort each pool of ``pool`` batches by length, cut into batches, shuffle the batches."""
    batches: list[torch.Tensor] = []
    for chunk in torch.randperm(len(lengths), generator=generator).split(batch_size * pool):
        batches += list(chunk[lengths[chunk].argsort(stable=True)].split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def neural_trainer(arch: str, tokenizer: WordTokenizer, fit: pd.DataFrame, val: pd.DataFrame,
                   cfg: Mapping[str, Any], device: torch.device, ece_bins: int, progress: bool):
    """The ``train(model, session)`` function of :func:`~aigc_course.core.training.load_or_train` for a neural
    classifier: AdamW with warm-up + cosine learning rate, class-weighted cross-entropy, length-bucketed
    mini-batches, and early stopping on the validation macro-F1 (the best epoch's weights are kept); then
    the temperature is fitted on the validation subset. Curves go to ``session.history``."""
    def evaluate(model: nn.Module, ids: torch.Tensor, batch: int = 512) -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            return torch.cat([model(ids[i: i + batch].to(device)).float().cpu() for i in range(0, len(ids), batch)])

    def train(model: nn.Module, session: training.TrainingSession) -> dict[str, Any]:
        t0 = time.perf_counter()
        x_fit = tokenizer.batch(fit["text"].tolist(), cfg["max_len"])  # (N, L) ids, padded once
        x_val = tokenizer.batch(val["text"].tolist(), cfg["max_len"])
        y_fit, y_val = torch.as_tensor(fit["label"].to_numpy(copy=True)), val["label"].to_numpy()
        lengths = (x_fit != tc.PAD_ID).sum(1)
        weights = (cm.balanced_class_weights(y_fit.numpy(), len(LABELS)) if cfg["class_weights"]
                   else np.ones(len(LABELS)))
        class_weight = torch.as_tensor(weights, dtype=torch.float32, device=device)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        steps_per_epoch = math.ceil(len(x_fit) / cfg["batch_size"])
        total = cfg["epochs"] * steps_per_epoch
        g = torch.Generator().manual_seed(cfg["seed"])
        best: dict[str, Any] = {"state": None, "f1": -1.0, "epoch": -1}
        batches: list[torch.Tensor] = []

        def new_epoch(epoch: int, first: bool) -> None:
            nonlocal batches
            model.train()
            batches = length_buckets(lengths, cfg["batch_size"], g)

        def loss_fn(step: int) -> tuple[torch.Tensor, dict[str, float]]:
            idx = batches[step % steps_per_epoch]
            ids = x_fit[idx, : int(lengths[idx].max())].to(device)  # trim the batch to its longest text
            return F.cross_entropy(model(ids), y_fit[idx].to(device), weight=class_weight), {"n": len(idx)}

        def validation() -> dict[str, float]:
            scores = _scores(evaluate(model, x_val), y_val)
            return {"val_loss": scores["loss"], "val_macro_f1": scores["macro_f1"], "val_accuracy": scores["accuracy"]}

        def keep_best(done: int, row: dict[str, float]) -> None:
            if row["val_macro_f1"] > best["f1"]:  # early stopping: keep the epoch with the best validation macro-F1
                best.update(state=copy.deepcopy(model.state_dict()), f1=row["val_macro_f1"],
                            epoch=done // steps_per_epoch - 1)

        step = training.loss_step(loss_fn, opt, clip=cfg["grad_clip"], params=model.parameters(), name="train_loss")
        history = training.run_steps(
            step, total=total, chunk=steps_per_epoch, optimizers=[opt], chunk_start=new_epoch, weight="n",
            lr_at=lambda i, _: training.warmup_cosine_lr(i, total, cfg["lr"], warmup=int(cfg["warmup_frac"] * total)),
            evaluate=validation, on_chunk=keep_best, desc=arch if progress else None)
        for key in ("train_loss", "val_loss", "val_macro_f1", "val_accuracy"):  # the curves, in the checkpoint
            session.history[key] = history[key]
        best_state, best_epoch = best["state"], best["epoch"]
        model.load_state_dict(best_state)
        extra = {"arch": arch, "encoder": tokenizer.state(), "best_epoch": best_epoch + 1,
                 "class_weight_values": [float(w) for w in weights]}
        extra = _finish(evaluate(model, x_val), y_val, extra, ece_bins)
        extra["train_seconds"] = time.perf_counter() - t0
        return extra

    return train


def _profile(profile: str | None) -> str:
    if profile is not None:
        return config.check_profile(profile)
    run = config.current_run()
    return run.profile if run is not None else config.resolve_profile(None)


def component_hparams(profile: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The ``sentiment_classifier`` row for ``profile`` (default: the current run's), with ``overrides``."""
    hp = config.component(COMPONENT, _profile(profile)).to_dict()
    unknown = set(overrides) - set(hp)
    if unknown:
        raise ValueError(f"unknown sentiment_classifier settings {sorted(unknown)}; known: {', '.join(sorted(hp))}")
    return {**hp, **overrides}


def train_candidate(arch: str, profile: str | None = None, *, device: torch.device | str | None = None,
                    retrain: bool = False, progress: bool = True, **overrides: Any) -> SentimentModel:
    """Load candidate ``arch`` from its checkpoint, or train it on the train split (``load_or_train``).

    ``overrides`` change settings of the ``sentiment_classifier`` row (e.g. ``class_weights=False``);
    each distinct configuration has its own checkpoint. The returned model's ``info`` has the
    validation figures (``val_macro_f1``, ``val_accuracy``, ``val_ece``, ``val_ece_scaled``), the
    fitted ``temperature``, ``train_seconds`` and architecture specifics (``best_epoch``, ``C``).
    """
    hp = component_hparams(profile, **overrides)
    device = torch.device(device) if device is not None else config.resolve_device()
    cfg = candidate_config(arch, hp)
    name = f"sentiment_{arch}"
    if not retrain:
        found = _from_checkpoint(name, arch, cfg, device)
        if found is not None:
            return found
    fit, val = train_validation_split(hp)
    if arch == "tfidf":
        encoder: WordTokenizer | TfidfFeaturizer = TfidfFeaturizer.fit(
            fit["text"].tolist(), tuple(cfg["ngrams"]), cfg["min_df"])
        train = tfidf_trainer(encoder, fit, val, cfg, hp["ece_bins"])
    else:
        encoder = WordTokenizer.fit(fit["text"].tolist(), cfg["min_freq"])
        train = neural_trainer(arch, encoder, fit, val, cfg, device, hp["ece_bins"], progress)
    trained = training.load_or_train(name, cfg, lambda c: build_net(arch, len(encoder), c), train,
                                     retrain=retrain, device=device)
    extra = trained.extra
    encoder = encoder_from_state(extra["encoder"])  # the stored vocabulary is the one that is served
    return SentimentModel(arch, encoder, trained.model, extra["temperature"], max_len=cfg.get("max_len"),
                          info=extra, history=trained.history, path=trained.path, loaded=trained.loaded,
                          device=device)


# --------------------------------------------------------------------------------------------
# Choosing and serving
# --------------------------------------------------------------------------------------------
def select_best(models: Mapping[str, SentimentModel]) -> SentimentModel:
    """The model with the highest validation macro-F1 (the first one listed on a tie)."""
    if not models:
        raise ValueError("no models to choose from")
    return max(models.values(), key=lambda m: m.info["val_macro_f1"])


def load_sentiment_model(profile: str | None = None, device: torch.device | str | None = None, *,
                         arch: str | None = None, retrain: bool = False, progress: bool = True) -> SentimentModel:
    """The financial-sentiment classifier of chapter 09, ready for :meth:`SentimentModel.predict`.

    Loads (or, the first time, trains) every candidate of the ``sentiment_classifier`` row for
    ``profile`` and returns the one with the best **validation** macro-F1 — the same choice chapter 09
    makes; ``arch`` (``"tfidf"``, ``"textcnn"``, ``"bilstm"``, ``"transformer"``) asks for one
    architecture instead. ``profile`` defaults to the current run's (``ac.setup``), then
    ``AIGC_COURSE_PROFILE``. The model is kept in memory: a second call returns the same object.
    """
    prof = _profile(profile)
    dev = torch.device(device) if device is not None else config.resolve_device()
    key = (prof, str(dev), arch, str(paths.checkpoint_dir()))
    if key in _CACHE and not retrain:
        return _CACHE[key]
    names = [arch] if arch is not None else list(component_hparams(prof)["candidates"])
    model = select_best({a: train_candidate(a, prof, device=dev, retrain=retrain, progress=progress)
                         for a in names})
    _CACHE[key] = model
    return model


_CACHE: dict[tuple[str, str, str | None, str], SentimentModel] = {}
"""Models returned by :func:`load_sentiment_model`, by (profile, device, arch, checkpoint folder)."""


def predict(texts: Sequence[str], *, profile: str | None = None,
            device: torch.device | str | None = None) -> np.ndarray:
    """Probabilities ``(N, 3)`` (columns :data:`LABELS`) from the best model, loaded once per profile and device
    (the same object :func:`load_sentiment_model` returns)."""
    return load_sentiment_model(profile, device, progress=False).predict(texts)


__all__ = ["LABELS", "SentimentModel", "build_net", "candidate_config", "check_texts", "checkpoint_path",
           "component_hparams", "length_buckets", "load_sentiment_model", "neural_trainer", "predict", "select_best",
           "stratified_split", "tfidf_trainer", "train_candidate", "train_validation_split"]
