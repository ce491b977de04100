"""The method's steps as whole units of work, shared by the Dagster assets and the CLI.

Each function reads its inputs from the state folder, does one step, writes its product
atomically and returns a summary: ``upstream`` (pool table, model M, the two indexes),
``reranking`` (mining, cross-encoder) and ``target`` (query sets, retrieval, adaptation,
evaluation for one target task and one retriever).
"""
