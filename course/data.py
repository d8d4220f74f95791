"""Wine Reviews: find, download, load and split the course's dataset.

The data is Kaggle's "Wine Reviews" (zynicide/wine-reviews, scraped from
WineEnthusiast, 129,971 reviews, CC BY-NC-SA 4.0; see data/README.md).
Every review becomes one line of text, as the lecture notes format it::

    wine review : Italy : Sicily & Sardinia : White Blend : Aromas include ...

Where the data lives: ``$COURSE_DATA_DIR`` if set, else the repository's
``data/`` folder. Inside it, ``wine-reviews/`` holds either the full CSV
(fetched by ``course-data download``) or the offline subset used by tests.

What this module leaves out on purpose: tokenisation. Splitting text into
tokens is something students write themselves.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

REVIEW_FIELDS = ("country", "province", "variety", "description")
DATASET_FOLDER = "wine-reviews"


@dataclass(frozen=True)
class RemoteFile:
    """A file users can download, with the checksum that proves it arrived whole."""

    url: str
    sha256: str
    size: int
    filename: str
    min_reviews: int  # a sanity check on top of the checksum


# The full Kaggle file (winemag-data-130k-v2.csv), from a public Git LFS copy pinned
# to one commit: LFS names the file by its sha256, so these bytes cannot change.
# Kaggle itself needs a login; data/README.md says how to use Kaggle's copy instead.
FULL_DATASET = RemoteFile(
    url="https://media.githubusercontent.com/media/DanilovillegasIUD/danilo_villegas/"
    "a7ec6f177f072efc1f42a97e70d34f649efbbdf6/winemag-data-130k-v2.csv",
    sha256="af06fae3865beb76237f0b3cab131a9d84ceeaf93f9c1d64a0eea4c94ce6454f",
    size=54_068_762,
    filename="winemag-data-130k-v2.csv",
    min_reviews=129_000,  # Kaggle's file has 129,971
)

# Files we know how to read, best first: the full CSV, then the offline subset.
KNOWN_FILES = (FULL_DATASET.filename, "winemag-subset.jsonl.gz")


class DataNotFoundError(FileNotFoundError):
    """No Wine Reviews file where the course looks for one."""


class DownloadError(RuntimeError):
    """The download failed; the message says why and what to do."""


def data_dir() -> Path:
    """The folder that holds ``wine-reviews/``: ``$COURSE_DATA_DIR`` or ``data/``."""
    configured = os.environ.get("COURSE_DATA_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / "data"


def find_reviews_file(folder: Path | None = None) -> Path:
    """The best Wine Reviews file available, or a clear error saying what to run."""
    folder = (folder or data_dir()) / DATASET_FOLDER
    for name in KNOWN_FILES:
        if (folder / name).is_file():
            return folder / name
    raise DataNotFoundError(
        f"No Wine Reviews data in {folder}.\n"
        f"  - With internet: run `course-data download` (about {FULL_DATASET.size // 2**20} MB).\n"
        "  - Without: copy winemag-data-130k-v2.csv (Kaggle zynicide/wine-reviews) into that "
        "folder, or set COURSE_DATA_DIR to a folder that has a wine-reviews/ subfolder."
    )


def read_rows(path: Path) -> Iterator[dict]:
    """Yield raw rows (dicts) from the full CSV or the gzip JSON Lines subset."""
    if path.name.endswith(".jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)
    elif path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            yield from csv.DictReader(handle)
    else:
        raise ValueError(f"{path.name}: expected a .csv or .jsonl.gz Wine Reviews file")


def format_review(row: dict) -> str | None:
    """``wine review : country : province : variety : description``, or None if a field is missing."""
    values = [" ".join((row.get(field) or "").split()) for field in REVIEW_FIELDS]  # one line each
    if not all(values):
        return None
    return "wine review : " + " : ".join(values)


def formatted_reviews(rows: Iterable[dict]) -> list[str]:
    """Format every row, dropping the ones with a missing field."""
    return [text for text in map(format_review, rows) if text is not None]


def load_reviews(limit: int | None = None, seed: int = 42) -> list[str]:
    """All formatted reviews, or a deterministic random subset of ``limit`` of them."""
    reviews = formatted_reviews(read_rows(find_reviews_file()))
    if limit is None or limit >= len(reviews):
        return reviews
    if limit < 1:
        raise ValueError(f"limit must be a positive number of reviews, not {limit}")
    chosen = np.random.default_rng(seed).choice(len(reviews), size=limit, replace=False)
    return [reviews[i] for i in sorted(chosen)]


def train_validation_split(
    texts: list[str], validation_fraction: float = 0.1, seed: int = 42
) -> tuple[list[str], list[str]]:
    """Shuffle with ``seed`` and hold out ``validation_fraction`` of the texts."""
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be between 0 and 1, not {validation_fraction}")
    order = np.random.default_rng(seed).permutation(len(texts))
    n_validation = max(1, round(len(texts) * validation_fraction))
    validation = [texts[i] for i in order[:n_validation]]
    train = [texts[i] for i in order[n_validation:]]
    return train, validation


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_url(remote: RemoteFile) -> str:
    """Where to fetch ``remote`` from: ``$COURSE_DATA_MIRROR/<file name>`` if a mirror is set (a
    university server, a USB stick served on a LAN), else its public address. The checksum is the same."""
    mirror = os.environ.get("COURSE_DATA_MIRROR")
    return f"{mirror.rstrip('/')}/{remote.filename}" if mirror else remote.url


def download(remote: RemoteFile = FULL_DATASET, folder: Path | None = None, timeout: float = 30) -> Path:
    """Fetch ``remote`` into ``folder/wine-reviews/``, check its sha256, and return its path.

    The file is written beside its final name first and moved into place only
    once the checksum matches, so an interrupted download never looks complete.
    """
    from tqdm.auto import tqdm

    target = (folder or data_dir()) / DATASET_FOLDER / remote.filename
    if target.is_file() and sha256_of(target) == remote.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name("incomplete-" + target.name)
    url = source_url(remote)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:
            with tqdm(total=remote.size or None, unit="B", unit_scale=True, desc=remote.filename) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"Could not download {url} ({error}).\n"
            "Check your internet connection and try again, or copy the file by hand into "
            f"{target.parent} (see data/README.md)."
        ) from None
    actual = sha256_of(partial)
    if actual != remote.sha256:
        partial.unlink()
        raise DownloadError(
            f"The download of {remote.filename} is corrupt or not the expected file "
            f"(sha256 {actual}, expected {remote.sha256}). It was deleted; run the command again."
        )
    check_reviews_file(partial, remote.min_reviews)
    shutil.move(partial, target)
    return target


def check_reviews_file(path: Path, minimum_reviews: int) -> None:
    """Refuse a file that lacks the review fields or holds too few reviews."""
    try:
        rows = list(read_rows(path))
    except (ValueError, UnicodeDecodeError, csv.Error) as error:
        path.unlink()
        raise DownloadError(f"The downloaded file is not a readable Wine Reviews CSV ({error}).") from None
    missing = [field for field in REVIEW_FIELDS if rows and field not in rows[0]]
    if missing or len(rows) < minimum_reviews:
        path.unlink()
        raise DownloadError(
            f"The downloaded file has {len(rows):,} rows (expected at least {minimum_reviews:,})"
            + (f" and lacks the fields {missing}" if missing else "") + "; it was deleted."
        )


def describe(path: Path) -> str:
    """Which Wine Reviews file this is, in words."""
    return "the full dataset" if path.name == FULL_DATASET.filename else "the offline subset (tests and quick runs)"


def prefetch(with_models: bool) -> None:
    """Everything a unit can fetch online, fetched now: the full dataset and, if asked, the pretrained models."""
    from . import models

    print(f"Saved and verified: {download()}")
    for model in models.PRETRAINED if with_models else ():
        print(f"Cached {model.repo_id} (unit {model.unit}): {models.prefetch(model)}")
    if with_models:
        print("To work with no network, set HF_HUB_OFFLINE=1 before starting JupyterLab.")


def main(argv: list[str] | None = None) -> int:
    """``course-data download`` fetches the full dataset; ``prefetch [--models]`` also the pretrained
    models later units use, for working offline; ``where`` says which data the notebooks use."""
    from .models import ModelDownloadError

    parser = argparse.ArgumentParser(prog="course-data", description=main.__doc__)
    parser.add_argument("command", choices=["download", "prefetch", "where"])
    parser.add_argument("--models", action="store_true", help="prefetch: also the pretrained models (about 1 GB)")
    args = parser.parse_args(argv)
    try:
        if args.command == "download":
            print(f"Saved and verified: {download()}")
        elif args.command == "prefetch":
            prefetch(args.models)
        else:
            path = find_reviews_file()
            print(f"{path} ({describe(path)}, {len(load_reviews())} reviews)")
    except (DownloadError, DataNotFoundError, ModelDownloadError) as error:
        print(f"course-data: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
