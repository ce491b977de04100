"""Build an index from the upstream pool: resumable, batched, checked at the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from recross.data import Example
from recross.errors import IndexStoreError
from recross.index.base import P, QdrantCollection
from recross.progress import progress_bar


@dataclass
class BuildReport:
    """``written + skipped == total``; ``skipped`` were already stored by an earlier run."""

    total: int
    written: int
    skipped: int
    seconds: float


def check_all_stored(index: QdrantCollection[Any], example_ids: Sequence[str]) -> None:
    """Raise unless every one of ``example_ids`` has its point: the final check of a build.

    Counted by id, not by the collection's size, because a collection holds several upstream
    partitions built at different times; the union is compared with the pool elsewhere.
    """
    stored = len(index.existing_ids(example_ids))
    if stored != len(set(example_ids)):
        raise IndexStoreError(
            f"{index.where} holds {stored} of the {len(set(example_ids))} examples it was "
            "built from. Fix: rerun the build (it resumes); if points are still missing, delete "
            "the collection and rebuild it.")


def build_index(index: QdrantCollection[P], examples: Sequence[Example],
                encode: Callable[[Sequence[str]], P], *, batch_size: int,
                progress: bool = True) -> BuildReport:
    """Encode and store every example not yet in ``index``, batch by batch.

    An interrupted build continues where it stopped: each batch first asks the index which ids
    it already holds and encodes only the rest. Each upsert is durable before the next batch,
    and at the end every example must have its point (:func:`check_all_stored`). HNSW is not
    built here: call ``index.optimize()`` once the bulk load is done.
    """
    if batch_size <= 0:
        raise IndexStoreError(f"batch_size must be positive, got {batch_size}.")
    started = time.perf_counter()
    written = skipped = 0
    with progress_bar(enabled=progress, total=len(examples), desc=f"index {index.collection}",
                      unit="ex") as bar:
        for start in range(0, len(examples), batch_size):
            batch = examples[start:start + batch_size]
            present = index.existing_ids([e.example_id for e in batch])
            missing = [e for e in batch if e.example_id not in present]
            if missing:
                index.upsert(missing, encode([e.input for e in missing]))
            written += len(missing)
            skipped += len(batch) - len(missing)
            bar.update(len(batch))
    check_all_stored(index, [e.example_id for e in examples])
    return BuildReport(total=len(examples), written=written, skipped=skipped,
                       seconds=time.perf_counter() - started)
