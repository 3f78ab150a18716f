"""The trained models several chapters share, behind one call: ``components.get(name, profile)``.

Each is trained once, by the chapter that teaches it, under its ``COMPONENTS`` row of the profile table, and
cached as a checkpoint keyed by that row (:func:`~aigc_course.core.training.load_or_train`); any later chapter
asks for it by name and gets the same weights — loaded in a second, or trained on first use when the chapter that
makes it has not run yet. Within one Python process a second ``get`` returns the same object.

- ``mnist_judge`` (row ``mnist_classifier``, chapter 04; used by 04, 05, 06): an
  :class:`~aigc_course.metrics.image.ImageJudge` (the classifier, reference features, the FID floor);
- ``char_lstm`` (row ``char_lstm``, chapter 07; used by 07, 08) and ``char_gpt`` (row ``char_gpt``, chapter 08;
  used by 08, 14): ``(trained, data)``, a :class:`~aigc_course.core.training.Trained` and the
  :class:`~aigc_course.models.lm.CharData` it was trained on;
- ``sentiment_model`` (row ``sentiment_classifier``, chapter 09; used by 09, 12, 14): the
  :class:`~aigc_course.apps.sentiment.SentimentModel` with the best validation macro-F1;
- ``digit_judge`` (row ``digit_recognizer``, chapter 10): the CTC
  :class:`~aigc_course.models.speech_recognizer.DigitJudge` of synthesised speech.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..core import config


@dataclass(frozen=True)
class Component:
    """A shared trained model: its ``name``, the ``COMPONENTS`` ``row`` that defines it, the chapter that
    teaches it (``made_in``) and ``load(profile, device, **options)``, which loads or trains it."""

    name: str
    row: str
    made_in: str
    load: Callable[..., Any]


def _mnist_judge(profile: str, device: torch.device | None, **options: Any) -> Any:
    from ..metrics.image import image_judge

    return image_judge(profile, device=device, **options)


def _char_lm(kind: str) -> Callable[..., Any]:
    def load(profile: str, device: torch.device | None, **options: Any) -> Any:
        from ..models.lm import shakespeare_lm

        return shakespeare_lm(kind, profile, device=device, **options)

    return load


def _sentiment_model(profile: str, device: torch.device | None, **options: Any) -> Any:
    from .sentiment import load_sentiment_model

    return load_sentiment_model(profile, device, **options)


def _digit_judge(profile: str, device: torch.device | None, **options: Any) -> Any:
    from ..models.speech_recognizer import digit_judge

    return digit_judge(profile, device=device, **options)


REGISTRY: dict[str, Component] = {c.name: c for c in (
    Component("mnist_judge", "mnist_classifier", "04_image_gans", _mnist_judge),
    Component("char_lstm", "char_lstm", "07_language_models", _char_lm("lstm")),
    Component("char_gpt", "char_gpt", "08_transformers_gpt", _char_lm("gpt")),
    Component("sentiment_model", "sentiment_classifier", "09_sentiment", _sentiment_model),
    Component("digit_judge", "digit_recognizer", "10_text_to_speech", _digit_judge),
)}

_CACHE: dict[tuple[str, str, str, str], Any] = {}


def names() -> list[str]:
    """The names :func:`get` knows."""
    return sorted(REGISTRY)


def get(name: str, profile: str | None = None, *, device: torch.device | str | None = None, **options: Any) -> Any:
    """The shared trained model ``name`` for ``profile`` (default: the current run's, then
    ``AIGC_COURSE_PROFILE``) on ``device`` (default: the course's device). ``options`` go to the model's loader
    (e.g. ``progress=False``; ``arch="tfidf"`` for the sentiment model). Memoised per process."""
    try:
        component = REGISTRY[name]
    except KeyError:
        raise config.ConfigError(f"no shared model {name!r}; known: {', '.join(names())}") from None
    prof = config.resolve_profile(profile)
    dev = torch.device(device) if device is not None else config.resolve_device()
    key = (name, prof, str(dev), repr(sorted(options.items())))
    if key not in _CACHE:
        _CACHE[key] = component.load(prof, dev, **options)
    return _CACHE[key]


def forget() -> None:
    """Drop the in-process cache (the checkpoints on disk stay): the next :func:`get` loads again."""
    _CACHE.clear()


__all__ = ["Component", "REGISTRY", "names", "get", "forget"]
