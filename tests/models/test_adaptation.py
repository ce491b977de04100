import math

import pytest
import torch
from recross.errors import ModelError
from recross.models import adapt, generate, load_adapted, mean_loss


def _settings(tiny_settings, **changes):
    return tiny_settings.adaptation.model_copy(update=changes)


def _lengths(tiny_settings):
    return {"max_input_length": tiny_settings.models.max_input_length,
            "max_output_length": tiny_settings.models.max_output_length}


def test_adaptation_changes_the_copy_and_leaves_the_original_bit_identical(
        tiny_bundle, examples, tiny_settings):
    original = {k: v.clone() for k, v in tiny_bundle.model.state_dict().items()}
    result = adapt(tiny_bundle, examples, _settings(tiny_settings), progress=False,
                   device="cpu", **_lengths(tiny_settings))
    after = tiny_bundle.model.state_dict()
    assert all(torch.equal(original[k], after[k]) for k in original)
    adapted = result.bundle.model.state_dict()
    assert any(not torch.equal(original[k], adapted[k]) for k in original)


def test_epochs_is_a_real_parameter_and_every_step_is_logged(tiny_bundle, examples, tiny_settings):
    settings = _settings(tiny_settings, epochs=2, batch_size=4)
    result = adapt(tiny_bundle, examples, settings, progress=False, device="cpu",
                   **_lengths(tiny_settings))
    expected = 2 * math.ceil(len(examples) / 4)
    assert result.params["steps"] == expected and result.params["epochs"] == 2
    assert [e["step"] for e in result.log] == list(range(1, expected + 1))
    assert result.log[-1]["epoch"] == pytest.approx(2.0)


def test_full_adaptation_saves_and_reloads_by_path(tiny_bundle, examples, tiny_settings, tmp_path):
    result = adapt(tiny_bundle, examples, _settings(tiny_settings), out_dir=tmp_path / "full",
                   progress=False, device="cpu", **_lengths(tiny_settings))
    reloaded = load_adapted(tmp_path / "full", device="cpu")
    assert reloaded.fingerprint() == result.bundle.fingerprint()
    inputs = [e.input for e in examples[:3]]
    assert (generate(reloaded, inputs, num_beams=1, max_new_tokens=4, batch_size=4, progress=False)
            == generate(result.bundle, inputs, num_beams=1, max_new_tokens=4, batch_size=4,
                        progress=False))


def test_adaptation_from_a_path_never_modifies_the_checkpoint_on_disk(
        tiny_bundle, examples, tiny_settings, tmp_path):
    tiny_bundle.model.save_pretrained(tmp_path / "m")
    tiny_bundle.tokenizer.save_pretrained(tmp_path / "m")
    before = (tmp_path / "m" / "model.safetensors").read_bytes()
    adapt(tmp_path / "m", examples, _settings(tiny_settings), progress=False, device="cpu",
          **_lengths(tiny_settings))
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == before


def test_lora_changes_the_loss_on_the_retrieved_set_and_keeps_base_weights(
        tiny_bundle, examples, tiny_settings):
    before_weights = tiny_bundle.fingerprint()
    lengths = _lengths(tiny_settings)
    before = mean_loss(tiny_bundle, examples, batch_size=8, **lengths)
    result = adapt(tiny_bundle, examples, _settings(tiny_settings, mode="lora", epochs=2),
                   progress=False, device="cpu", **lengths)
    after = mean_loss(result.bundle, examples, batch_size=8, **lengths)
    assert after < before - 0.01
    assert tiny_bundle.fingerprint() == before_weights
    assert result.params["mode"] == "lora" and result.params["lora_target_modules"]


def test_lora_adapter_is_much_smaller_than_a_full_checkpoint_and_reloads(
        tiny_bundle, examples, tiny_settings, tmp_path):
    tiny_bundle.model.save_pretrained(tmp_path / "base")
    tiny_bundle.tokenizer.save_pretrained(tmp_path / "base")
    lengths = _lengths(tiny_settings)
    lora = adapt(tmp_path / "base", examples, _settings(tiny_settings, mode="lora", lora_rank=4),
                 out_dir=tmp_path / "lora", progress=False, device="cpu", **lengths)
    adapter = sum(p.stat().st_size for p in (tmp_path / "lora").iterdir())
    full = (tmp_path / "base" / "model.safetensors").stat().st_size
    assert adapter * 20 < full
    reloaded = load_adapted(tmp_path / "lora", device="cpu")
    assert mean_loss(reloaded, examples, batch_size=8, **lengths) == pytest.approx(
        mean_loss(lora.bundle, examples, batch_size=8, **lengths), abs=1e-5)


def test_lora_adapter_refuses_a_base_with_a_different_hash(
        tiny_bundle, examples, tiny_settings, tmp_path):
    tiny_bundle.model.save_pretrained(tmp_path / "base")
    tiny_bundle.tokenizer.save_pretrained(tmp_path / "base")
    adapt(tmp_path / "base", examples, _settings(tiny_settings, mode="lora"),
          out_dir=tmp_path / "lora", progress=False, device="cpu", **_lengths(tiny_settings))
    other = tiny_bundle.copy()
    next(other.model.parameters()).data.mul_(1.01)
    other.model.save_pretrained(tmp_path / "other")
    other.tokenizer.save_pretrained(tmp_path / "other")
    with pytest.raises(ModelError, match="weights hash") as raised:
        load_adapted(tmp_path / "lora", base=tmp_path / "other", device="cpu")
    assert "Fix:" in str(raised.value)


def test_loading_an_incomplete_adaptation_is_a_clear_error(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(ModelError, match="not a complete adapted model"):
        load_adapted(tmp_path / "half")
