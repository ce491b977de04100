"""What the upstream pool holds per task and template, for checking a request before retrieval.

Every retriever resolves its filters here, so all of them agree: unknown task or template names
fail with close matches, a target task that sits in the pool is kept out of its own retrieved set
(unless switched off), a filter that leaves nothing fails, and |R| may not exceed what the
filtered pool holds.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from recross.data import UpstreamPool
from recross.errors import ConfigError, DataError
from recross.index.filters import TaskFilter

NAMES_SHOWN = 5  # filter lists longer than this are counted in messages, not spelled out


@dataclass(frozen=True)
class PoolCatalog:
    """Example counts of the pool per (task, template)."""

    counts: dict[tuple[str, str], int]

    @classmethod
    def from_pool(cls, pool: UpstreamPool) -> PoolCatalog:
        return cls(counts=dict(Counter((ex.task, ex.template) for ex in pool.examples)))

    @property
    def tasks(self) -> list[str]:
        return sorted({task for task, _ in self.counts})

    @property
    def templates(self) -> list[str]:
        return sorted({template for _, template in self.counts})

    def allowed_count(self, filters: TaskFilter) -> int:
        """How many pool examples ``filters`` lets through."""
        return sum(n for (task, template), n in self.counts.items()
                   if filters.allows(task, template))

    def resolve(self, filters: TaskFilter | None, *, target_task: str,
                exclude_target_task: bool = True) -> TaskFilter:
        """Check ``filters`` against the pool and add the target-task exclusion when it applies."""
        resolved = filters or TaskFilter()
        self._check_names(resolved)
        if exclude_target_task and target_task in {task for task, _ in self.counts}:
            resolved = resolved.excluding_task(target_task)
        if self.allowed_count(resolved) == 0:
            raise DataError(f"the retrieval filter ({_describe(resolved)}) leaves no upstream "
                            f"example of the pool's {len(self.tasks)} tasks. Fix: widen the "
                            "include lists or shorten the exclude lists (`recross data info` "
                            "lists the tasks).")
        return resolved

    def check_size(self, size: int, filters: TaskFilter) -> None:
        """|R| must be positive and at most what the filtered pool holds."""
        if size <= 0:
            raise ConfigError(f"retrieved size |R|={size} must be positive. "
                              "Fix: set retrieval.retrieved_size to at least 1 (paper: 512).")
        available = self.allowed_count(filters)
        if size > available:
            raise ConfigError(f"retrieved size |R|={size} is larger than the {available} upstream "
                              f"examples the filter ({_describe(filters)}) allows. Fix: lower "
                              "|R| (--size, or retrieval.retrieved_size) or widen the filter / "
                              "the pool.")

    def _check_names(self, filters: TaskFilter) -> None:
        for kind, names, known in (
                ("task", filters.include_tasks + filters.exclude_tasks, self.tasks),
                ("template", filters.include_templates + filters.exclude_templates,
                 self.templates)):
            for name in names:
                if name not in known:
                    raise DataError(f"the retrieval filter names the {kind} {name!r}, which is "
                                    f"not in the upstream pool.{_close(name, known)} "
                                    f"Fix: use one of the pool's {kind}s.")


def _describe(filters: TaskFilter) -> str:
    """``exclude_tasks: ag_news, sciq; include_templates: 3 templates``: long lists counted."""
    if filters.is_empty:
        return "no filter"
    parts = []
    for name, names in asdict(filters).items():
        if names:
            noun = name.split("_")[1]
            shown = (", ".join(names) if len(names) <= NAMES_SHOWN
                     else f"{len(names)} {noun}")
            parts.append(f"{name}: {shown}")
    return "; ".join(parts)


def _close(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(close)}?" if close else ""
