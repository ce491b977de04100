"""Metadata filters on retrieval: include/exclude tasks and templates.

This is how users filter retrievals by task metadata, and how a target task that also sits in
the upstream pool is kept out of its own retrieved set. Backends translate it to Qdrant filters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class TaskFilter:
    """Which upstream examples may be retrieved. Empty include lists mean "everything"."""

    include_tasks: tuple[str, ...] = ()
    exclude_tasks: tuple[str, ...] = ()
    include_templates: tuple[str, ...] = ()
    exclude_templates: tuple[str, ...] = ()

    def allows(self, task: str, template: str) -> bool:
        """The same rule the index applies, for in-memory checks (random retrieval, tests)."""
        return ((not self.include_tasks or task in self.include_tasks)
                and task not in self.exclude_tasks
                and (not self.include_templates or template in self.include_templates)
                and template not in self.exclude_templates)

    def excluding_task(self, task: str) -> TaskFilter:
        if task in self.exclude_tasks:
            return self
        return replace(self, exclude_tasks=self.exclude_tasks + (task,))

    @property
    def is_empty(self) -> bool:
        return not (self.include_tasks or self.exclude_tasks or self.include_templates
                    or self.exclude_templates)

    def as_params(self) -> dict[str, str]:
        """Flat, readable form for MLflow params and Dagster metadata."""
        return {name: ",".join(getattr(self, name)) or "-" for name in
                ("include_tasks", "exclude_tasks", "include_templates", "exclude_templates")}
