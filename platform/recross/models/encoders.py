"""Example encoders: M's own encoder (mean-pooled, METHOD.md step 1) and sentence-transformers.

Both implement :class:`recross.models.encoder.ExampleEncoder`: batched under inference mode,
batches of similar length (padding costs as much as text on a CPU), float32 output in input
order, deterministic. ``name`` pins checkpoint (with a weights hash), pooling and max length.
Given ``onnx_int8_cache``, both run through ONNX Runtime with int8 weights instead of torch
(:mod:`recross.models.onnx_runtime`), and their names say so: an int8 index never mixes with
an fp32 one.

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
from sentence_transformers.models import Normalize, Pooling, Transformer

from recross.errors import ModelError
from recross.models.batching import length_sorted_batches, tokenize_inputs
from recross.models.building import (
    BUILD_PREFIX,
    PACKAGED_PREFIX,
    TINY_BERT,
    TINY_SBERT,
    resolve_packaged,
    save_tiny_bert,
)
from recross.models.device import resolve_device
from recross.models.input_format import input_format_of
from recross.models.loading import (
    Seq2SeqBundle,
    cached_snapshot,
    check_hub_available,
    weights_fingerprint,
)
from recross.models.onnx_runtime import ONNX_INT8, EncoderGraph, int8_encoder_graph
from recross.progress import progress_bar


class UpstreamEncoder:
    """Mean of the last encoder layer over non-padding tokens of M (the ReCross index encoder).

    Vectors are returned as they are: how the index compares them (dot, cosine, euclid) is the
    index's distance. Texts are formatted as M's input format says, and the name carries it.
    """

    def __init__(self, bundle: Seq2SeqBundle, *, max_length: int, batch_size: int,
                 onnx_int8_cache: Path | None = None) -> None:
        self.bundle = bundle
        self.encoder = bundle.model.get_encoder()
        self.max_length = max_length
        self.batch_size = batch_size
        self.dimension = int(self.encoder.config.hidden_size)
        digest = weights_fingerprint(bundle.model)
        self.name = f"seq2seq-mean-last-encoder:{bundle.name}@{digest[:12]}:max{max_length}"
        if input_format_of(bundle.model) != "plain":
            self.name += f":{input_format_of(bundle.model)}-input"
        self.int8: EncoderGraph | None = None
        if onnx_int8_cache is not None:
            self.int8 = int8_encoder_graph(self.encoder, fingerprint=digest, max_length=max_length,
                                           cache_dir=onnx_int8_cache)
            self.name += f":{ONNX_INT8}"

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        tokenizer = self.bundle.tokenizer
        ids = tokenize_inputs(tokenizer, self.bundle.model, texts, max_length=self.max_length)
        if self.int8 is not None:
            return self.int8.mean_pooled(ids, pad_id=tokenizer.pad_token_id,
                                         batch_size=self.batch_size, progress=progress)
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


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm, in place; a zero row stays zero (as F.normalize)."""
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average ``hidden`` over the positions where ``mask`` is 1 (padding contributes nothing)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class SentenceEncoder:
    """A sentence-transformers model (the SBERT baseline's index encoder)."""

    def __init__(self, model: SentenceTransformer, *, label: str, max_length: int,
                 batch_size: int, onnx_int8_cache: Path | None = None) -> None:
        model.max_seq_length = max_length
        self.model = model
        self.batch_size = batch_size
        self.dimension = int(model.get_embedding_dimension())
        digest = weights_fingerprint(model)
        self.name = f"sbert:{label}@{digest[:12]}:max{max_length}"
        self.int8: EncoderGraph | None = None
        self.int8_normalizes = False
        if onnx_int8_cache is not None:
            self.int8_normalizes = _mean_pooled_pipeline(model, label)
            self.int8 = int8_encoder_graph(model[0].auto_model, fingerprint=digest,
                                           max_length=max_length, cache_dir=onnx_int8_cache)
            self.name += f":{ONNX_INT8}"

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if self.int8 is not None:
            return self._encode_int8(texts, progress=progress)
        # SentenceTransformer.encode sorts by length, batches and runs under inference mode.
        vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                    show_progress_bar=bool(progress), convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def _encode_int8(self, texts: Sequence[str], *, progress: bool) -> np.ndarray:
        assert self.int8 is not None  # called only when the encoder was built with an int8 graph
        tokenizer = self.model.tokenizer
        ids = tokenizer(list(texts), max_length=self.model.max_seq_length,
                        truncation=True)["input_ids"]
        vectors = self.int8.mean_pooled(ids, pad_id=tokenizer.pad_token_id,
                                        batch_size=self.batch_size, progress=progress)
        return unit_rows(vectors) if self.int8_normalizes else vectors


def _mean_pooled_pipeline(model: SentenceTransformer, label: str) -> bool:
    """Whether ``model`` normalizes; the int8 path rebuilds Transformer -> mean [-> Normalize]."""
    kinds = [type(module) for module in model]
    pooling = model[1] if len(kinds) > 1 and kinds[1] is Pooling else None
    if (kinds[0] is not Transformer or pooling is None or pooling.pooling_mode != "mean"
            or kinds[2:] not in ([], [Normalize])):
        raise ModelError(f"sentence encoder {label!r} is {' -> '.join(k.__name__ for k in kinds)}"
                         f"; the {ONNX_INT8} runtime runs Transformer -> mean Pooling "
                         "[-> Normalize] only. Fix: set models.encoder_runtime: torch.")
    return kinds[2:] == [Normalize]


def upstream_encoder(bundle: Seq2SeqBundle, *, max_length: int, batch_size: int,
                     onnx_int8_cache: Path | None = None) -> UpstreamEncoder:
    """M's encoder; with ``onnx_int8_cache`` (a folder) run as int8 by ONNX Runtime on the CPU."""
    return UpstreamEncoder(bundle, max_length=max_length, batch_size=batch_size,
                           onnx_int8_cache=onnx_int8_cache)


def sentence_encoder(name: str, *, max_length: int, batch_size: int, device: str = "auto",
                     onnx_int8_cache: Path | None = None) -> SentenceEncoder:
    """``packaged:all-MiniLM-L6-v2``, ``build:tiny-sbert``, a local directory or a hub id.

    With ``onnx_int8_cache`` (a folder) it runs as int8 by ONNX Runtime on the CPU.
    """
    target = str(resolve_device(device))
    return SentenceEncoder(load_sentence_transformer(name, device=target), label=name,
                           max_length=max_length, batch_size=batch_size,
                           onnx_int8_cache=onnx_int8_cache)


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
