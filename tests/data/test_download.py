"""`recross data download` against a real HTTP server on 127.0.0.1 serving a slice of the data."""

from __future__ import annotations

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from recross.data import load_upstream_pool
from recross.data.download import download_data
from recross.errors import DataError

UPSTREAM = ["ag_news", "dream", "multi_news"]  # full file, stand-in only, absent
TARGETS = ["super_glue-cb"]


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with Range support; ``cut_once`` paths drop the connection half-way once."""

    cut_once: ClassVar[set[str]] = set()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path in self.cut_once:
            self.cut_once.discard(self.path)
            self.wfile.write(body[start:start + (len(body) - start) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body[start:])


@pytest.fixture
def server(tmp_path, data_dir):
    root = tmp_path / "remote"
    root.mkdir()
    shutil.copy(data_dir / "split.json", root)
    for task in ["ag_news", "dream", "super_glue-cb"]:
        shutil.copytree(data_dir / task, root / task)
    handler = partial(RangeHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def test_download_fetches_files_that_load_like_the_local_copy(server, tmp_path, data_dir):
    url, _ = server
    dest = tmp_path / "data"
    report = download_data(dest, base_url=url, upstream_tasks=UPSTREAM, targets=TARGETS,
                           progress=False)
    assert "ag_news/upstream-5000.json" in report.downloaded
    assert "dream/validation-1000.json" in report.downloaded  # stand-in fallback
    assert report.missing == ["multi_news"]
    pool = load_upstream_pool(dest, tasks=["ag_news", "dream"])
    assert pool.examples == load_upstream_pool(data_dir, tasks=["ag_news", "dream"]).examples
    again = download_data(dest, base_url=url, upstream_tasks=UPSTREAM, targets=TARGETS,
                          progress=False)
    assert again.downloaded == [] and len(again.skipped) == len(report.downloaded)


def test_interrupted_download_keeps_nothing_complete_and_resumes(server, tmp_path, data_dir):
    url, _ = server
    dest = tmp_path / "data"
    RangeHandler.cut_once = {"/ag_news/upstream-5000.json"}
    with pytest.raises(DataError, match="interrupted.*run the same command again"):
        download_data(dest, base_url=url, upstream_tasks=UPSTREAM, targets=TARGETS,
                      progress=False)
    assert not (dest / "ag_news" / "upstream-5000.json").exists()  # never read as complete
    part = dest / "ag_news" / "upstream-5000.json.part"
    assert 0 < part.stat().st_size < (data_dir / "ag_news" / "upstream-5000.json").stat().st_size
    download_data(dest, base_url=url, upstream_tasks=UPSTREAM, targets=TARGETS, progress=False)
    assert (dest / "ag_news" / "upstream-5000.json").read_bytes() == \
        (data_dir / "ag_news" / "upstream-5000.json").read_bytes()
    assert not part.exists()


def test_missing_target_file_is_a_clear_error(server, tmp_path):
    url, _ = server
    with pytest.raises(DataError, match=r"piqa/test-1000.json does not exist.*404"):
        download_data(tmp_path / "d", base_url=url, upstream_tasks=["ag_news"], targets=["piqa"],
                      progress=False)


def test_non_json_body_is_rejected_and_not_kept(server, tmp_path):
    url, root = server
    (root / "super_glue-cb" / "test-1000.json").write_text("<html>rate limited</html>")
    dest = tmp_path / "d"
    with pytest.raises(DataError, match="did not return a JSON file"):
        download_data(dest, base_url=url, upstream_tasks=["ag_news"], targets=TARGETS,
                      progress=False)
    assert not list((dest / "super_glue-cb").glob("test-1000.json*"))
    json.loads((dest / "ag_news" / "upstream-5000.json").read_text())  # earlier files kept


def test_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="cannot reach http://127.0.0.1:9/split.json"):
        download_data(tmp_path / "d", base_url="http://127.0.0.1:9", progress=False, timeout=2)
