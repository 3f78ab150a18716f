"""Text datasets: Tiny Shakespeare, the financial-news tweets, and the chinese-poetry subset."""

from __future__ import annotations

import json
from functools import lru_cache

import pandas as pd

from .registry import dataset_dir

FINANCIAL_LABELS: tuple[str, ...] = ("bearish", "bullish", "neutral")
"""Label ids of the financial tweets: 0 = bearish, 1 = bullish, 2 = neutral."""


@lru_cache(maxsize=1)
def load_tiny_shakespeare_text() -> str:
    """The whole Tiny Shakespeare text (1,115,394 characters)."""
    return (dataset_dir("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")


def load_tiny_shakespeare(val_fraction: float = 0.1) -> tuple[str, str]:
    """``(train_text, val_text)``: the first 90 % for training and the last 10 % for validation,
    split by characters as nanoGPT's ``shakespeare_char`` does."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), not {val_fraction}")
    text = load_tiny_shakespeare_text()
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


def load_financial_tweets(split: str = "train") -> pd.DataFrame:
    """Financial-news tweets, ``split`` "train" (9,543 rows) or "valid" (2,388 rows).

    Columns: ``text`` (str), ``label`` (int 0/1/2) and ``sentiment`` (name from
    :data:`FINANCIAL_LABELS`). Parsed with a real CSV parser: some fields contain newlines.
    """
    files = {"train": "sent_train.csv", "valid": "sent_valid.csv"}
    if split not in files:
        raise ValueError(f"split must be 'train' or 'valid', not {split!r}")
    frame = pd.read_csv(dataset_dir("financial-tweets") / files[split], encoding="utf-8")
    frame["label"] = frame["label"].astype(int)
    frame["sentiment"] = frame["label"].map(dict(enumerate(FINANCIAL_LABELS)))
    return frame


_POETRY_FILES = {
    "tang": [f"全唐诗/poet.tang.{i}.json" for i in range(0, 5000, 1000)],
    "tang300": ["全唐诗/唐诗三百首.json"],
    "shijing": ["诗经/shijing.json"],
}


def load_chinese_poetry(collection: str = "tang") -> list[dict]:
    """Poems of ``collection``: "tang" (5,003 poems of 全唐诗, traditional characters),
    "tang300" (唐诗三百首) or "shijing" (诗经). Each poem is a dict with ``title``, ``author``
    (when known) and ``paragraphs`` (list of lines; 诗经 stores them under ``content``,
    normalised here to ``paragraphs``)."""
    if collection not in _POETRY_FILES:
        raise ValueError(f"collection must be one of {', '.join(_POETRY_FILES)}, not {collection!r}")
    folder = dataset_dir("chinese-poetry")
    poems: list[dict] = []
    for rel in _POETRY_FILES[collection]:
        for poem in json.loads((folder / rel).read_text(encoding="utf-8")):
            if "paragraphs" not in poem and "content" in poem:
                poem = {**poem, "paragraphs": poem["content"]}
            poems.append(poem)
    return poems
