"""Examples, the task registry, the upstream pool, target tasks and query sets, the download."""

from recross.data.examples import Example, load_examples, parse_example
from recross.data.location import resolve_data_dir
from recross.data.pool import UpstreamPool, load_upstream_pool
from recross.data.registry import PAPER_TARGETS, TaskRegistry
from recross.data.targets import QuerySet, TargetTask, load_target, validate_query_inputs

__all__ = [
           "PAPER_TARGETS",
           "Example",
           "QuerySet",
           "TargetTask",
           "TaskRegistry",
           "UpstreamPool",
           "load_examples",
           "load_target",
           "load_upstream_pool",
           "parse_example",
           "resolve_data_dir",
           "validate_query_inputs",
]
