"""The reranker: distant supervision mined from the upstream pool, and the cross-encoder."""

from recross.reranking.cross_encoder import (
                                             CrossEncoderScorer,
                                             RerankerReport,
                                             build_cross_encoder,
                                             int8_pair_graph,
                                             load_cross_encoder,
                                             ranking_metrics,
                                             split_tuples,
                                             train_cross_encoder,
)
from recross.reranking.mining import MiningRun, mine_distant_supervision, read_mined

__all__ = [
                                             "CrossEncoderScorer",
                                             "MiningRun",
                                             "RerankerReport",
                                             "build_cross_encoder",
                                             "int8_pair_graph",
                                             "load_cross_encoder",
                                             "mine_distant_supervision",
                                             "ranking_metrics",
                                             "read_mined",
                                             "split_tuples",
                                             "train_cross_encoder",
]
