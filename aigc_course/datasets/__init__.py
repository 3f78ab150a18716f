"""Datasets: a hash-checked registry (mirror → cache → download) and loaders returning tensors."""

from .audio import FSDD_SAMPLE_RATE, LJSPEECH_SAMPLE_RATE, SpokenDigit, Utterance, load_fsdd, load_ljspeech_sample
from .mnist import load_mnist, mnist_dataset, parse_idx
from .movielens import MovieLens, load_movielens
from .registry import (
    DATASETS,
    DatasetError,
    DatasetIntegrityError,
    DatasetNotFoundError,
    DatasetSpec,
    dataset_dir,
    directory_digest,
    fetch_to,
    locate,
    verify,
)
from .text import (
    FINANCIAL_LABELS,
    load_chinese_poetry,
    load_financial_tweets,
    load_tiny_shakespeare,
    load_tiny_shakespeare_text,
)
from .toy import circles, gaussian_mixture_1d, ring_centers, ring_of_gaussians, two_moons

__all__ = [
    "DATASETS", "DatasetError", "DatasetIntegrityError", "DatasetNotFoundError", "DatasetSpec",
    "FINANCIAL_LABELS", "FSDD_SAMPLE_RATE", "LJSPEECH_SAMPLE_RATE", "MovieLens", "SpokenDigit", "Utterance",
    "dataset_dir", "directory_digest", "fetch_to", "load_chinese_poetry", "load_financial_tweets",
    "load_fsdd", "load_ljspeech_sample", "load_mnist", "load_movielens", "load_tiny_shakespeare",
    "load_tiny_shakespeare_text", "locate", "mnist_dataset", "parse_idx", "verify",
    "circles", "gaussian_mixture_1d", "ring_centers", "ring_of_gaussians", "two_moons",
]
