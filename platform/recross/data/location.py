"""Where the data is: RECROSS_DATA_DIR, else the config, else ../shared/recross-data."""

from __future__ import annotations

import os
from pathlib import Path

from recross.errors import DataError

# Searched (relative to the working directory and to the project root) when nothing is set.
_SHARED_CANDIDATES = ("../shared/recross-data",)
_PROJECT_ROOT = Path(__file__).resolve().parents[3]


def resolve_data_dir(configured: Path | None = None) -> Path:
    """The data directory to read, or a clear error telling the user how to get the data."""
    env = os.environ.get("RECROSS_DATA_DIR")
    if env:
        path = Path(env).expanduser()
        if not (path / "split.json").is_file():
            raise DataError(f"RECROSS_DATA_DIR={env} holds no split.json. Fix: point it at a "
                            "ReCross data directory or run `recross data download --to DIR`.")
        return path
    if configured is not None:
        if not (configured / "split.json").is_file():
            raise DataError(f"data.data_dir={configured} holds no split.json. "
                            "Fix: run `recross data download` or correct the path.")
        return configured
    for base in (Path.cwd(), _PROJECT_ROOT):
        for candidate in _SHARED_CANDIDATES:
            path = (base / candidate).resolve()
            if (path / "split.json").is_file():
                return path
    raise DataError("no ReCross data found: RECROSS_DATA_DIR is unset and ../shared/recross-data "
                    "does not exist. Fix: run `recross data download --to DIR` and set "
                    "RECROSS_DATA_DIR=DIR.")
