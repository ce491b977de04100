"""``dsir``: importance resampling on hashed n-grams (Xie et al. 2023, "DSIR"), no index needed.

Every text becomes a bag of hashed n-grams (lower-cased word and punctuation tokens, unigrams
and bigrams, ``buckets`` hash buckets). Two bag-of-n-gram models are fitted with add-alpha
smoothing: one on the query set Q (the target), one on the filtered pool (the raw data). An
example's log importance weight is ``sum_j count_j * (log p_Q(j) - log p_pool(j))``, and |R|
examples are drawn without replacement in proportion to the weights by the Gumbel top-k trick
(top |R| of ``log w + Gumbel noise``), seeded. Like DSIR, weights are not length-normalised.

The pool's count matrix is the only costly part; it is cached per pool (the caller names the
file, e.g. by pool fingerprint) and written atomically.

    >>> hashed_counts(["a b"], buckets=64, max_ngram=2).nnz   # a, b, "a b"
    3
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from recross.data import QuerySet, UpstreamPool
from recross.errors import DataError
from recross.index.filters import TaskFilter
from recross.io import atomic_write_bytes
from recross.retrieval.base import RetrievedItem
from recross.retrieval.pooled import PoolRetriever

_TOKEN = re.compile(r"\w+|[^\w\s]+")


def ngrams(text: str, max_ngram: int) -> list[str]:
    """The word/punctuation n-grams of ``text`` for n = 1..``max_ngram``, lower-cased."""
    tokens = _TOKEN.findall(text.lower())
    return [" ".join(tokens[i:i + n]) for n in range(1, max_ngram + 1)
            for i in range(len(tokens) - n + 1)]


def hashed_counts(texts: Sequence[str], *, buckets: int, max_ngram: int) -> sparse.csr_matrix:
    """A ``(len(texts), buckets)`` count matrix of hashed n-grams (CRC32: stable across runs)."""
    rows, cols = [], []
    for row, text in enumerate(texts):
        for gram in ngrams(text, max_ngram):
            rows.append(row)
            cols.append(zlib.crc32(gram.encode("utf-8")) % buckets)
    data = np.ones(len(rows), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(texts), buckets))


def log_importance_weights(pool_counts: sparse.csr_matrix, query_counts: sparse.csr_matrix, *,
                           allowed: np.ndarray, smoothing: float) -> np.ndarray:
    """``log p_Q(x) - log p_pool(x)`` per pool row (the raw model is fit on ``allowed`` rows)."""
    raw = np.asarray(pool_counts[allowed].sum(axis=0)).ravel() + smoothing
    target = np.asarray(query_counts.sum(axis=0)).ravel() + smoothing
    log_ratio = np.log(target / target.sum()) - np.log(raw / raw.sum())
    return pool_counts @ log_ratio


def gumbel_top_k(log_weights: np.ndarray, size: int, *, allowed: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Indices of ``size`` allowed rows drawn without replacement with probability ~ weight."""
    keys = log_weights + rng.gumbel(size=len(log_weights))
    keys[~allowed] = -np.inf
    return np.argsort(-keys, kind="stable")[:size]


class DsirRetrieval(PoolRetriever):
    """``dsir``: |R| pool examples resampled by their hashed-n-gram importance weight for Q."""

    name = "dsir"

    def __init__(self, pool: UpstreamPool, *, buckets: int, max_ngram: int, smoothing: float,
                 seed: int = 0, cache: Path | None = None, exclude_target_task: bool = True
                 ) -> None:
        super().__init__(pool, exclude_target_task=exclude_target_task)
        self.buckets, self.max_ngram, self.smoothing = buckets, max_ngram, smoothing
        self.seed = seed
        self.cache = cache
        self._pool_counts: sparse.csr_matrix | None = None

    def pool_counts(self) -> sparse.csr_matrix:
        """The pool's count matrix: from the cache when it fits this pool, else computed."""
        if self._pool_counts is None:
            cached = self._load_cached()
            self._pool_counts = cached if cached is not None else self._compute_and_cache()
        return self._pool_counts

    def _load_cached(self) -> sparse.csr_matrix | None:
        if self.cache is None or not self.cache.is_file():
            return None
        try:
            counts = sparse.load_npz(self.cache).tocsr()
        except (OSError, ValueError) as exc:
            raise DataError(f"the DSIR feature cache {self.cache} is unreadable ({exc}). "
                            "Fix: delete it; it is recomputed from the pool.") from None
        return counts if counts.shape == (len(self.pool), self.buckets) else None

    def _compute_and_cache(self) -> sparse.csr_matrix:
        counts = hashed_counts([e.input for e in self.pool.examples], buckets=self.buckets,
                               max_ngram=self.max_ngram)
        if self.cache is not None:
            buffer = io.BytesIO()
            sparse.save_npz(buffer, counts)
            atomic_write_bytes(self.cache, buffer.getvalue())
        return counts

    def _select(self, query_set: QuerySet, *, size: int, filters: TaskFilter
                ) -> tuple[Sequence[RetrievedItem], Sequence[RetrievedItem]]:
        examples = self.pool.examples
        allowed = np.fromiter((filters.allows(e.task, e.template) for e in examples), dtype=bool,
                              count=len(examples))
        counts = self.pool_counts()
        queries = hashed_counts(query_set.inputs, buckets=self.buckets, max_ngram=self.max_ngram)
        log_w = log_importance_weights(counts, queries, allowed=allowed,
                                       smoothing=self.smoothing)
        rng = np.random.default_rng([self.seed, query_set.seed])
        drawn = gumbel_top_k(log_w, size, allowed=allowed, rng=rng)
        return [RetrievedItem(example=examples[i], score=float(log_w[i]), query_index=None,
                              rank=None) for i in drawn], ()
