"""`recross data download`: fetch the ReCross data files over HTTP(S) for users with a network.

Each file is streamed to ``<name>.part`` and renamed into place only once complete and valid JSON,
so an interrupted download never leaves a file that reads as complete. A later call skips
complete files and resumes a ``.part`` file with an HTTP Range request where the server allows it.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.client import IncompleteRead
from pathlib import Path

from tqdm import tqdm

from recross.data.pool import STANDIN_FILE, UPSTREAM_FILE
from recross.data.registry import PAPER_TARGETS
from recross.data.targets import QUERY_FILE, TEST_FILE
from recross.errors import DataError

log = logging.getLogger(__name__)

METADATA_FILES = ("split.json", "choices_in_prompt.json", "supported_metrics.json")
_CHUNK = 1 << 16


@dataclass
class DownloadReport:
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already complete
    missing: list[str] = field(default_factory=list)  # optional files the server does not have


class _NotFound(Exception):
    pass


def _is_complete_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _fetch(url: str, dest: Path, *, timeout: float, progress: bool) -> None:
    """Stream ``url`` into ``dest`` via ``dest.part``, resuming a previous partial download."""
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise _NotFound(url) from None
        if exc.code == 416 and offset:  # the part file already holds every byte
            response = None
        else:
            raise DataError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}. Fix: check "
                            "--base-url (or data.download_base_url) and your network.") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}. Fix: check the network "
                        "or --base-url; what was downloaded so far is kept and resumes.") from None
    if response is not None:
        with response:
            resumed = response.status == 206
            mode = "ab" if resumed else "wb"
            total = response.length + (offset if resumed else 0) if response.length else None
            with open(part, mode) as out, tqdm(total=total, initial=offset if resumed else 0,
                                               unit="B", unit_scale=True, desc=dest.name,
                                               disable=not progress, leave=False) as bar:
                try:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        bar.update(len(chunk))
                    cut_short = total is not None and out.tell() < total
                except (IncompleteRead, TimeoutError, OSError):
                    cut_short = True
            if cut_short:
                raise DataError(f"download of {url} was interrupted; {part.stat().st_size} bytes "
                                f"are kept in {part}. Fix: run the same command again to resume.")
    if not _is_complete_json(part):
        part.unlink(missing_ok=True)
        raise DataError(f"{url} did not return a JSON file (the body does not parse). Fix: check "
                        "--base-url points at the raw data folder of the ReCross repository.")
    os.replace(part, dest)


def download_data(dest_dir: Path, *, base_url: str, upstream_tasks: Sequence[str] | None = None,
                  targets: Sequence[str] = PAPER_TARGETS, force: bool = False,
                  timeout: float = 60.0, progress: bool = True) -> DownloadReport:
    """Fetch ``split.json`` and the task files into ``dest_dir``; complete files are skipped.

    Upstream tasks fall back from ``upstream-5000.json`` to ``validation-1000.json``; a task
    with neither is reported missing (as in the local copy), a missing target file is an error.
    """
    report = DownloadReport()
    base = base_url.rstrip("/")
    dest_dir.mkdir(parents=True, exist_ok=True)

    def get(rel: str, *, required: bool) -> bool:
        dest = dest_dir / rel
        if not force and dest.is_file() and _is_complete_json(dest):
            report.skipped.append(rel)
            return True
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            _fetch(f"{base}/{rel}", dest, timeout=timeout, progress=progress)
        except _NotFound:
            if required:
                raise DataError(f"{base}/{rel} does not exist on the server (HTTP 404). "
                                "Fix: check --base-url, or leave that task out.") from None
            return False
        report.downloaded.append(rel)
        return True

    for name in METADATA_FILES:
        get(name, required=name == "split.json")
    split = json.loads((dest_dir / "split.json").read_text(encoding="utf-8"))
    for task in tqdm(list(upstream_tasks or split["T0"]), desc="upstream tasks", disable=not progress):
        if not (get(f"{task}/{UPSTREAM_FILE}", required=False)
                or get(f"{task}/{STANDIN_FILE}", required=False)):
            log.warning("upstream task %s: neither %s nor %s on the server", task, UPSTREAM_FILE,
                        STANDIN_FILE)
            report.missing.append(task)
    for task in tqdm(list(targets), desc="target tasks", disable=not progress):
        get(f"{task}/{TEST_FILE}", required=True)
        get(f"{task}/{QUERY_FILE}", required=True)
    return report
