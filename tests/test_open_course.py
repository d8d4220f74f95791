"""The README's first command: ./open-course.sh --headless sets up and serves JupyterLab on release/."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from .conftest import REPOSITORY


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_open_course_headless_serves_the_release():
    """With no data settings, the course opens on the subset it ships and says so."""
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if name != "COURSE_DATA_DIR"}
    server = subprocess.Popen(
        ["./open-course.sh", "--headless", f"--port={port}", "--IdentityProvider.token=course-test"],
        cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env=environment,
    )
    try:
        contents = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents/01_ngrams_rnn?token=course-test"
                with urllib.request.urlopen(url, timeout=5) as response:
                    contents = json.load(response)
                break
            except OSError:
                time.sleep(1)
        assert contents is not None, f"JupyterLab did not answer:\n{server.stdout.read() if server.poll() is not None else ''}"
        names = {item["name"] for item in contents["content"]}
        assert "ngrams_rnn.ipynb" in names, names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=course-test", timeout=10) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    printed = server.stdout.read()
    assert "Data: " in printed and "offline subset" in printed and "6,724 reviews" in printed, printed[-2000:]
