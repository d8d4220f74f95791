"""course.data: finding, loading, splitting and downloading the Wine Reviews data.

Loading tests read the real subset the project ships in data/ (COURSE_DATA_DIR
unset); download tests talk to real HTTP servers on 127.0.0.1.
"""

import csv
import functools
import hashlib
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest

import course.data
from course import data

SUBSET_ROWS = 6_728
SUBSET_REVIEWS = 6_724  # 4 rows lack country/province/variety
KAGGLE_COLUMNS = [
    "", "country", "description", "designation", "points", "price", "province", "region_1",
    "region_2", "taster_name", "taster_twitter_handle", "title", "variety", "winery",
]
FULL_NAME = "winemag-data-130k-v2.csv"
SUBSET_NAME = "winemag-subset.jsonl.gz"


def kaggle_row(i, description=None):
    return {
        "": str(i), "country": "Italy", "description": description or f"Aromas of fruit number {i}.",
        "designation": "", "points": "87", "price": "15.0", "province": "Sicily & Sardinia",
        "region_1": "Etna", "region_2": "", "taster_name": "Kerin O’Keefe",
        "taster_twitter_handle": "@kerinokeefe", "title": f"Wine {i}", "variety": "White Blend",
        "winery": "Nicosia",
    }


def write_kaggle_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=KAGGLE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def all_reviews():
    return data.load_reviews()


# --- format_review ---------------------------------------------------------------------------


def test_format_review_joins_fields_in_order():
    row = {"country": "Italy", "province": "Sicily & Sardinia", "variety": "White Blend",
           "description": "Aromas include tropical fruit.", "points": 87}
    assert data.format_review(row) == (
        "wine review : Italy : Sicily & Sardinia : White Blend : Aromas include tropical fruit."
    )


def test_format_review_strips_whitespace():
    row = {"country": " US ", "province": "Oregon\n", "variety": "Pinot Noir", "description": " Tart. "}
    assert data.format_review(row) == "wine review : US : Oregon : Pinot Noir : Tart."


@pytest.mark.parametrize("field", ["country", "province", "variety", "description"])
@pytest.mark.parametrize("value", [None, "", "   ", "missing"])
def test_format_review_none_when_a_field_is_missing_or_empty(field, value):
    row = {"country": "US", "province": "Oregon", "variety": "Pinot Noir", "description": "Tart."}
    if value == "missing":
        del row[field]
    else:
        row[field] = value
    assert data.format_review(row) is None


# --- load_reviews on the real subset -----------------------------------------------------------


def test_data_dir_honours_course_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert data.data_dir() == tmp_path.resolve()


def test_data_dir_defaults_to_repository_data(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert data.data_dir() == Path(data.__file__).resolve().parent.parent / "data"


def test_the_shipped_subset_is_found_with_no_settings(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert data.find_reviews_file() == data.REPOSITORY_DATA / "wine-reviews" / SUBSET_NAME


def test_the_shipped_subset_is_the_real_one_its_readme_describes():
    """Checksum and row count of the committed file, and the same figures in data/README.md."""
    subset = data.SHIPPED_SUBSET
    assert data.sha256_of(subset.path) == subset.sha256
    assert sum(1 for _ in data.read_rows(subset.path)) == subset.rows == SUBSET_ROWS
    assert data.review_count(subset.path) == SUBSET_REVIEWS
    readme = (data.REPOSITORY_DATA / "README.md").read_text()
    assert subset.sha256 in readme and f"{subset.rows:,}" in readme and "CC BY-NC-SA 4.0" in readme


def test_an_empty_data_folder_falls_back_on_the_shipped_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert data.find_reviews_file() == data.SHIPPED_SUBSET.path


def test_load_reviews_count(all_reviews):
    assert len(all_reviews) == SUBSET_REVIEWS


def test_every_review_is_formatted(all_reviews):
    assert all(isinstance(text, str) and text.startswith("wine review : ") for text in all_reviews)
    assert all(text.count(" : ") >= 4 for text in all_reviews)


def test_load_reviews_subset_is_deterministic(all_reviews):
    first = data.load_reviews(limit=100, seed=7)
    assert len(first) == 100
    assert data.load_reviews(limit=100, seed=7) == first
    assert data.load_reviews(limit=100, seed=8) != first
    assert set(first) <= set(all_reviews)


def test_load_reviews_limit_at_least_total_gives_all(all_reviews):
    assert data.load_reviews(limit=SUBSET_REVIEWS) == all_reviews
    assert data.load_reviews(limit=10**9) == all_reviews


@pytest.mark.parametrize("limit", [0, -1])
def test_load_reviews_rejects_non_positive_limit(limit):
    with pytest.raises(ValueError, match="limit"):
        data.load_reviews(limit=limit)


# --- train_validation_split --------------------------------------------------------------------


def test_split_sizes_disjoint_and_complete():
    texts = [f"text {i}" for i in range(1000)]
    train, validation = data.train_validation_split(texts, validation_fraction=0.1, seed=1)
    assert (len(train), len(validation)) == (900, 100)
    assert not set(train) & set(validation)
    assert sorted(train + validation) == sorted(texts)


def test_split_is_deterministic():
    texts = [f"text {i}" for i in range(200)]
    assert data.train_validation_split(texts, seed=3) == data.train_validation_split(texts, seed=3)
    assert data.train_validation_split(texts, seed=3) != data.train_validation_split(texts, seed=4)


def test_split_holds_out_at_least_one():
    train, validation = data.train_validation_split(["a", "b", "c"], validation_fraction=0.01)
    assert len(validation) == 1 and len(train) == 2


def test_split_of_real_reviews(all_reviews):
    train, validation = data.train_validation_split(all_reviews, validation_fraction=0.2)
    assert len(validation) == round(SUBSET_REVIEWS * 0.2)
    assert len(train) + len(validation) == SUBSET_REVIEWS


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="validation_fraction"):
        data.train_validation_split(["a", "b"], validation_fraction=fraction)


# --- finding files -----------------------------------------------------------------------------


def test_full_csv_preferred_over_subset(tmp_path, monkeypatch):
    folder = tmp_path / "wine-reviews"
    folder.mkdir()
    shutil.copy(data.find_reviews_file(), folder / SUBSET_NAME)
    write_kaggle_csv(folder / FULL_NAME, [kaggle_row(i) for i in range(5)])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert data.find_reviews_file() == folder / FULL_NAME
    assert len(data.load_reviews()) == 5


def test_find_reviews_file_with_explicit_folder(tmp_path):
    write_kaggle_csv(tmp_path / "wine-reviews" / FULL_NAME, [kaggle_row(0)])
    assert data.find_reviews_file(tmp_path) == tmp_path / "wine-reviews" / FULL_NAME


def test_csv_with_quoted_commas_and_newlines(tmp_path, monkeypatch):
    tricky = 'Ripe, "juicy" and bold,\nwith a long finish; 2nd line, too.'
    write_kaggle_csv(tmp_path / "wine-reviews" / FULL_NAME, [kaggle_row(0, tricky), kaggle_row(1)])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    reviews = data.load_reviews()
    assert len(reviews) == 2
    one_line = 'Ripe, "juicy" and bold, with a long finish; 2nd line, too.'
    assert reviews[0] == f"wine review : Italy : Sicily & Sardinia : White Blend : {one_line}"
    assert "O’Keefe" in next(data.read_rows(data.find_reviews_file()))["taster_name"]


def without_the_shipped_subset(monkeypatch, folder):
    monkeypatch.setattr(data, "SHIPPED_SUBSET", data.ShippedSubset(folder / "gone" / SUBSET_NAME, "0" * 64, 0))


def test_missing_data_raises_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    without_the_shipped_subset(monkeypatch, tmp_path)
    with pytest.raises(data.DataNotFoundError) as error:
        data.load_reviews()
    message = str(error.value)
    assert "course-data download" in message and "COURSE_DATA_DIR" in message
    assert isinstance(error.value, FileNotFoundError)


def test_read_rows_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError):
        list(data.read_rows(tmp_path / "reviews.txt"))


# --- download against a local HTTP server ------------------------------------------------------


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests = 0

    def do_GET(self):
        type(self).requests += 1
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/served over HTTP on 127.0.0.1; yields (base_url, served folder, handler)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = type("Handler", (CountingHandler,), {"requests": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served, handler
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def remote_csv(server):
    """A 50-row Kaggle-style CSV on the server, and the Source describing it."""
    base_url, served, handler = server
    path = write_kaggle_csv(served / FULL_NAME, [kaggle_row(i) for i in range(50)])
    body = path.read_bytes()
    remote = data.Source("local copy", f"{base_url}/{FULL_NAME}", (hashlib.sha256(body).hexdigest(),), 10)
    return remote, body, handler


def unreachable_source(label="nobody home"):
    return data.Source(label, closed_port_url(), ("0" * 64,), 10)


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{FULL_NAME}"


def test_download_saves_verified_file(remote_csv, tmp_path, monkeypatch):
    remote, body, _ = remote_csv
    dest = tmp_path / "dest"
    path = data.download((remote,), folder=dest, timeout=5)
    assert path == dest / "wine-reviews" / FULL_NAME
    assert path.read_bytes() == body
    assert [p.name for p in path.parent.iterdir()] == [FULL_NAME]  # no incomplete- file
    monkeypatch.setenv("COURSE_DATA_DIR", str(dest))
    assert len(data.load_reviews()) == 50


def test_download_skips_a_verified_existing_file(remote_csv, tmp_path):
    remote, _, handler = remote_csv
    dest = tmp_path / "dest"
    first = data.download((remote,), folder=dest, timeout=5)
    assert handler.requests == 1
    assert data.download((remote,), folder=dest, timeout=5) == first
    assert handler.requests == 1


def test_download_replaces_a_corrupt_existing_file(remote_csv, tmp_path):
    remote, body, handler = remote_csv
    dest = tmp_path / "dest"
    write_kaggle_csv(dest / "wine-reviews" / FULL_NAME, [kaggle_row(0)])
    assert data.download((remote,), folder=dest, timeout=5).read_bytes() == body
    assert handler.requests == 1


def test_download_wrong_sha256(remote_csv, tmp_path):
    remote, _, _ = remote_csv
    bad = data.Source(remote.label, remote.url, ("0" * 64,), remote.min_reviews)
    dest = tmp_path / "dest"
    with pytest.raises(data.DownloadError, match="sha256"):
        data.download((bad,), folder=dest, timeout=5)
    assert list((dest / "wine-reviews").iterdir()) == []


def test_download_too_few_reviews(remote_csv, tmp_path):
    remote, _, _ = remote_csv
    greedy = data.Source(remote.label, remote.url, remote.sha256, min_reviews=51)
    dest = tmp_path / "dest"
    with pytest.raises(data.DownloadError, match="50 rows"):
        data.download((greedy,), folder=dest, timeout=5)
    assert list((dest / "wine-reviews").iterdir()) == []


def test_download_file_without_review_fields(server, tmp_path):
    base_url, served, _ = server
    body = b"a,b\n" + b"1,2\n" * 20
    (served / "other.csv").write_bytes(body)
    remote = data.Source("other", f"{base_url}/other.csv", (hashlib.sha256(body).hexdigest(),), 10)
    dest = tmp_path / "dest"
    with pytest.raises(data.DownloadError, match="lacks the fields"):
        data.download((remote,), folder=dest, timeout=5)
    assert list((dest / "wine-reviews").iterdir()) == []


def test_download_404(server, tmp_path):
    base_url, _, _ = server
    remote = data.Source("empty", f"{base_url}/nothing-here.csv", ("0" * 64,), 10)
    dest = tmp_path / "dest"
    with pytest.raises(data.DownloadError, match="404"):
        data.download((remote,), folder=dest, timeout=5)
    assert list((dest / "wine-reviews").iterdir()) == []


def test_download_unreachable_server_says_check_connection(tmp_path):
    dest = tmp_path / "dest"
    with pytest.raises(data.DownloadError, match="Check your internet connection"):
        data.download((unreachable_source(),), folder=dest, timeout=5)
    assert list((dest / "wine-reviews").iterdir()) == []


def test_download_falls_through_a_failing_source_to_one_that_serves(remote_csv, tmp_path):
    """The first source is a closed port, the second a live server with a wrong file,
    the third the same server with the pinned one: the download ends with the third."""
    remote, body, handler = remote_csv
    wrong = data.Source("second copy", remote.url, ("0" * 64,), 10)
    dest = tmp_path / "dest"
    assert data.download((unreachable_source(), wrong, remote), folder=dest, timeout=5).read_bytes() == body
    assert handler.requests == 2
    assert [p.name for p in (dest / "wine-reviews").iterdir()] == [FULL_NAME]


def test_download_failure_says_in_one_line_per_source_what_was_tried(server, tmp_path):
    base_url, _, _ = server
    missing = data.Source("second copy", f"{base_url}/nothing-here.csv", ("0" * 64,), 10)
    with pytest.raises(data.DownloadError) as error:
        data.download((unreachable_source("first copy"), missing), folder=tmp_path, timeout=5)
    lines = str(error.value).splitlines()
    tried = [line for line in lines if line.startswith("  - ")]
    assert len(tried) == 2 and "first copy" in tried[0] and "second copy" in tried[1] and "404" in tried[1]
    assert "course-data download" in lines[-1] and f"subset of {SUBSET_REVIEWS:,} reviews" in lines[-1]


def test_every_public_source_is_pinned_to_a_commit_and_a_checksum():
    labels = [source.label for source in data.FULL_DATASET_SOURCES]
    assert len(data.FULL_DATASET_SOURCES) >= 2 and len(set(labels)) == len(labels)
    for source in data.FULL_DATASET_SOURCES:
        commit = source.url.split("/")[-2]
        assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit), source.url
        assert source.sha256 and all(len(digest) == 64 for digest in source.sha256)
        assert source.min_reviews >= 129_000
    assert len({source.url.split("/")[4] for source in data.FULL_DATASET_SOURCES}) >= 2  # separate owners


# --- the course-data command -------------------------------------------------------------------


def test_main_where_says_which_data_how_many_reviews_and_how_to_get_all(capsys):
    assert course.data.main(["where"]) == 0
    out = capsys.readouterr().out
    assert str(data.find_reviews_file()) in out
    assert f"{SUBSET_REVIEWS:,} reviews" in out and "subset" in out and "course-data download" in out


def test_main_where_names_the_full_dataset(tmp_path, monkeypatch, capsys):
    write_kaggle_csv(tmp_path / "wine-reviews" / FULL_NAME, [kaggle_row(i) for i in range(3)])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert course.data.main(["where"]) == 0
    out = capsys.readouterr().out
    assert "the full dataset, 3 reviews" in out and "subset" not in out


def test_main_where_without_data_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    without_the_shipped_subset(monkeypatch, tmp_path)
    assert course.data.main(["where"]) == 1
    assert "course-data download" in capsys.readouterr().err


def test_main_download_unreachable_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(course.data, "FULL_DATASET_SOURCES", (unreachable_source(),))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert course.data.main(["download"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("course-data: Could not download") and "nobody home" in err
    assert "internet connection" in err


def test_main_download_saves_file(remote_csv, tmp_path, monkeypatch, capsys):
    remote, body, _ = remote_csv
    monkeypatch.setattr(course.data, "FULL_DATASET_SOURCES", (remote,))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "dest"))
    assert course.data.main(["download"]) == 0
    assert "Saved and verified" in capsys.readouterr().out
    assert (tmp_path / "dest" / "wine-reviews" / FULL_NAME).read_bytes() == body


def test_main_rejects_unknown_command():
    with pytest.raises(SystemExit):
        course.data.main(["upload"])


def test_download_failure_is_explained_where_no_subset_was_installed(tmp_path, monkeypatch):
    """An install from a wheel (Colab's) has no data folder: the message still says what was tried."""
    without_the_shipped_subset(monkeypatch, tmp_path)
    with pytest.raises(data.DownloadError) as error:
        data.download((unreachable_source(),), folder=tmp_path, timeout=5)
    assert "nobody home" in str(error.value) and "Meanwhile" not in str(error.value)
