"""Speech datasets read with ``soundfile``: the Free Spoken Digit Dataset and an LJSpeech sample."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from .registry import dataset_dir, get

FSDD_SAMPLE_RATE = 8000
LJSPEECH_SAMPLE_RATE = 22050


@dataclass(frozen=True)
class SpokenDigit:
    """One FSDD clip: ``audio`` float32 ``(samples,)`` in [-1, 1] at 8 kHz."""

    audio: np.ndarray
    digit: int
    speaker: str
    index: int


def load_fsdd(split: str = "train", *, speakers: tuple[str, ...] | None = None) -> list[SpokenDigit]:
    """FSDD clips of ``split``: "test" = recording indices 0–4 (the official split, 300 clips),
    "train" = indices 5–49 (2,700 clips), "all" = both. Sorted by (digit, speaker, index)."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
    folder = dataset_dir("fsdd") / "recordings"
    listed = {rel.rsplit("/", 1)[1] for rel in get("fsdd").files if rel.startswith("fsdd/recordings/")}
    stray = sorted(p.name for p in folder.iterdir() if p.name not in listed)
    if stray:  # macOS's ._*.wav, a copy, a new recording: never part of a split (they would move the test set)
        import warnings

        warnings.warn(f"{folder}: ignored {len(stray)} file(s) not in the FSDD manifest: {', '.join(stray[:3])}"
                      + (" ..." if len(stray) > 3 else ""), stacklevel=2)
    clips = []
    for path in sorted(folder / name for name in listed if (folder / name).is_file()):
        digit, speaker, index = path.stem.split("_")
        index_i = int(index)
        if split == "test" and index_i > 4 or split == "train" and index_i <= 4:
            continue
        if speakers and speaker not in speakers:
            continue
        audio, rate = sf.read(path, dtype="float32")
        if rate != FSDD_SAMPLE_RATE:
            raise ValueError(f"{path.name}: expected {FSDD_SAMPLE_RATE} Hz, found {rate} Hz")
        clips.append(SpokenDigit(audio, int(digit), speaker, index_i))
    clips.sort(key=lambda c: (c.digit, c.speaker, c.index))
    return clips


@dataclass(frozen=True)
class Utterance:
    """One LJSpeech clip: ``audio`` float32 ``(samples,)`` at 22,050 Hz with its transcripts."""

    id: str
    text: str
    normalized_text: str
    audio: np.ndarray


def load_ljspeech_sample() -> list[Utterance]:
    """The 32 clips of the LJSpeech sample, in ``metadata.csv`` order."""
    folder = dataset_dir("ljspeech-sample")
    rows = []
    with open(folder / "metadata.csv", encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE):
            if row:
                rows.append(row)
    out = []
    for clip_id, text, normalized in rows:
        audio, rate = sf.read(folder / "wavs" / f"{clip_id}.wav", dtype="float32")
        if rate != LJSPEECH_SAMPLE_RATE:
            raise ValueError(f"{clip_id}.wav: expected {LJSPEECH_SAMPLE_RATE} Hz, found {rate} Hz")
        out.append(Utterance(clip_id, text, normalized, audio))
    return out
