"""Building a retriever by name, with the components that name needs.

    >>> retriever = make_retriever("recross-dagger", pool=pool, settings=s.retrieval,
    ...                            index=upstream_index, encoder=upstream_encoder)
"""

from __future__ import annotations

import difflib

from recross.config import RetrievalSettings
from recross.data import UpstreamPool
from recross.errors import ConfigError
from recross.index import ExampleIndex
from recross.models.encoder import ExampleEncoder
from recross.retrieval.base import Retriever
from recross.retrieval.dense import DenseRetrieval
from recross.retrieval.reranked import PairScorer, RerankedRetrieval
from recross.retrieval.simple import NoRetrieval, RandomRetrieval

RETRIEVERS: tuple[str, ...] = ("none", "random", "sbert", "recross-dagger", "recross")
DENSE_RETRIEVERS: tuple[str, ...] = ("sbert", "recross-dagger", "recross")


def make_retriever(name: str, *, pool: UpstreamPool, settings: RetrievalSettings,
                   index: ExampleIndex | None = None, encoder: ExampleEncoder | None = None,
                   scorer: PairScorer | None = None, seed: int = 0,
                   exact: bool | None = None) -> Retriever:
    """The retriever ``name`` of METHOD.md.

    ``sbert`` needs the SBERT index and encoder; ``recross-dagger`` and ``recross`` the index and
    encoder of the upstream model; ``recross`` also a cross-encoder ``scorer``. ``seed`` seeds
    ``random``; ``exact`` forces exact (or HNSW) search in the index.
    """
    if name not in RETRIEVERS:
        close = difflib.get_close_matches(name, RETRIEVERS, n=2, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown retriever {name!r}.{hint} Fix: choose from "
                          f"{', '.join(RETRIEVERS)}.")
    exclude = settings.exclude_target_task
    if name == "none":
        return NoRetrieval()
    if name == "random":
        return RandomRetrieval(pool, seed=seed, exclude_target_task=exclude)
    _require(name, index=index, encoder=encoder)
    dense = DenseRetrieval("recross-dagger" if name == "recross" else name, pool=pool,
                           index=index, encoder=encoder, exclude_target_task=exclude, exact=exact)
    if name != "recross":
        return dense
    _require(name, scorer=scorer)
    return RerankedRetrieval(dense=dense, scorer=scorer, upsample_ratio=settings.upsample_ratio)


def _require(name: str, **components: object) -> None:
    missing = [key for key, value in components.items() if value is None]
    if missing:
        what = "the SBERT index" if name == "sbert" else "the upstream model's index"
        raise ConfigError(f"retriever {name!r} needs {', '.join(missing)} ({what}"
                          f"{' and a trained cross-encoder' if 'scorer' in missing else ''}). "
                          "Fix: build them first (index / reranker assets) and pass them in.")
