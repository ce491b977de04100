"""The asset layer's half of an error message: how to build what the library found missing.

The library says what is missing in its own terms (:class:`recross.errors.MissingProductError`
names the product); only here is it known that a Dagster asset of that name produces it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from recross.errors import MissingProductError


@contextmanager
def explain_missing_inputs(context: dg.AssetExecutionContext) -> Iterator[None]:
    """Turn a missing product into a Dagster failure that names the asset to materialize."""
    try:
        yield
    except MissingProductError as exc:
        partition = (f" for partition {context.partition_key}"
                     if context.has_partition_key else "")
        raise dg.Failure(description=f"{exc} In Dagster: materialize the {exc.product} "
                                     f"asset{partition} first.") from exc
