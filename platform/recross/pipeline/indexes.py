"""The index collections a run searches, opened once and shared by its steps.

Opening a collection loads its encoder too (M for the upstream index: seconds and hundreds of
MB), so a run that retrieves for several partitions, or mines and then retrieves, should open
each once. The owner (a Dagster resource, a CLI command, or the step itself when called alone)
closes them; a step never closes indexes it was handed.

    with OpenIndexes(settings, pool) as indexes:
        handle = indexes.get("upstream")
        hits = handle.index.search(handle.encoder.encode(queries), limit=8)
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Self

from recross.config import Settings
from recross.data import UpstreamPool
from recross.index import QdrantCollection
from recross.index.lexical import LexicalIndex
from recross.pipeline.lexical import LexicalKind, open_lexical_collection
from recross.pipeline.upstream import IndexHandle, IndexKind, open_pool_index, pool_fingerprint


def _identity(settings: Settings, pool: UpstreamPool) -> str:
    """What decides which collections and encoders are opened."""
    return json.dumps([settings.models.model_dump(mode="json"),
                       settings.index.model_dump(mode="json", exclude={"api_key"}),
                       settings.lexical.model_dump(mode="json"),
                       str(settings.home), pool_fingerprint(pool)], sort_keys=True)


class OpenIndexes:
    """Lazily opened index handles of one pool under one set of settings."""

    def __init__(self, settings: Settings, pool: UpstreamPool) -> None:
        self._settings = settings
        self._pool = pool
        self._identity = _identity(settings, pool)
        self._handles: dict[IndexKind, IndexHandle] = {}
        self._lexical: dict[LexicalKind, LexicalIndex] = {}

    def serves(self, settings: Settings, pool: UpstreamPool) -> bool:
        """Whether these handles are the ones ``settings`` and ``pool`` would open."""
        return _identity(settings, pool) == self._identity

    def get(self, kind: IndexKind) -> IndexHandle:
        if kind not in self._handles:
            self._handles[kind] = open_pool_index(self._settings, self._pool, kind)
        return self._handles[kind]

    def lexical(self, kind: LexicalKind) -> LexicalIndex:
        """The pool's ``bm25`` collection, or its ``hybrid`` one (searched with M's encoder,
        ``get("upstream").encoder``)."""
        if kind not in self._lexical:
            encoder = self.get("upstream").encoder if kind == "hybrid" else None
            self._lexical[kind] = open_lexical_collection(self._settings, self._pool, encoder)
        return self._lexical[kind]

    def close(self) -> None:
        opened: list[QdrantCollection[Any]] = [*(h.index for h in self._handles.values()),
                                               *self._lexical.values()]
        for index in opened:
            index.close()
        self._handles.clear()
        self._lexical.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
