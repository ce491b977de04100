"""Retrievers of upstream examples for a query set: none, random, sbert, recross-dagger, recross."""

from recross.retrieval.aggregation import candidate_count, interleave_ranked, per_query_k
from recross.retrieval.base import RetrievedItem, RetrievedSet, Retriever
from recross.retrieval.catalog import PoolCatalog
from recross.retrieval.dense import DenseRetrieval
from recross.retrieval.distribution import distribution_matrix, task_distribution
from recross.retrieval.factory import DENSE_RETRIEVERS, RETRIEVERS, make_retriever
from recross.retrieval.reranked import PairScorer, RerankedRetrieval, rerank
from recross.retrieval.simple import NoRetrieval, RandomRetrieval

__all__ = [
           "DENSE_RETRIEVERS",
           "RETRIEVERS",
           "DenseRetrieval",
           "NoRetrieval",
           "PairScorer",
           "PoolCatalog",
           "RandomRetrieval",
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
