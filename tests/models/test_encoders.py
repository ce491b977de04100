import numpy as np
import pytest
from recross.models import ExampleEncoder, load_seq2seq, sentence_encoder, upstream_encoder

LONG = "Read the passage and answer the question. " * 12


def test_mean_pooling_ignores_padding(tiny_bundle):
    encoder = upstream_encoder(tiny_bundle, max_length=64, batch_size=8)
    alone = encoder.encode(["is this positive? great film"])
    padded = encoder.encode([LONG, "is this positive? great film", "short"])[1:2]
    np.testing.assert_allclose(alone, padded, rtol=1e-5, atol=1e-6)


def test_upstream_encoder_is_deterministic_float32_in_input_order(tiny_bundle):
    encoder = upstream_encoder(tiny_bundle, max_length=64, batch_size=2)
    texts = ["b", LONG, "a question?", "c d e"]
    first, second = encoder.encode(texts), encoder.encode(texts)
    assert isinstance(encoder, ExampleEncoder)
    assert first.dtype == np.float32 and first.shape == (4, encoder.dimension)
    assert np.array_equal(first, second)
    np.testing.assert_allclose(encoder.encode([texts[2]])[0], first[2], rtol=1e-5, atol=1e-6)


def test_encoder_name_pins_weights_and_max_length(tiny_bundle):
    name = upstream_encoder(tiny_bundle, max_length=64, batch_size=8).name
    assert name == upstream_encoder(load_seq2seq("build:tiny-bart", device="cpu"),
                                    max_length=64, batch_size=8).name
    assert name != upstream_encoder(tiny_bundle, max_length=32, batch_size=8).name
    changed = tiny_bundle.copy()
    next(changed.model.parameters()).data.add_(1.0)
    assert name != upstream_encoder(changed, max_length=64, batch_size=8).name


def test_reference_input_format_encodes_prefixed_texts_under_its_own_name(tiny_bundle):
    from recross.models.input_format import set_input_format

    plain = upstream_encoder(tiny_bundle, max_length=64, batch_size=8)
    prefixed = plain.encode(["<s> a question?"])
    reference = tiny_bundle.copy()
    set_input_format(reference.model, "reference")
    encoder = upstream_encoder(reference, max_length=64, batch_size=8)
    np.testing.assert_allclose(encoder.encode(["a question?"]), prefixed, rtol=1e-5, atol=1e-6)
    assert encoder.name == plain.name + ":reference-input"


def test_profiles_choose_the_distance_of_m_s_index_and_its_collection(tiny_settings, tiny_bundle,
                                                                       tiny_pool):
    from recross.config import load_settings
    from recross.pipeline.upstream import open_pool_index, upstream_model_dir

    assert load_settings("paper", environ={}).index.upstream_distance == "euclid"  # IndexFlatL2
    assert load_settings("small", environ={}).index.upstream_distance == "cosine"
    tiny_bundle.model.save_pretrained(upstream_model_dir(tiny_settings))
    tiny_bundle.tokenizer.save_pretrained(upstream_model_dir(tiny_settings))
    names = set()
    for distance in ("dot", "euclid"):
        tiny_settings.index.upstream_distance = distance
        handle = open_pool_index(tiny_settings, tiny_pool, "upstream")
        assert handle.index.distance == distance and handle.index.collection.endswith(distance)
        names.add(handle.index.collection)
        handle.index.close()
    assert len(names) == 2


def test_tiny_sentence_encoder_is_built_in_process_and_deterministic():
    first = sentence_encoder("build:tiny-sbert", max_length=32, batch_size=4, device="cpu")
    second = sentence_encoder("build:tiny-sbert", max_length=32, batch_size=4, device="cpu")
    texts = ["one", "two words", LONG]
    assert first.name == second.name
    assert np.array_equal(first.encode(texts), second.encode(texts))


def test_packaged_minilm_places_paraphrases_closer_than_unrelated_text():
    encoder = sentence_encoder("packaged:all-MiniLM-L6-v2", max_length=128, batch_size=8,
                               device="cpu")
    vectors = encoder.encode(["A man is playing a guitar.", "Someone plays the guitar.",
                              "The stock market fell sharply today."])
    assert encoder.dimension == 384 and vectors.dtype == np.float32
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3


def test_unknown_sentence_encoder_offline_is_a_model_error(monkeypatch):
    from recross.errors import ModelError
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        sentence_encoder("someone/no-such-encoder", max_length=32, batch_size=4, device="cpu")
