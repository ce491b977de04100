"""Index test helpers: a deterministic toy encoder, synthetic examples, a numpy reference."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from recross.data import Example

QDRANT_IMAGE = "qdrant/qdrant:v1.19.1"  # pinned: the server generation qdrant-client 1.20 targets


class HashingEncoder:
    """Signed feature hashing of lower-cased words, mean-pooled: deterministic, no model."""

    def __init__(self, dimension: int = 32, name: str | None = None) -> None:
        self.dimension = dimension
        self.name = name or f"test:hashing-{dimension}"
        self.calls: list[int] = []  # batch sizes asked for, to check what a resumed build encodes

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower()) or [""]
            for word in words:
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            out[row] /= len(words)
        return out


def synthetic_examples(n: int, *, tasks: Sequence[str] = ("ag_news", "sciq", "samsum"),
                       templates: Sequence[str] = ("t_a", "t_b")) -> list[Example]:
    """``n`` examples spread over tasks and templates (ids unique, order stable)."""
    examples = []
    for i in range(n):
        task, template = tasks[i % len(tasks)], templates[(i // 3) % len(templates)]
        examples.append(Example(example_id=f"{task}|train|{template}|#{i}",
                                input=f"example number {i}", answers=("x",), task=task,
                                split="train", template=template, source_index=i,
                                source_task=task))
    return examples


def random_vectors(n: int, dimension: int, *, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dimension)).astype(np.float32)


def server_url_from_env() -> str | None:
    """The QDRANT_URL the developer set; tests/conftest.py moved it out of the library's sight."""
    return os.environ.get("RECROSS_TEST_QDRANT_URL")


def server_api_key_from_env() -> str | None:
    """The QDRANT_API_KEY the developer set, for the server cases only (see tests/conftest.py)."""
    return os.environ.get("RECROSS_TEST_QDRANT_API_KEY")


@lru_cache(maxsize=1)
def server_unavailable_reason() -> str | None:
    """None when a Qdrant server can be had: QDRANT_URL, or a Docker engine for testcontainers."""
    if server_url_from_env():
        return None
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 -- no client config, no socket, daemon down: all mean "no Docker"
        return (f"no Qdrant server: QDRANT_URL is unset and no Docker engine answers "
                f"({type(exc).__name__}) for testcontainers {QDRANT_IMAGE}")
    return None


def exact_top_k(corpus: np.ndarray, queries: np.ndarray, k: int,
                allowed: np.ndarray | None = None) -> list[list[int]]:
    """Reference maximum-inner-product search in numpy (row indices, best first)."""
    scores = queries @ corpus.T
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[int(j) for j in row if np.isfinite(scores[i, j])] for i, row in enumerate(order)]
