"""The retrievers by name, in the paper's column order (its five first, the baselines after).

A module of its own, outside the ``retrieval`` package whose import loads the models and the
index: the reports, the CLI's options and the Dagster partitions list retrievers without them.
"""

RETRIEVERS: tuple[str, ...] = ("none", "random", "sbert", "recross-dagger", "recross",
                               "bm25", "hybrid", "recross-hybrid", "dsir")
DENSE_RETRIEVERS: tuple[str, ...] = ("sbert", "recross-dagger", "recross")
LEXICAL_RETRIEVERS: tuple[str, ...] = ("bm25", "hybrid", "recross-hybrid")
RERANKED_RETRIEVERS: tuple[str, ...] = ("recross", "recross-hybrid")
