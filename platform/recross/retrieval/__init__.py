"""Retrievers of upstream examples for a query set: none, random, sbert, recross-dagger, recross,
and the baselines bm25, hybrid, recross-hybrid (BM25 and fusion inside Qdrant) and dsir."""

from recross.retrieval.aggregation import candidate_count, interleave_ranked, per_query_k
from recross.retrieval.base import RetrievedItem, RetrievedSet, Retriever
from recross.retrieval.catalog import PoolCatalog
from recross.retrieval.dense import DenseRetrieval, Diversity, RankedRetrieval
from recross.retrieval.distribution import distribution_matrix, task_distribution
from recross.retrieval.dsir import DsirRetrieval
from recross.retrieval.factory import make_retriever
from recross.retrieval.lexical import Bm25Retrieval, HybridRetrieval
from recross.retrieval.reranked import PairScorer, RerankedRetrieval, rerank
from recross.retrieval.simple import NoRetrieval, RandomRetrieval
from recross.retriever_names import DENSE_RETRIEVERS, LEXICAL_RETRIEVERS, RETRIEVERS

__all__ = [
           "DENSE_RETRIEVERS",
           "LEXICAL_RETRIEVERS",
           "RETRIEVERS",
           "Bm25Retrieval",
           "DenseRetrieval",
           "Diversity",
           "DsirRetrieval",
           "HybridRetrieval",
           "NoRetrieval",
           "PairScorer",
           "PoolCatalog",
           "RandomRetrieval",
           "RankedRetrieval",
           "RerankedRetrieval",
           "RetrievedItem",
           "RetrievedSet",
           "Retriever",
           "candidate_count",
           "distribution_matrix",
           "interleave_ranked",
           "make_retriever",
           "per_query_k",
           "rerank",
           "task_distribution",
]
