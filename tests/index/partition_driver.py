"""Builds one upstream partition of the tiny pool's BM25 collection in a process of its own.

    python partition_driver.py HOME DATA_DIR BACKEND TASK [--url URL] [--die-after-batches N]

BM25 needs no model, so a process starts in seconds. ``--die-after-batches N`` SIGKILLs the
process right after its N-th batch was written (a build killed mid-way). Prints one JSON line:
the build's report. Tests run it to build partitions of one collection from separate processes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from typing import Any

from recross.config import Settings, load_settings


def driver_settings(home: str, data_dir: str, backend: str, url: str | None) -> Settings:
    index: dict[str, Any] = {"backend": backend, "upsert_batch_size": 4}
    if backend == "local":
        index["local_path"] = "qdrant-local"
    if url:
        index["url"] = url
    return load_settings("tiny", overrides={"home": home, "data": {"data_dir": data_dir},
                                            "index": index}, environ={})


def _die_after(batches: int) -> None:
    from recross.index.bm25 import Bm25Encoder

    original = Bm25Encoder.documents
    calls = {"n": 0}

    def documents(self, texts):
        calls["n"] += 1
        if calls["n"] > batches:  # batch N was upserted (durably) before batch N+1 is encoded
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, texts)

    Bm25Encoder.documents = documents  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("home", "data_dir", "backend", "task"):
        parser.add_argument(name)
    parser.add_argument("--url", default=None)
    parser.add_argument("--die-after-batches", type=int, default=None)
    args = parser.parse_args()
    if args.die_after_batches is not None:
        _die_after(args.die_after_batches)
    from recross.pipeline.lexical import build_lexical_collection
    from recross.pipeline.upstream import read_pool

    settings = driver_settings(args.home, args.data_dir, args.backend, args.url)
    summary = build_lexical_collection(settings, read_pool(settings), "bm25", tasks=[args.task],
                                       progress=False)
    print(json.dumps({"collection": summary.collection, "points": summary.points,
                      "partitions": summary.partitions, "written": summary.report.written,
                      "skipped": summary.report.skipped}))


if __name__ == "__main__":
    main()
