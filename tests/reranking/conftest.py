"""A real tiny set-up for mining: the tiny pool, the tiny random BART as M, and its Edge index."""

from __future__ import annotations

from pathlib import Path

import pytest
from mining_helpers import LENGTHS, MINED_TUPLES, TINY, one_torch_thread
from recross.index import build_index, open_index
from recross.models import load_seq2seq, upstream_encoder
from recross.reranking import MiningRun, mine_distant_supervision
from recross.retrieval import DenseRetrieval


@pytest.fixture(scope="session")
def tiny_bundle():
    return load_seq2seq(TINY.models.upstream_model, device="cpu")


@pytest.fixture(scope="session")
def tiny_dagger(tiny_pool, tiny_bundle, tmp_path_factory) -> DenseRetrieval:
    encoder = upstream_encoder(tiny_bundle, max_length=TINY.models.max_input_length,
                               batch_size=TINY.models.encode_batch_size)
    index = open_index(TINY.index.model_copy(update={"exact": True}), collection="tiny-upstream",
                       dimension=encoder.dimension, encoder_name=encoder.name,
                       home=tmp_path_factory.mktemp("index-home"))
    with one_torch_thread():
        build_index(index, tiny_pool.examples, encoder.encode, batch_size=64, progress=False)
    yield DenseRetrieval("recross-dagger", pool=tiny_pool, index=index, encoder=encoder)
    index.close()


def mine(dagger, bundle, out_dir: Path, **overrides) -> MiningRun:
    """Mine with the tiny profile's settings, ``overrides`` applied (validated)."""
    settings = TINY.mining.model_validate({**TINY.mining.model_dump(), **overrides})
    with one_torch_thread():
        return mine_distant_supervision(retriever=dagger, upstream=bundle, settings=settings,
                                        out_dir=out_dir, progress=False, **LENGTHS)


@pytest.fixture(scope="session")
def mined(tiny_dagger, tiny_bundle, tmp_path_factory) -> MiningRun:
    """An uninterrupted tiny mining run of MINED_TUPLES tuples."""
    return mine(tiny_dagger, tiny_bundle, tmp_path_factory.mktemp("mined"),
                n_tuples=MINED_TUPLES)


@pytest.fixture
def mine_into():
    return mine
