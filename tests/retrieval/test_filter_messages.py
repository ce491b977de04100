"""Filter errors stay readable when a filter names many tasks, and size errors name --size."""

from __future__ import annotations

import pytest
from recross.errors import ConfigError, DataError
from recross.index.filters import TaskFilter
from recross.retrieval.catalog import PoolCatalog

TASKS = [f"task_{i:02d}" for i in range(34)]
CATALOG = PoolCatalog(counts={(task, "prompt"): 3 for task in TASKS})


def test_excluding_every_task_is_counted_not_listed_twice():
    with pytest.raises(DataError, match="leaves no upstream example") as error:
        CATALOG.resolve(TaskFilter(exclude_tasks=tuple(TASKS)), target_task="mine")
    message = str(error.value)
    assert "exclude_tasks: 34 tasks" in message
    assert all(message.count(task) == 0 for task in TASKS)


def test_a_short_filter_is_spelled_out():
    with pytest.raises(DataError) as error:
        CATALOG.resolve(TaskFilter(include_tasks=("task_01",), exclude_tasks=("task_01",)),
                        target_task="mine")
    assert "include_tasks: task_01; exclude_tasks: task_01" in str(error.value)


def test_a_size_above_the_filtered_pool_names_the_size_option():
    with pytest.raises(ConfigError, match="--size"):
        CATALOG.check_size(1000, TaskFilter())
