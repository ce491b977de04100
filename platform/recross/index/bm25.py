"""BM25 term vectors: the one tokenizer both index backends store and query with.

Qdrant Edge's ``Bm25`` model (no server, no download) tokenizes, lower-cases, drops English
stopwords, stems, and hashes each term to a 32-bit index. Documents get BM25's saturated,
length-normalised term frequency; queries get weight 1 per distinct term. The IDF factor is not
in the vectors: the collection's sparse vector carries Qdrant's IDF modifier, so the database
applies the pool's own IDF at search time. qdrant-client's collections receive the very same
vectors, which is why Edge, local mode and a server return the same neighbours.

    >>> bm25 = Bm25Encoder(k=1.2, b=0.75, avg_length=67.0)
    >>> bm25.documents(["the cats sat"])[0].indices == bm25.queries(["a cat sat"])[0].indices
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import qdrant_edge as qe

from recross.config import LexicalSettings
from recross.errors import ConfigError

SPARSE_VECTOR = "bm25"  # name of the sparse vector in lexical collections


@dataclass(frozen=True, slots=True)
class SparseTerms:
    """A sparse vector: hashed term indices and their weights (backend-neutral)."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


class Bm25Encoder:
    """Documents and queries as BM25 term vectors; ``name`` pins the tokenizer and parameters."""

    def __init__(self, *, k: float, b: float, avg_length: float, language: str = "english"
                 ) -> None:
        self.name = f"bm25:{language}:k{k:g}:b{b:g}:avg{avg_length:g}"
        try:
            self._model = qe.Bm25(qe.Bm25Config(k=k, b=b, avg_len=avg_length, language=language))
        except ValueError as exc:
            raise ConfigError(f"BM25 settings k={k}, b={b}, avg_length={avg_length}, language="
                              f"{language!r} are invalid ({exc}). Fix: lexical.bm25_* (language: "
                              "a Snowball language such as 'english').") from None

    @classmethod
    def from_settings(cls, settings: LexicalSettings) -> Bm25Encoder:
        return cls(k=settings.bm25_k, b=settings.bm25_b, avg_length=settings.bm25_avg_length,
                   language=settings.bm25_language)

    def documents(self, texts: Sequence[str]) -> list[SparseTerms]:
        return [_terms(self._model.embed_document(text)) for text in texts]

    def queries(self, texts: Sequence[str]) -> list[SparseTerms]:
        return [_terms(self._model.embed_query(text)) for text in texts]


def _terms(vector: qe.SparseVector) -> SparseTerms:
    return SparseTerms(indices=tuple(vector.indices), values=tuple(vector.values))
