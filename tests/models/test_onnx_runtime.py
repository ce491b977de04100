"""The onnx-int8 encoder runtime: int8 vectors against the fp32 ones, padding, cache, errors."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from recross.errors import ModelError
from recross.models import onnx_runtime, sentence_encoder, upstream_encoder
from recross.models.encoders import SentenceEncoder
from recross.paths import StatePaths
from recross.pipeline.upstream import make_encoder
from sentence_transformers import SentenceTransformer
from sentence_transformers.models import Pooling

LONG = "Read the passage and answer the question. " * 12


@pytest.fixture(scope="module")
def int8_cache(tmp_path_factory) -> Path:
    """One cache for the module: each model is exported once (an export takes seconds)."""
    return tmp_path_factory.mktemp("onnx-int8")


@pytest.fixture
def texts(tiny_pool) -> list[str]:
    return [e.input for e in tiny_pool.examples] + [LONG, "short"]


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_int8_upstream_vectors_agree_with_fp32_and_say_int8_in_their_name(tiny_bundle, int8_cache,
                                                                          texts):
    fp32 = upstream_encoder(tiny_bundle, max_length=64, batch_size=16)
    int8 = upstream_encoder(tiny_bundle, max_length=64, batch_size=16, onnx_int8_cache=int8_cache)
    expected, got = fp32.encode(texts), int8.encode(texts)
    assert got.dtype == np.float32 and got.shape == expected.shape == (len(texts), int8.dimension)
    # The tiny random model's layers add little to its embeddings, so int8 barely moves it
    # (measured: worst row 0.9999998); the real MiniLM below is the test of quantization error.
    assert _row_cosines(got, expected).min() >= 0.9999
    assert not np.array_equal(got, expected)  # int8 weights, not a float copy
    assert int8.name == f"{fp32.name}:onnx-int8"


def test_int8_mean_pooling_ignores_padding_up_to_activation_rounding(tiny_bundle, int8_cache):
    # Activations are quantized per batch (one scale for the batch's tensor), so a text's vector
    # moves by rounding with its batch mates; padding itself is masked out of the mean.
    encoder = upstream_encoder(tiny_bundle, max_length=64, batch_size=8,
                               onnx_int8_cache=int8_cache)
    alone = encoder.encode(["is this positive? great film"])
    padded = encoder.encode([LONG, "is this positive? great film", "short"])[1:2]
    np.testing.assert_allclose(alone, padded, atol=1e-3)
    assert _row_cosines(alone, padded)[0] >= 0.9999


def test_int8_encoding_is_deterministic_in_input_order(tiny_bundle, int8_cache):
    encoder = upstream_encoder(tiny_bundle, max_length=64, batch_size=2,
                               onnx_int8_cache=int8_cache)
    texts = ["b", LONG, "a question?", "c d e"]
    first, second = encoder.encode(texts), encoder.encode(texts)
    assert np.array_equal(first, second)
    np.testing.assert_allclose(encoder.encode([texts[2]])[0], first[2], atol=1e-3)


def test_int8_graph_is_exported_once_per_weights_and_max_length(tiny_bundle, int8_cache,
                                                                monkeypatch):
    upstream_encoder(tiny_bundle, max_length=64, batch_size=8, onnx_int8_cache=int8_cache)
    cached = sorted(int8_cache.glob("*.int8.onnx"))
    modified = {path: path.stat().st_mtime_ns for path in cached}
    exports = []

    def spy(encoder, out, *, max_length):  # records the export, reuses a real graph
        exports.append(max_length)
        shutil.copyfile(cached[0], out)

    monkeypatch.setattr(onnx_runtime, "export_int8", spy)
    again = upstream_encoder(tiny_bundle, max_length=64, batch_size=8, onnx_int8_cache=int8_cache)
    assert exports == [] and again.int8.path in modified
    assert {path: path.stat().st_mtime_ns for path in cached} == modified
    changed = tiny_bundle.copy()
    next(changed.model.parameters()).data.add_(1.0)
    upstream_encoder(changed, max_length=64, batch_size=8, onnx_int8_cache=int8_cache)
    upstream_encoder(tiny_bundle, max_length=32, batch_size=8, onnx_int8_cache=int8_cache)
    assert exports == [64, 32]


def test_int8_tiny_sentence_encoder_agrees_with_fp32(int8_cache, texts):
    fp32 = sentence_encoder("build:tiny-sbert", max_length=64, batch_size=16, device="cpu")
    int8 = sentence_encoder("build:tiny-sbert", max_length=64, batch_size=16, device="cpu",
                            onnx_int8_cache=int8_cache)
    assert not int8.int8_normalizes  # the tiny pipeline has no Normalize module
    assert _row_cosines(int8.encode(texts), fp32.encode(texts)).min() >= 0.9999


def test_encoder_runtime_setting_runs_the_sbert_index_encoder_from_the_state_folder(
        tiny_settings, int8_cache, monkeypatch):
    sentence_encoder("build:tiny-sbert", max_length=64, batch_size=16, device="cpu",
                     onnx_int8_cache=int8_cache)  # exported once for the module
    state = StatePaths(tiny_settings.home).int8_encoders
    shutil.copytree(int8_cache, state)

    def no_export(*args, **kwargs):
        raise AssertionError("the graph in the state folder should have been used")

    monkeypatch.setattr(onnx_runtime, "export_int8", no_export)
    assert make_encoder(tiny_settings, "sbert").int8 is None  # default: torch
    tiny_settings.models.encoder_runtime = "onnx-int8"
    encoder = make_encoder(tiny_settings, "sbert")
    assert encoder.int8.path.parent == state and encoder.name.endswith(":onnx-int8")


@pytest.mark.slow
def test_int8_packaged_minilm_agrees_with_fp32_and_keeps_paraphrases_closer(int8_cache):
    texts = ["A man is playing a guitar.", "Someone plays the guitar.",
             "The stock market fell sharply today.",
             "Is this review positive or negative? The film was a delight, with great acting."]
    fp32 = sentence_encoder("packaged:all-MiniLM-L6-v2", max_length=128, batch_size=8,
                            device="cpu")
    int8 = sentence_encoder("packaged:all-MiniLM-L6-v2", max_length=128, batch_size=8,
                            device="cpu", onnx_int8_cache=int8_cache)
    vectors = int8.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)  # Normalize
    # Measured on these texts: 0.991-0.994 per row.
    assert _row_cosines(vectors, fp32.encode(texts)).min() >= 0.98
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_int8_refuses_a_sentence_pipeline_it_cannot_rebuild(int8_cache):
    fp32 = sentence_encoder("build:tiny-sbert", max_length=32, batch_size=4, device="cpu")
    body = fp32.model[0]
    cls = SentenceTransformer(modules=[body, Pooling(body.get_embedding_dimension(), "cls")],
                              device="cpu")
    with pytest.raises(ModelError, match="Transformer -> mean Pooling.*Fix:"):
        SentenceEncoder(cls, label="cls-pooled", max_length=32, batch_size=4,
                        onnx_int8_cache=int8_cache)


def test_int8_export_failure_is_a_model_error_with_a_fix(tiny_bundle, tmp_path, monkeypatch):
    def unsupported(*args, **kwargs):  # as torch.export fails on an architecture it cannot trace
        raise RuntimeError("Could not guard on data-dependent expression")

    monkeypatch.setattr(torch.onnx, "export", unsupported)
    with pytest.raises(ModelError, match="cannot export BartEncoder.*Fix: set models.encoder_runtime"):
        upstream_encoder(tiny_bundle, max_length=64, batch_size=8, onnx_int8_cache=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left as a cached graph
    assert tiny_bundle.model.config._attn_implementation == "sdpa"  # attention restored
