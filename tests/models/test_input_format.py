"""``models.input_format: reference`` feeds a BART the token ids the reference pipeline built.

The reference (metax/task_manager/dataloader.py with append_another_bos) tokenized "<s> " + text
for inputs and targets with BART's byte-level BPE tokenizer, trained with decoder inputs
``shift_tokens_right(labels, pad, eos)`` (metax/models/mybart.py) and generated with
``decoder_start_token_id = bos``. A tiny random BART with a tiny byte-level BPE tokenizer of the
same family (built in-process: <s>=0, <pad>=1, </s>=2) shows the same ids reach the model here.
"""

from __future__ import annotations

import pytest
import torch
from recross.data import Example
from recross.models import Seq2SeqBundle, generate
from recross.models.input_format import formatted, set_input_format
from recross.models.losses import example_losses
from tokenizers.pre_tokenizers import ByteLevel
from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer
from transformers.models.bart.modeling_bart import shift_tokens_right

TEXT, ANSWER = "Is this review positive? great film", "yes"


@pytest.fixture
def bpe_bart() -> Seq2SeqBundle:
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + sorted(ByteLevel.alphabet()) + ["<mask>"])}
    tokenizer = BartTokenizer(vocab=vocab, merges=[])
    config = BartConfig(vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, max_position_embeddings=128, pad_token_id=1,
                        bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
                        forced_bos_token_id=None)
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config).eval()
    model.generation_config.forced_bos_token_id = None
    return Seq2SeqBundle(model=model, tokenizer=tokenizer, name="tiny-bpe-bart")


def _record_model_inputs(bundle: Seq2SeqBundle) -> list[dict[str, torch.Tensor]]:
    seen: list[dict[str, torch.Tensor]] = []

    def hook(_module, args, kwargs):
        named = {**dict(zip(("input_ids",), args)), **kwargs}
        seen.append({k: named[k].clone() for k in ("input_ids", "decoder_input_ids")
                     if named.get(k) is not None})

    bundle.model.model.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def test_reference_format_feeds_the_reference_token_ids_in_training(bpe_bart):
    set_input_format(bpe_bart.model, "reference")
    seen = _record_model_inputs(bpe_bart)
    example = Example(example_id="t|train|p|#0", input=TEXT, answers=(ANSWER,), task="t",
                      split="train", template="p", source_index=0, source_task="t")
    example_losses(bpe_bart, [example], batch_size=1, max_input_length=64, max_output_length=16)
    tokenizer = bpe_bart.tokenizer
    reference_inputs = tokenizer(["<s> " + TEXT], max_length=64, truncation=True)["input_ids"]
    reference_labels = torch.tensor(tokenizer(["<s> " + ANSWER])["input_ids"])
    assert reference_inputs[0][:2] == [0, 0]  # the tokenizer's <s>, then the prefix's <s>
    assert seen[0]["input_ids"].tolist() == reference_inputs
    assert seen[0]["decoder_input_ids"].tolist() == shift_tokens_right(
        reference_labels, pad_token_id=1, decoder_start_token_id=2).tolist()


def test_reference_format_starts_decoding_from_bos_and_plain_from_the_config(bpe_bart):
    seen = _record_model_inputs(bpe_bart)
    for input_format, start in (("reference", 0), ("plain", 2)):
        set_input_format(bpe_bart.model, input_format)
        seen.clear()
        generate(bpe_bart, [TEXT], num_beams=1, max_new_tokens=2, batch_size=1,
                 max_input_length=64, progress=False)
        assert seen[0]["decoder_input_ids"][0, 0].item() == start


def test_generation_encodes_the_prefixed_input_only_under_the_reference_format(bpe_bart):
    encoded: list[list[int]] = []

    def hook(_module, args, kwargs):
        ids = kwargs.get("input_ids")
        encoded.append((ids if ids is not None else args[0])[0].tolist())

    bpe_bart.model.get_encoder().register_forward_pre_hook(hook, with_kwargs=True)
    for input_format, text in (("reference", "<s> " + TEXT), ("plain", TEXT)):
        set_input_format(bpe_bart.model, input_format)
        encoded.clear()
        generate(bpe_bart, [TEXT], num_beams=1, max_new_tokens=2, batch_size=1,
                 max_input_length=64, progress=False)
        assert encoded[0] == bpe_bart.tokenizer([text])["input_ids"][0]


def test_the_format_travels_with_the_saved_model(bpe_bart, tmp_path):
    from recross.models import load_seq2seq

    set_input_format(bpe_bart.model, "reference")
    bpe_bart.model.save_pretrained(tmp_path)
    bpe_bart.tokenizer.save_pretrained(tmp_path)
    loaded = load_seq2seq(tmp_path, device="cpu")
    assert formatted(loaded.model, ["x"]) == ["<s> x"]
    assert loaded.model.generation_config.decoder_start_token_id == 0
