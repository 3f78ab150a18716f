"""MovieLens ml-latest-small (610 users, 9,742 movies, 100,836 ratings)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .registry import dataset_dir


@dataclass(frozen=True)
class MovieLens:
    """The four tables: ``ratings`` (userId, movieId, rating, timestamp), ``movies`` (movieId,
    title, genres), ``tags`` (userId, movieId, tag, timestamp), ``links`` (movieId, imdbId, tmdbId)."""

    ratings: pd.DataFrame
    movies: pd.DataFrame
    tags: pd.DataFrame
    links: pd.DataFrame


def load_movielens() -> MovieLens:
    """Read the MovieLens small tables with pandas (UTF-8; titles contain commas and quotes)."""
    folder = dataset_dir("movielens-small")
    read = lambda name: pd.read_csv(folder / name, encoding="utf-8")
    return MovieLens(read("ratings.csv"), read("movies.csv"), read("tags.csv"), read("links.csv"))
