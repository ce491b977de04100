"""Asset definitions by area: upstream, reranking, targets, report."""
