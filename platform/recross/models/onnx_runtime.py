"""The ``onnx-int8`` encoder runtime: a transformer encoder run by ONNX Runtime with int8 weights.

On a CPU the encoders spend their time in the weight matmuls; int8 weights with activations
quantized on the fly (dynamic quantization) make those cheaper. Measured on 512 pool texts, max
length 256, one thread of an AVX2 CPU without VNNI (``benchmarks/encode_bench.py``): the small
model's encoder 26 -> 40 examples/s, MiniLM 22 -> 32; cosine to the fp32 vectors 0.998 / 0.992
on average, 0.94 / 0.98 for the worst text, 79% / 91% of each text's 10 nearest neighbours kept.
The encoder is exported (token ids + attention mask -> last hidden state, dynamic batch and
sequence axes), checked against torch, quantized, and cached as one file keyed by the weights'
fingerprint and the max length, so a changed model is exported again and an unchanged one never
is. Activations are quantized per batch, so a text's vector moves by rounding with its batch
mates (about 1e-4 on the tiny model); it is deterministic for the same batch. The reranker (a
sequence-pair classifier: token, mask and segment ids -> logits) is exported the same way
(:func:`int8_pair_classifier_graph`): 4x the pairs per CPU-second of fp32 torch for the MiniLM
reranker here, scores ranked as fp32 ranks them (Spearman 0.98; ``benchmarks/task_latency.py``).

    >>> graph = int8_encoder_graph(bundle.model.get_encoder(), fingerprint=bundle.fingerprint(),
    ...                            max_length=256, cache_dir=StatePaths(home).int8_encoders)
    >>> graph.mean_pooled(token_ids, pad_id=0, batch_size=64).shape
    (len(token_ids), 384)
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model
from transformers import PreTrainedModel

from recross.errors import ModelError
from recross.io import atomic_file
from recross.models.batching import length_sorted_batches
from recross.progress import progress_bar

ONNX_INT8 = "onnx-int8"
_INPUTS = ("input_ids", "attention_mask")
_EXPORT_TOLERANCE = 1e-3  # max |onnx - torch| of the fp32 graph, relative to the hidden states' scale


class EncoderGraph:
    """An ONNX Runtime session over an exported encoder graph, on the CPU.

    Threads: ``torch.get_num_threads()`` at construction, so the int8 path obeys the same
    thread budget as the torch one; no spinning between ops, which on a shared machine only
    steals cycles from the other jobs.
    """

    def __init__(self, path: Path) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = tuple(node.name for node in self.session.get_inputs())
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's one output for ``feeds`` (int64 arrays named as the graph's inputs)."""
        return self.session.run(None, {name: feeds[name] for name in self.inputs})[0]

    def hidden_states(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.run({"input_ids": input_ids, "attention_mask": attention_mask})

    def mean_pooled(self, ids: Sequence[Sequence[int]], *, pad_id: int, batch_size: int,
                    progress: bool = False) -> np.ndarray:
        """Mean of the last hidden states over each text's tokens, float32 in input order."""
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        batches = length_sorted_batches([len(x) for x in ids], batch_size)
        for batch in progress_bar(batches, enabled=progress, desc="encode", unit="batch"):
            input_ids, mask = pad_right([ids[i] for i in batch], pad_id)
            out[batch] = mean_pool(self.hidden_states(input_ids, mask), mask)
        return out

    def pair_logits(self, ids: Sequence[Sequence[int]], type_ids: Sequence[Sequence[int]], *,
                    pad_id: int, batch_size: int) -> np.ndarray:
        """A pair classifier's logits per tokenized pair, float32 in input order."""
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for batch in length_sorted_batches([len(x) for x in ids], batch_size):
            input_ids, mask = pad_right([ids[i] for i in batch], pad_id)
            types, _ = pad_right([type_ids[i] for i in batch], 0)
            out[batch] = self.run({"input_ids": input_ids, "attention_mask": mask,
                                   "token_type_ids": types})
        return out


def pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and mask, padded on the right (absolute positions stay those of the text alone)."""
    width = max(len(row) for row in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        input_ids[i, :len(row)] = row
        mask[i, :len(row)] = 1
    return input_ids, mask


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average ``hidden`` over the positions where ``mask`` is 1 (padding contributes nothing)."""
    weights = mask[..., None].astype(np.float32)
    return ((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)).astype(
        np.float32)


def int8_encoder_graph(encoder: PreTrainedModel, *, fingerprint: str, max_length: int,
                       cache_dir: Path) -> EncoderGraph:
    """The int8 graph of ``encoder`` from ``cache_dir``, exported and quantized first if absent."""
    path = cache_dir / f"{fingerprint[:16]}-max{max_length}.int8.onnx"
    if not path.is_file():
        with atomic_file(path) as tmp:
            export_int8(encoder, tmp, max_length=max_length)
    return EncoderGraph(path)


def int8_pair_classifier_graph(model: PreTrainedModel, *, fingerprint: str, max_length: int,
                               cache_dir: Path) -> EncoderGraph:
    """The int8 graph of a sequence-pair classifier (the reranker: token ids, mask and segment
    ids -> logits) from ``cache_dir``, exported and quantized first if absent."""
    path = cache_dir / f"{fingerprint[:16]}-max{max_length}.pair-logits.int8.onnx"
    if not path.is_file():
        with atomic_file(path) as tmp:
            _export_quantized(_PairLogits(model), tmp, max_length=max_length)
    return EncoderGraph(path)


def export_int8(encoder: PreTrainedModel, out: Path, *, max_length: int) -> None:
    """Export ``encoder`` (-> last hidden state) to ONNX, check, fuse and quantize to ``out``."""
    _export_quantized(_LastHiddenState(encoder), out, max_length=max_length)


def _export_quantized(wrapper: _Exported, out: Path, *, max_length: int) -> None:
    """Export ``wrapper`` to ONNX, check it against torch, fuse, and write int8 weights to ``out``.

    Quantization: int8 weights with one scale per output channel, since one scale per matrix
    is set by its largest weights and rounds the rest coarsely (small model, 256 pool texts:
    worst-text cosine to fp32 0.70 per tensor, 0.94 per channel). ``reduce_range`` keeps the
    weights in 7 bits: a CPU without VNNI (AVX2, AVX-512 before VNNI) multiplies uint8 x int8
    pairs into saturating int16 sums, which 8-bit weights can overflow (512 texts on such a CPU:
    worst-text cosine 0.86 without, 0.94 with, speed within noise); with VNNI (int32 sums) it
    costs one bit of weight precision, and a graph cached on a shared disk stays right on
    whichever CPU reads it. Only weight matmuls are quantized: the attention
    products and the embedding lookup (a gather, no arithmetic to save) stay float.
    """
    with tempfile.TemporaryDirectory(prefix="recross-onnx-") as tmp:
        fp32, fused = Path(tmp) / "encoder.onnx", Path(tmp) / "fused.onnx"
        _export_fp32(wrapper, fp32, max_length=max_length)
        # Layer norms and GELUs fused before quantizing: ~10% faster int8 graph (small model).
        optimize_model(str(fp32), model_type="bert", opt_level=0).save_model_to_file(str(fused))
        quantize_dynamic(fused, out, weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, op_types_to_quantize=["MatMul"])


class _Exported(torch.nn.Module):
    """A model as one graph: named int64 inputs -> one float output."""

    inputs: tuple[str, ...] = _INPUTS
    output = "last_hidden_state"
    setting = "models.encoder_runtime"  # what a user switches back to torch when export fails

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model


class _LastHiddenState(_Exported):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class _PairLogits(_Exported):
    inputs = (*_INPUTS, "token_type_ids")
    output = "logits"
    setting = "models.reranker_runtime"

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).logits


def _export_fp32(wrapper: _Exported, path: Path, *, max_length: int) -> None:
    wrapper = wrapper.eval()
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    try:
        with _eager_attention(wrapper.model):
            torch.onnx.export(wrapper, _probe(wrapper, lengths=(7, 4)), str(path), dynamo=True,
                              input_names=list(wrapper.inputs), output_names=[wrapper.output],
                              dynamic_shapes={name: {0: batch, 1: sequence}
                                              for name in wrapper.inputs},
                              verbose=False)
    except Exception as exc:  # torch.export raises many types; all mean the same to a user
        raise ModelError(f"cannot export {type(wrapper.model).__name__} to ONNX for the onnx-int8 "
                         f"runtime: {str(exc).strip().splitlines()[0]}. Fix: set "
                         f"{wrapper.setting}: torch for this model.") from exc
    _check_against_torch(wrapper, path, max_length=max_length)


@contextmanager
def _eager_attention(encoder: PreTrainedModel) -> Iterator[None]:
    """Export plain matmul-softmax attention: the SDPA export guards every attention score with
    IsNaN/Where, a quarter of ONNX Runtime's time on the small model. Restored afterwards (the
    encoder may share its config with a decoder that keeps generating)."""
    previous = encoder.config._attn_implementation
    encoder.set_attn_implementation("eager")
    try:
        yield
    finally:
        encoder.set_attn_implementation(previous)


def _probe(wrapper: _Exported, *, lengths: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    """Seeded random token ids as wide as the longest of ``lengths``, masked to each length;
    segment ids (pair classifiers) 1 over each row's second half where the model has two."""
    config = wrapper.model.config
    generator = torch.Generator().manual_seed(0)
    width = max(lengths)
    ids = torch.randint(5, config.vocab_size, (len(lengths), width), generator=generator)
    positions = torch.arange(width)[None, :]
    mask = (positions < torch.tensor(lengths)[:, None]).long()
    if len(wrapper.inputs) == len(_INPUTS):
        return ids, mask
    second = positions >= torch.tensor(lengths)[:, None] // 2
    types = (second & mask.bool()).long() if getattr(config, "type_vocab_size", 1) > 1 else \
        torch.zeros_like(ids)
    return ids, mask, types


def _check_against_torch(wrapper: _Exported, path: Path, *, max_length: int) -> None:
    """The fp32 graph must reproduce torch on one full-length and one short padded row."""
    probe = _probe(wrapper, lengths=(max_length, 3))
    with torch.inference_mode():
        expected = wrapper(*probe).numpy()
    got = EncoderGraph(path).run({name: t.numpy() for name, t in zip(wrapper.inputs, probe)})
    valid = probe[1].numpy().astype(bool) if expected.ndim == 3 else slice(None)
    error = np.abs(got[valid] - expected[valid]).max() / max(np.abs(expected[valid]).max(), 1e-6)
    if not error <= _EXPORT_TOLERANCE:
        raise ModelError(f"the ONNX export of {type(wrapper.model).__name__} disagrees with "
                         f"torch (relative error {error:.2g} at max length {max_length}). Fix: "
                         f"set {wrapper.setting}: torch for this model.")
