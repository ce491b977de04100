"""Example encoders: M's own encoder (mean-pooled, METHOD.md step 1) and sentence-transformers.

Both implement :class:`recross.models.encoder.ExampleEncoder`: batched under inference mode,
batches of similar length (padding costs as much as text on a CPU), float32 output in input
order, deterministic. ``name`` pins checkpoint (with a weights hash), pooling and max length.

    >>> enc = upstream_encoder(load_seq2seq(path), max_length=256, batch_size=64)
    >>> enc.encode(["Is this review positive? ..."]).shape
    (1, 384)
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.models import Pooling, Transformer

from recross.errors import ModelError
from recross.models.batching import length_sorted_batches
from recross.models.building import (
    BUILD_PREFIX,
    PACKAGED_PREFIX,
    TINY_BERT,
    TINY_SBERT,
    resolve_packaged,
    save_tiny_bert,
)
from recross.models.device import resolve_device
from recross.models.loading import (
    Seq2SeqBundle,
    cached_snapshot,
    check_hub_available,
    weights_fingerprint,
)
from recross.progress import progress_bar


class UpstreamEncoder:
    """Mean of the last encoder layer over non-padding tokens of M (the ReCross index encoder)."""

    def __init__(self, bundle: Seq2SeqBundle, *, max_length: int, batch_size: int) -> None:
        self.bundle = bundle
        self.encoder = bundle.model.get_encoder()
        self.max_length = max_length
        self.batch_size = batch_size
        self.dimension = int(self.encoder.config.hidden_size)
        digest = weights_fingerprint(bundle.model)[:12]
        self.name = f"seq2seq-mean-last-encoder:{bundle.name}@{digest}:max{max_length}"

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        tokenizer = self.bundle.tokenizer
        ids = tokenizer(list(texts), max_length=self.max_length, truncation=True)["input_ids"]
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        device = self.bundle.device
        was_training = self.encoder.training
        self.encoder.eval()
        batches = length_sorted_batches([len(x) for x in ids], self.batch_size)
        with torch.inference_mode():
            for batch in progress_bar(batches, enabled=progress, desc="encode", unit="batch"):
                padded = tokenizer.pad([{"input_ids": ids[i]} for i in batch], return_tensors="pt")
                mask = padded["attention_mask"].to(device)
                hidden = self.encoder(input_ids=padded["input_ids"].to(device),
                                      attention_mask=mask).last_hidden_state
                out[batch] = mean_pool(hidden, mask).float().cpu().numpy()
        self.encoder.train(was_training)
        return out


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average ``hidden`` over the positions where ``mask`` is 1 (padding contributes nothing)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class SentenceEncoder:
    """A sentence-transformers model (the SBERT baseline's index encoder)."""

    def __init__(self, model: SentenceTransformer, *, label: str, max_length: int,
                 batch_size: int) -> None:
        model.max_seq_length = max_length
        self.model = model
        self.batch_size = batch_size
        self.dimension = int(model.get_embedding_dimension())
        digest = weights_fingerprint(model)[:12]
        self.name = f"sbert:{label}@{digest}:max{max_length}"

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        # SentenceTransformer.encode sorts by length, batches and runs under inference mode.
        vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                    show_progress_bar=bool(progress), convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


def upstream_encoder(bundle: Seq2SeqBundle, *, max_length: int, batch_size: int) -> UpstreamEncoder:
    return UpstreamEncoder(bundle, max_length=max_length, batch_size=batch_size)


def sentence_encoder(name: str, *, max_length: int, batch_size: int,
                     device: str = "auto") -> SentenceEncoder:
    """``packaged:all-MiniLM-L6-v2``, ``build:tiny-sbert``, a local directory or a hub id."""
    target = str(resolve_device(device))
    return SentenceEncoder(load_sentence_transformer(name, device=target), label=name,
                           max_length=max_length, batch_size=batch_size)


def load_sentence_transformer(name: str, *, device: str) -> SentenceTransformer:
    if name.startswith(PACKAGED_PREFIX):
        return SentenceTransformer(str(resolve_packaged(name)), device=device,
                                   local_files_only=True)
    if name.startswith(BUILD_PREFIX):
        if name not in (TINY_SBERT, TINY_BERT):
            raise ModelError(f"unknown sentence encoder to build {name!r}. Fix: use {TINY_SBERT}, "
                             "packaged:all-MiniLM-L6-v2, a local directory or a hub id.")
        with tempfile.TemporaryDirectory(prefix="recross-tiny-sbert-") as tmp:
            path = str(save_tiny_bert(Path(tmp)))
            body = Transformer(path)
            return SentenceTransformer(modules=[body, Pooling(body.get_embedding_dimension(), "mean")],
                                       device=device)
    if Path(name).expanduser().exists():
        return SentenceTransformer(str(Path(name).expanduser()), device=device)
    cached = cached_snapshot(name)
    if cached is not None:
        return SentenceTransformer(str(cached), device=device, local_files_only=True)
    check_hub_available(name)
    try:
        return SentenceTransformer(name, device=device)
    except OSError as exc:
        raise ModelError(f"cannot download sentence-transformers model {name!r}: {exc}. "
                         "Fix: check the id, or pass a local directory; offline, use "
                         "packaged:all-MiniLM-L6-v2.") from None
