"""`course-data prefetch`: the data from a mirror, and pretrained models through huggingface_hub's real
download code, from a small Hugging Face Hub stand-in on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import ast
import hashlib
import http.server
import json
import re
import threading

import pytest

import course.data
from autograder.units import all_units
from course import data, environment, models

from .test_data import FULL_NAME, closed_port_url, remote_csv, server  # noqa: F401  (fixtures)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {"config.json": b'{"model_type": "gpt2"}', "model.safetensors": b"\x00" * 4096, "README.md": b"# model"}


class HubStandIn(http.server.BaseHTTPRequestHandler):
    """The three Hub endpoints snapshot_download uses: revision info, file tree, file download."""

    repos: dict[str, dict[str, bytes]] = {}
    requested: list[str] = []

    def log_message(self, *args):
        self.requested.append(f"{self.command} {self.path}")

    def send_json(self, value) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_file_headers(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def route(self):
        path = self.path.split("?")[0]
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/[^/]+", path):
            files = self.repos.get(match[1])
            return files is not None and ("json", {"id": match[1], "sha": COMMIT,
                                                   "siblings": [{"rfilename": name} for name in files]})
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/[^/]+", path):
            files = self.repos.get(match[1])
            return files is not None and ("json", [{"type": "file", "path": name, "size": len(body),
                                                    "oid": hashlib.sha1(body).hexdigest()}
                                                   for name, body in files.items()])
        if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/[^/]+/(.+)", path):
            body = self.repos.get(match[1], {}).get(match[2])
            return body is not None and ("file", body)
        return False

    def do_GET(self):
        found = self.route()
        if not found:
            return self.send_error(404)
        kind, value = found
        if kind == "json":
            return self.send_json(value)
        self.send_file_headers(value)
        self.wfile.write(value)

    def do_HEAD(self):
        found = self.route()
        if not found or found[0] != "file":
            return self.send_error(404)
        self.send_file_headers(found[1])


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """The stand-in hub serving course-test/tiny-gpt; HF_ENDPOINT and HF_HUB_CACHE point at it and tmp_path."""
    handler = type("Hub", (HubStandIn,), {"repos": {"course-test/tiny-gpt": FILES}, "requested": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    yield handler
    httpd.shutdown()
    httpd.server_close()
    thread.join()


TINY = models.PretrainedModel("course-test/tiny-gpt", "99_test", ("config.json", "model.safetensors"))


def test_prefetch_caches_exactly_the_listed_files_for_offline_use(hub, tmp_path):
    from huggingface_hub import snapshot_download

    folder = models.prefetch(TINY)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert (folder / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    offline = snapshot_download(TINY.repo_id, allow_patterns=list(TINY.files), local_files_only=True,
                                cache_dir=str(tmp_path / "hf-cache"))
    assert str(offline) == str(folder), "the cached copy is found with no network"
    assert not [r for r in hub.requested if "README.md" in r], "files the course does not list are not fetched"


def test_cached_folder_finds_a_prefetched_model_and_never_downloads(hub, monkeypatch):
    monkeypatch.setattr(models, "PRETRAINED", (TINY,))
    assert models.cached_folder(TINY.repo_id) is None
    assert hub.requested == [], "asking where a model is must not reach the hub"
    folder = models.prefetch(TINY)
    assert models.cached_folder(TINY.repo_id) == folder


def test_prefetch_names_a_file_the_hub_lacks(hub):
    broken = models.PretrainedModel(TINY.repo_id, TINY.unit, ("config.json", "tokenizer.json"))
    with pytest.raises(models.ModelDownloadError, match="no tokenizer.json"):
        models.prefetch(broken)


def test_prefetch_from_an_unreachable_hub_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with pytest.raises(models.ModelDownloadError, match="internet connection"):
        models.prefetch(TINY, endpoint=closed_port_url().rsplit("/", 1)[0])


def test_pretrained_models_are_listed_once_with_their_unit():
    names = [model.repo_id for model in models.PRETRAINED]
    assert len(names) == len(set(names)) and all(model.files for model in models.PRETRAINED)


def test_a_model_is_keyed_by_a_unit_folder_name():
    with pytest.raises(ValueError, match="folder name"):
        models.PretrainedModel("someone/model", "05 BERT / T5", ("config.json",))


def test_pretrained_models_name_the_folder_their_unit_has_in_source():
    """A model keyed "05_bert" while source/ holds 05_bert_t5 would belong to no unit."""
    folders = {unit.number: unit.name for unit in all_units()}
    wrong = [f"{model.repo_id}: {model.unit!r}, but source/ has {folders[int(model.unit[:2])]!r}"
             for model in models.PRETRAINED if folders.get(int(model.unit[:2]), model.unit) != model.unit]
    assert wrong == []


def environment_checks(unit) -> list[ast.Call]:
    """The ``environment.check(...)`` calls of a unit's notebook."""
    code = [cell.source for cell in unit.read_notebook().cells
            if cell.cell_type == "code" and "environment.check(" in cell.source]
    return [call for source in code for call in ast.walk(ast.parse(source))
            if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "check"]


@pytest.mark.parametrize("unit", all_units(), ids=lambda unit: unit.name)
def test_every_model_a_notebook_checks_is_listed_under_its_unit(unit):
    checks = environment_checks(unit)
    assert checks, f"{unit.notebook.name} has no environment.check(...) call"
    checked = [repo_id for call in checks for keyword in call.keywords if keyword.arg == "models"
               for repo_id in ast.literal_eval(keyword.value)]
    assert [repo_id for repo_id in checked if models.listed(repo_id).unit != unit.name] == []


def test_download_uses_the_mirror(remote_csv, tmp_path, monkeypatch):  # noqa: F811
    remote, body, handler = remote_csv
    mirror = remote.url.rsplit("/", 1)[0]
    unreachable_original = data.Source("public copy", closed_port_url(), remote.sha256, 10)
    monkeypatch.setattr(data, "FULL_DATASET_SOURCES", (unreachable_original,))
    monkeypatch.setenv("COURSE_DATA_MIRROR", mirror + "/")
    path = data.download(folder=tmp_path, timeout=5)
    assert path.read_bytes() == body and handler.requests == 1


def test_course_data_prefetch_fetches_the_data_and_the_models(
        remote_csv, hub, tmp_path, monkeypatch, capsys):  # noqa: F811
    remote, body, _ = remote_csv
    monkeypatch.setattr(course.data, "FULL_DATASET_SOURCES", (remote,))
    monkeypatch.setattr(models, "PRETRAINED", (TINY,))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    assert course.data.main(["prefetch", "--models"]) == 0
    out = capsys.readouterr().out
    assert "Saved and verified" in out and f"Cached {TINY.repo_id}" in out and "HF_HUB_OFFLINE=1" in out
    assert (tmp_path / "data" / data.DATASET_FOLDER / FULL_NAME).read_bytes() == body
    assert list((tmp_path / "hf-cache").glob("models--course-test--tiny-gpt/snapshots/*/model.safetensors"))


def test_environment_check_says_whether_a_model_is_ready_offline(hub, monkeypatch, capsys):
    monkeypatch.setattr(models, "PRETRAINED", (TINY,))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert environment.check([], needs_data=False, models=(TINY.repo_id,)) is False
    assert f"FAIL  model: {TINY.repo_id} is not in the cache" in capsys.readouterr().out
    monkeypatch.delenv("HF_HUB_OFFLINE")
    models.prefetch(TINY)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert environment.check([], needs_data=False, models=(TINY.repo_id,)) is True
    assert f"OK    model: {TINY.repo_id} (in the local cache)" in capsys.readouterr().out


def test_a_notebook_may_only_check_listed_models():
    with pytest.raises(KeyError, match="course/models.py"):
        environment.check([], needs_data=False, models=("someone/unlisted",))
