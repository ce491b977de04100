"""The task registry: which tasks are upstream, which are targets, which are known but absent.

Built from ``split.json`` (the "T0" list = the 36 upstream tasks of BART0/T0) and the paper's
target lists, so an unknown task name fails early with close matches.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from recross.errors import DataError

# METHOD.md "Protocol": the ten targets of the paper's main table (folder names of the data).
PAPER_TARGETS: tuple[str, ...] = (
    "anli_r3", "hellaswag", "super_glue-cb", "super_glue-wic", "super_glue-wsc.fixed",
    "winogrande-winogrande_xl", "ai2_arc-ARC-Challenge", "openbookqa-main", "piqa", "squad_v2",
)
# The second table's BIG-bench targets: known by name, no data shipped locally.
BIGBENCH_TARGETS: tuple[str, ...] = (
    "hindu_knowledge", "known_unknowns", "logic_grid_puzzle", "strategyqa",
    "movie_dialog_same_or_different",
)


@dataclass(frozen=True)
class TaskRegistry:
    """Task names by role, read from a data directory's ``split.json``."""

    upstream: tuple[str, ...]
    targets: tuple[str, ...]
    bigbench: tuple[str, ...] = BIGBENCH_TARGETS

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> TaskRegistry:
        path = data_dir / "split.json"
        try:
            split = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: no such file; {data_dir} is not a ReCross data directory. "
                            "Fix: set RECROSS_DATA_DIR or run `recross data download`.") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc}). Fix: re-download it.") from None
        if not isinstance(split, dict) or not isinstance(split.get("T0"), list):
            raise DataError(f"{path}: expected an object with a 'T0' list of upstream task names.")
        return cls(upstream=tuple(split["T0"]), targets=PAPER_TARGETS)

    @property
    def known(self) -> tuple[str, ...]:
        return self.upstream + self.targets + self.bigbench

    def check(self, task: str, *, role: str = "task") -> str:
        """Return ``task`` if known, else raise an error listing close matches."""
        if task in self.known:
            return task
        close = difflib.get_close_matches(task, self.known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise DataError(f"unknown {role} {task!r}.{hint} Known upstream tasks: "
                        f"{', '.join(self.upstream)}; targets: {', '.join(self.targets)}.")
