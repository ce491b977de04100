"""Building a retriever by name, with the components that name needs.

    >>> retriever = make_retriever("recross-dagger", pool=pool, settings=s.retrieval,
    ...                            index=upstream_index, encoder=upstream_encoder)
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from recross.config import LexicalSettings, RetrievalSettings
from recross.data import UpstreamPool
from recross.errors import ConfigError, IndexStoreError
from recross.index import ExampleIndex, QdrantCollection
from recross.index.bm25 import Bm25Encoder
from recross.index.lexical import LexicalIndex
from recross.models.encoder_interface import ExampleEncoder
from recross.retrieval.base import Retriever
from recross.retrieval.dense import DenseRetrieval, Diversity, RankedRetrieval
from recross.retrieval.dsir import DsirRetrieval
from recross.retrieval.lexical import Bm25Retrieval, HybridRetrieval
from recross.retrieval.reranked import PairScorer, RerankedRetrieval
from recross.retrieval.simple import NoRetrieval, RandomRetrieval
from recross.retriever_names import (
    LEXICAL_RETRIEVERS,
    RERANKED_RETRIEVERS,
    RETRIEVERS,
)

# The paper's five, then the lexical / resampling baselines (opt-in in the main job).


def make_retriever(name: str, *, pool: UpstreamPool, settings: RetrievalSettings,
                   index: ExampleIndex | LexicalIndex | None = None,
                   encoder: ExampleEncoder | None = None, scorer: PairScorer | None = None,
                   seed: int = 0,
                   exact: bool | None = None, lexical: LexicalSettings | None = None,
                   dsir_cache: Path | None = None) -> Retriever:
    """The retriever ``name`` of METHOD.md, or a lexical / resampling baseline.

    ``sbert`` needs the SBERT index and encoder; ``recross-dagger`` and ``recross`` the index and
    encoder of the upstream model; ``recross`` also a cross-encoder ``scorer``. ``bm25`` needs
    the BM25 collection as ``index``; ``hybrid`` the hybrid collection and M's ``encoder``;
    ``recross-hybrid`` those and a ``scorer``; ``dsir`` nothing (``dsir_cache``: where the
    pool's n-gram counts are kept). ``seed`` seeds ``random``; ``exact`` forces exact (or HNSW)
    search in the index.
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
    lex = lexical or LexicalSettings()
    if name == "dsir":
        return DsirRetrieval(pool, buckets=lex.dsir_buckets, max_ngram=lex.dsir_max_ngram,
                             smoothing=lex.dsir_smoothing, seed=lex.dsir_seed, cache=dsir_cache,
                             exclude_target_task=exclude)
    if name == "bm25":
        if index is None:
            raise _missing(name, index=index)
        if not isinstance(index, LexicalIndex):
            raise _wrong_kind(name, index)
        return Bm25Retrieval(pool=pool, index=index, bm25=Bm25Encoder.from_settings(lex),
                             exclude_target_task=exclude)
    if index is None or encoder is None:
        raise _missing(name, index=index, encoder=encoder)
    first: RankedRetrieval
    if name in ("hybrid", "recross-hybrid"):
        if not isinstance(index, LexicalIndex):
            raise _wrong_kind(name, index)
        first = HybridRetrieval(pool=pool, index=index, bm25=Bm25Encoder.from_settings(lex),
                                encoder=encoder, prefetch=lex.hybrid_prefetch, rrf_k=lex.rrf_k,
                                exclude_target_task=exclude)
    else:
        if not isinstance(index, ExampleIndex):
            raise _wrong_kind(name, index)
        mmr = (Diversity(settings.mmr_diversity, settings.mmr_candidates) if settings.mmr
               else None)
        first = DenseRetrieval("recross-dagger" if name == "recross" else name, pool=pool,
                               index=index, encoder=encoder, exclude_target_task=exclude,
                               exact=exact, mmr=mmr)
    if name not in RERANKED_RETRIEVERS:
        return first
    if scorer is None:
        raise _missing(name, scorer=scorer)
    return RerankedRetrieval(dense=first, scorer=scorer, upsample_ratio=settings.upsample_ratio,
                             name=name)


def _missing(name: str, **components: object) -> ConfigError:
    """The error naming the ``components`` (None: not passed) retriever ``name`` needs."""
    missing = [key for key, value in components.items() if value is None]
    what = {"sbert": "the SBERT index", "bm25": "the BM25 collection"}.get(
        name, "the hybrid collection and M's encoder" if name in LEXICAL_RETRIEVERS
        else "the upstream model's index")
    return ConfigError(f"retriever {name!r} needs {', '.join(missing)} ({what}"
                       f"{' and a trained cross-encoder' if 'scorer' in missing else ''}). "
                       "Fix: build them first (index / reranker assets) and pass them in.")


def _wrong_kind(name: str, index: QdrantCollection[Any]) -> IndexStoreError:
    """The error for a dense index handed to a lexical retriever, or the other way round."""
    kind = "lexical" if name in LEXICAL_RETRIEVERS else "dense"
    return IndexStoreError(f"retriever {name!r} searches a {kind} collection, but {index.where} "
                           "is not one. Fix: pass the collection built for it (the upstream / "
                           "sbert index, or the bm25_index / hybrid_index asset).")
