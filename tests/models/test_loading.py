import time

import pytest
import torch
from recross.errors import ModelError
from recross.models import load_seq2seq


def test_missing_hub_checkpoint_offline_fails_fast_naming_id_and_fix(monkeypatch, tmp_path):
    from huggingface_hub import constants as hub_constants
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    started = time.perf_counter()
    with pytest.raises(ModelError) as raised:
        load_seq2seq("yuchenlin/BART0", device="cpu")
    message = str(raised.value)
    assert "yuchenlin/BART0" in message
    assert "HF_HUB_OFFLINE" in message and "local directory" in message
    assert time.perf_counter() - started < 5


def test_missing_local_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_seq2seq(str(tmp_path / "nowhere" / "model"), device="cpu")


def test_directory_without_config_is_not_a_checkpoint(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        load_seq2seq(tmp_path, device="cpu")


def test_saved_checkpoint_reloads_to_identical_outputs(tiny_bundle, tmp_path):
    tiny_bundle.model.save_pretrained(tmp_path / "m")
    tiny_bundle.tokenizer.save_pretrained(tmp_path / "m")
    reloaded = load_seq2seq(tmp_path / "m", device="cpu")
    batch = tiny_bundle.tokenizer(["is this positive? great film", "a"], padding=True,
                                  return_tensors="pt")
    labels = tiny_bundle.tokenizer(["yes", "no"], padding=True, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        before = tiny_bundle.model(**batch, labels=labels).logits
        after = reloaded.model(**batch, labels=labels).logits
    assert torch.equal(before, after)
    assert reloaded.fingerprint() == tiny_bundle.fingerprint()


def test_build_names_denote_the_same_weights_every_time():
    assert (load_seq2seq("build:tiny-bart", device="cpu").fingerprint()
            == load_seq2seq("build:tiny-bart", device="cpu").fingerprint())


def test_missing_hub_checkpoint_without_network_fails_fast(monkeypatch, tmp_path):
    from huggingface_hub import constants as hub_constants
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens here
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    started = time.perf_counter()
    with pytest.raises(ModelError, match="cannot be reached") as raised:
        load_seq2seq("bigscience/T0_3B", device="cpu")
    assert "bigscience/T0_3B" in str(raised.value)
    assert time.perf_counter() - started < 5
