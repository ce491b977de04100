"""The example index: upstream-example vectors in Qdrant (embedded Edge, server/cluster, local).

    >>> from recross.index import open_index, collection_name, build_index  # doctest: +SKIP
    >>> index = open_index(settings.index, collection=collection_name(enc.name, fingerprint),
    ...                    dimension=enc.dimension, encoder_name=enc.name, home=settings.home)
    >>> report = build_index(index, pool.examples, enc.encode, batch_size=1024)
    >>> index.optimize()
    >>> hits = index.search(query_vectors, k=64, filters=TaskFilter(exclude_tasks=("piqa",)))
"""

from recross.index.base import (
    ExampleIndex,
    Hit,
    IndexInfo,
    QdrantCollection,
    StoredBatch,
    point_id,
)
from recross.index.build import BuildReport, build_index
from recross.index.factory import collection_name, open_index
from recross.index.filters import TaskFilter
from recross.index.transfer import ExportManifest, export_index, import_index, read_manifest

__all__ = ["BuildReport", "ExampleIndex", "ExportManifest", "Hit", "IndexInfo",
           "QdrantCollection", "StoredBatch", "TaskFilter", "build_index", "collection_name",
           "export_index", "import_index", "open_index", "point_id", "read_manifest"]
