"""Wine Reviews: find, download, load and split the course's dataset.

The data is Kaggle's "Wine Reviews" (zynicide/wine-reviews, scraped from
WineEnthusiast, 129,971 reviews, CC BY-NC-SA 4.0; see data/README.md).
Every review becomes one line of text, as the lecture notes format it::

    wine review : Italy : Sicily & Sardinia : White Blend : Aromas include ...

Where the data lives: ``$COURSE_DATA_DIR`` if set, else the repository's
``data/`` folder. Inside it, ``wine-reviews/`` may hold the full CSV (fetched
by ``course-data download``). The repository always ships a real subset of
6,728 reviews there, which the loader falls back on: the course runs offline
from its first start, and tests and CI read that subset.

What this module leaves out on purpose: tokenisation. Splitting text into
tokens is something students write themselves.
"""

from __future__ import annotations

import argparse
import csv
import functools
import gzip
import hashlib
import json
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from . import settings

REVIEW_FIELDS = ("country", "province", "variety", "description")
DATASET_FOLDER = "wine-reviews"
FULL_FILENAME = "winemag-data-130k-v2.csv"
REPOSITORY_DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class ShippedSubset:
    """The real reviews the repository ships, so the course runs offline from its first start."""

    path: Path
    sha256: str
    rows: int


SHIPPED_SUBSET = ShippedSubset(
    path=REPOSITORY_DATA / DATASET_FOLDER / "winemag-subset.jsonl.gz",
    sha256="69de12fd38a8319ee15307f5b5343087ea31d229255820bd7e3a9338c4be1d42",
    rows=6_728,
)


@dataclass(frozen=True)
class Source:
    """One place the full dataset can be downloaded from, and the bytes it must serve."""

    label: str  # what it is, in words, for messages
    url: str
    sha256: tuple[str, ...]  # the contents accepted from it
    min_reviews: int = 129_000  # Kaggle's file has 129,971; a check on top of the checksum


# Two independent public copies of Kaggle's winemag-data-130k-v2.csv, each stored with Git LFS in
# its own repository and fetched at a fixed commit: LFS names a file by its sha256, so the bytes at
# these addresses cannot change. The two copies differ in bytes (the second has no index column and
# writes prices without ".0"), not in reviews. Kaggle itself needs a login (data/README.md).
FULL_DATASET_SOURCES = (
    Source(
        "GitHub LFS copy DanilovillegasIUD/danilo_villegas@a7ec6f1",
        "https://media.githubusercontent.com/media/DanilovillegasIUD/danilo_villegas/"
        "a7ec6f177f072efc1f42a97e70d34f649efbbdf6/winemag-data-130k-v2.csv",
        ("af06fae3865beb76237f0b3cab131a9d84ceeaf93f9c1d64a0eea4c94ce6454f",),  # 54,068,762 bytes
    ),
    Source(
        "GitHub LFS copy MaryPetrichenko/wine_project@d14c07d",
        "https://media.githubusercontent.com/media/MaryPetrichenko/wine_project/"
        "d14c07d378815189583082ea502c001f58f84cad/winemag-data-130k-v2.csv",
        ("23e3b225d2d4c8812195cd6e29d17f0d7eebd3eafa196d6040ea99f20b98ea81",),  # 52,796,670 bytes
    ),
)


class DataNotFoundError(FileNotFoundError):
    """No Wine Reviews file where the course looks for one."""


class DownloadError(RuntimeError):
    """The download failed; the message says why and what to do."""


def data_dir() -> Path:
    """The folder that holds ``wine-reviews/``: ``$COURSE_DATA_DIR`` or the repository's ``data/``."""
    configured = settings.data_dir()
    return configured.expanduser().resolve() if configured else REPOSITORY_DATA


def readable_folders() -> list[Path]:
    """Every folder the loader may read: a sandboxed kernel must see them all."""
    return list(dict.fromkeys([data_dir(), REPOSITORY_DATA]))


def candidate_files(folder: Path | None = None) -> list[Path]:
    """Where the loader looks, best first: the full CSV, a subset beside it, then the shipped subset."""
    folder = (folder or data_dir()) / DATASET_FOLDER
    candidates = [folder / FULL_FILENAME, folder / SHIPPED_SUBSET.path.name, SHIPPED_SUBSET.path]
    return list(dict.fromkeys(candidates))


def find_reviews_file(folder: Path | None = None) -> Path:
    """The best Wine Reviews file available, or a clear error saying what to run."""
    for path in candidate_files(folder):
        if path.is_file():
            return path
    raise DataNotFoundError(
        f"No Wine Reviews data in {(folder or data_dir()) / DATASET_FOLDER}, and the course's own subset "
        f"({SHIPPED_SUBSET.path}) is missing.\n"
        "  - With internet: run `course-data download` (about 52 MB).\n"
        f"  - Without: copy {FULL_FILENAME} (Kaggle zynicide/wine-reviews) into that "
        "folder, or set COURSE_DATA_DIR to a folder that has a wine-reviews/ subfolder."
    )


def is_full_dataset(path: Path) -> bool:
    return path.name == FULL_FILENAME


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
    return subset(formatted_reviews(read_rows(find_reviews_file())), limit, seed)


@dataclass(frozen=True)
class Review:
    """One review as a record: its text, where and what the wine is, and the taster's points (80-100)."""
    description: str
    country: str
    province: str
    variety: str
    points: int


def review_records(limit: int | None = None, seed: int = 42) -> list[Review]:
    """Reviews with every field present, as records; a deterministic random ``limit`` of them if given (the same
    reviews ``load_reviews`` picks)."""
    rows = [row for row in read_rows(find_reviews_file())
            if all(" ".join((row.get(name) or "").split()) for name in REVIEW_FIELDS)]
    return [Review(" ".join(row["description"].split()), row["country"], row["province"], row["variety"],
                   int(row.get("points") or 0)) for row in subset(rows, limit, seed)]


def subset(items: list, limit: int | None, seed: int) -> list:
    """All ``items``, or ``limit`` of them drawn with ``seed``, in their original order."""
    if limit is None or limit >= len(items):
        return items
    if limit < 1:
        raise ValueError(f"limit must be a positive number of reviews, not {limit}")
    chosen = np.random.default_rng(seed).choice(len(items), size=limit, replace=False)
    return [items[i] for i in sorted(chosen)]


def train_validation_split(
    texts: Sequence, validation_fraction: float = 0.1, seed: int = 42
) -> tuple[list, list]:
    """Shuffle with ``seed`` and hold out ``validation_fraction`` of the texts (or of any records)."""
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


def sources_to_try() -> tuple[Source, ...]:
    """The public copies, in order; or only ``$COURSE_DATA_MIRROR/<file name>`` when a mirror is set (a
    university server, a USB stick served on a LAN), which may hold either pinned copy."""
    mirror = settings.data_mirror()
    if mirror:
        pinned = tuple(digest for source in FULL_DATASET_SOURCES for digest in source.sha256)
        fewest = min(source.min_reviews for source in FULL_DATASET_SOURCES)
        return (Source(f"mirror {mirror}", f"{mirror.rstrip('/')}/{FULL_FILENAME}", pinned, fewest),)
    return FULL_DATASET_SOURCES


def download(sources: tuple[Source, ...] | None = None, folder: Path | None = None, timeout: float = 30) -> Path:
    """Fetch the full dataset into ``folder/wine-reviews/`` from the first source that serves a verified copy.

    Each try writes beside the final name and moves into place only once the checksum and the
    review count match, so an interrupted or wrong download never looks complete.
    """
    sources = sources or sources_to_try()
    target = (folder or data_dir()) / DATASET_FOLDER / FULL_FILENAME
    accepted = {digest for source in sources for digest in source.sha256}
    if target.is_file() and sha256_of(target) in accepted:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for source in sources:
        try:
            return fetch(source, target, timeout)
        except DownloadError as error:
            failures.append(f"  - {source.label} ({source.url}): {error}")
    raise DownloadError(
        "Could not download the full Wine Reviews data. Tried, in order:\n" + "\n".join(failures) + "\n"
        "Check your internet connection and run `course-data download` again, or copy "
        f"{FULL_FILENAME} (Kaggle zynicide/wine-reviews) by hand into {target.parent} (see data/README.md)."
        + meanwhile()
    )


def meanwhile() -> str:
    """What the notebooks read until the download works: the shipped subset, where this install has it."""
    if not SHIPPED_SUBSET.path.is_file():  # an install from a wheel (Colab) carries no data
        return ""
    return f" Meanwhile the notebooks use the shipped subset of {review_count(SHIPPED_SUBSET.path):,} reviews."


def fetch(source: Source, target: Path, timeout: float) -> Path:
    """One try: download ``source`` beside ``target``, verify it, move it into place; one-line errors."""
    from tqdm.auto import tqdm

    partial = target.with_name("incomplete-" + target.name)
    try:
        with urllib.request.urlopen(source.url, timeout=timeout) as response, partial.open("wb") as out:
            size = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=size, unit="B", unit_scale=True, desc=source.label) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
        actual = sha256_of(partial)
        if actual not in source.sha256:
            raise DownloadError(f"wrong file (sha256 {actual[:12]}…, expected {' or '.join(source.sha256)})")
        check_reviews_file(partial, source.min_reviews)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"could not fetch it ({error})") from None
    except DownloadError:
        partial.unlink(missing_ok=True)
        raise
    shutil.move(partial, target)
    return target


def check_reviews_file(path: Path, minimum_reviews: int) -> None:
    """Refuse a file that lacks the review fields or holds too few reviews."""
    try:
        rows = list(read_rows(path))
    except (ValueError, UnicodeDecodeError, csv.Error) as error:
        raise DownloadError(f"not a readable Wine Reviews CSV ({error})") from None
    missing = [field for field in REVIEW_FIELDS if rows and field not in rows[0]]
    if missing or len(rows) < minimum_reviews:
        raise DownloadError(
            f"{len(rows):,} rows (expected at least {minimum_reviews:,})"
            + (f" and lacks the fields {missing}" if missing else "")
        )


@functools.lru_cache(maxsize=4)
def review_count(path: Path) -> int:
    """How many reviews the notebooks get from ``path`` (rows with every field)."""
    return len(formatted_reviews(read_rows(path)))


def describe(path: Path) -> str:
    """Which Wine Reviews file this is, in words."""
    if is_full_dataset(path):
        return "the full dataset"
    return "the course's offline subset (not a random sample; `course-data download` fetches all 129,971)"


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
            print(f"{path}: {describe(path)}, {review_count(path):,} reviews")
    except (DownloadError, DataNotFoundError, ModelDownloadError) as error:
        print(f"course-data: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
