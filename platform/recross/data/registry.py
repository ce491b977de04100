"""The task registry: which tasks are upstream, which are targets, which are known but absent.

Built from ``split.json`` (the "T0" list = the 36 upstream tasks of BART0/T0) and the paper's
target lists, so an unknown task name fails early with close matches.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recross.errors import DataError

# METHOD.md "Protocol": the ten targets of the paper's main table (folder names of the data).
PAPER_TARGETS: tuple[str, ...] = (
    "anli_r3", "hellaswag", "super_glue-cb", "super_glue-wic", "super_glue-wsc.fixed",
    "winogrande-winogrande_xl", "ai2_arc-ARC-Challenge", "openbookqa-main", "piqa", "squad_v2",
)
# Pretend-targets: upstream tasks held out of M's training, of mining and (as any target) of
# their own retrieved sets, so that settings are chosen on them and never on a target's test set.
# One per task family, each with a close relative left in the pool:
PRETEND_TARGETS: tuple[str, ...] = (
    "glue-mrpc",        # paraphrase identification; paws and glue-qqp stay
    "cos_e-v1.11",      # commonsense multiple-choice QA; cosmos_qa, social_i_qa, qasc stay
    "rotten_tomatoes",  # sentiment; imdb, amazon_polarity, yelp_review_full stay
    "quoref",           # extractive QA; adversarial_qa x3, duorc, ropes stay
    "xsum",             # summarisation; cnn_dailymail, samsum, gigaword stay
    "ag_news",          # topic classification; dbpedia_14, trec stay
)
# Names that stand for a whole selection wherever a list of targets is given (RECROSS_TARGETS,
# `targets:` in a config file, --targets of the benchmarks).
TARGET_SELECTIONS: dict[str, tuple[str, ...]] = {"all": PAPER_TARGETS, "pretend": PRETEND_TARGETS}
# The second table's BIG-bench targets: known by name, no data shipped locally.
BIGBENCH_TARGETS: tuple[str, ...] = (
    "hindu_knowledge", "known_unknowns", "logic_grid_puzzle", "strategyqa",
    "movie_dialog_same_or_different",
)


def expand_targets(names: Sequence[str]) -> list[str]:
    """Targets with every selection name replaced by its tasks, in order, without repeats.

    >>> expand_targets(["super_glue-cb", "pretend"])[:3]
    ['super_glue-cb', 'glue-mrpc', 'cos_e-v1.11']
    """
    expanded: list[str] = []
    for name in names:
        for task in TARGET_SELECTIONS.get(name, (name,)):
            if task not in expanded:
                expanded.append(task)
    return expanded


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
