"""Move an index between backends through a portable parquet file (``recross index export/import``).

One row per point: ``example_id, task, template, split, source_index`` and ``vector`` (a
fixed-size list of float32). The file's metadata names the encoder, dimension and distance, so
an import into a collection of another encoder or distance fails before writing anything. Point ids are not stored:
they are derived from the example ids (UUIDv5) on import, as on every write.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recross.config import IndexDistance
from recross.errors import IndexStoreError
from recross.index.base import PAYLOAD_FIELDS, ExampleIndex, Manifest
from recross.index.build import BuildReport
from recross.io import atomic_file
from recross.progress import progress_bar

FORMAT = "recross-index-export"
FORMAT_VERSION = 1
_BATCH = 4096


def _schema(dimension: int, manifest: Manifest, collection: str) -> pa.Schema:
    fields = [pa.field("example_id", pa.string(), nullable=False),
              pa.field("task", pa.string()), pa.field("template", pa.string()),
              pa.field("split", pa.string()), pa.field("source_index", pa.int64()),
              pa.field("vector", pa.list_(pa.float32(), dimension), nullable=False)]
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                "collection": collection, **{k: str(v) for k, v in manifest.to_dict().items()}}
    return pa.schema(fields, metadata=metadata)


def export_index(index: ExampleIndex, path: Path, *, progress: bool = True) -> int:
    """Write every point of ``index`` to the parquet file ``path`` atomically; return the count."""
    manifest = Manifest(encoder_name=index.encoder_name, dimension=index.dimension,
                        distance=index.distance)
    schema = _schema(index.dimension, manifest, index.collection)
    rows = 0
    with atomic_file(path) as tmp, pq.ParquetWriter(tmp, schema) as writer, progress_bar(
            enabled=progress, total=index.count(), desc=f"export {index.collection}", unit="pt") as bar:
        for batch in index.iter_batches(_BATCH):
            columns = {f: [p[f] for p in batch.payloads] for f in PAYLOAD_FIELDS}
            flat = pa.array(batch.vectors.reshape(-1), type=pa.float32())
            columns["vector"] = pa.FixedSizeListArray.from_arrays(flat, index.dimension)
            writer.write_table(pa.table(columns, schema=schema))
            rows += len(batch.payloads)
            bar.update(len(batch.payloads))
    return rows


@dataclass(frozen=True)
class ExportManifest:
    """What an export file holds: where it came from, its encoder and dimension, its size."""

    collection: str
    encoder_name: str
    dimension: int
    points: int
    distance: IndexDistance = "dot"

    def check_matches(self, *, where: str, encoder_name: str, dimension: int,
                      distance: str | None = None) -> None:
        Manifest(encoder_name=self.encoder_name, dimension=self.dimension,
                 distance=self.distance).check_matches(where=where, encoder_name=encoder_name,
                                                       dimension=dimension, distance=distance)


def read_manifest(path: Path) -> ExportManifest:
    """The source collection, encoder, dimension and point count of an export file."""
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise IndexStoreError(f"{path} is not a readable parquet file ({exc}). Fix: pass a file "
                              "written by `recross index export`.") from None
    metadata = parquet.schema_arrow.metadata or {}
    decoded = {k.decode(): v.decode() for k, v in metadata.items()}
    if decoded.get("format") != FORMAT:
        raise IndexStoreError(f"{path} is not a recross index export (no '{FORMAT}' marker). "
                              "Fix: pass a file written by `recross index export`.")
    manifest = Manifest.from_dict(decoded)
    if manifest is None:
        raise IndexStoreError(f"{path} names no encoder in its metadata. Fix: export the index "
                              "again with `recross index export`.")
    return ExportManifest(collection=decoded.get("collection", ""),
                          encoder_name=manifest.encoder_name, dimension=manifest.dimension,
                          points=parquet.metadata.num_rows,
                          distance=manifest.distance)  # type: ignore[arg-type]


def import_index(index: ExampleIndex, path: Path, *, progress: bool = True) -> BuildReport:
    """Upsert every point of an export file into ``index`` (points already there are skipped),
    then build HNSW as a build does: without ``optimize`` an imported index stays a full scan.

    Resumable like a build; the encoder and dimension of the file must match the index.
    """
    started = time.perf_counter()
    exported = read_manifest(path)
    exported.check_matches(where=f"the export file {path}", encoder_name=index.encoder_name,
                           dimension=index.dimension, distance=index.distance)
    parquet = pq.ParquetFile(path)
    total = exported.points
    written = 0
    with progress_bar(enabled=progress, total=total, desc=f"import {index.collection}",
                      unit="pt") as bar:
        for record_batch in parquet.iter_batches(batch_size=_BATCH):
            payloads = pa.Table.from_batches([record_batch]).select(
                list(PAYLOAD_FIELDS)).to_pylist()
            present = index.existing_ids([p["example_id"] for p in payloads])
            keep = np.array([p["example_id"] not in present for p in payloads], dtype=bool)
            if keep.any():
                column = record_batch.column("vector")
                vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(
                    len(column), index.dimension)
                index.upsert_records([p for p, k in zip(payloads, keep) if k], vectors[keep])
                written += int(keep.sum())
            bar.update(len(payloads))
    index.optimize()  # also when nothing was written: an earlier import may have stopped before it
    return BuildReport(total=total, written=written, skipped=total - written,
                       seconds=time.perf_counter() - started)
