"""Model fixtures: an in-process tiny BART with the MiniLM tokenizer (tiny profile), one thread."""

from __future__ import annotations

import pytest
import torch
from recross.data import Example
from recross.models import Seq2SeqBundle, load_seq2seq


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and spinning threads suffer on a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def examples(tiny_pool) -> list[Example]:
    return tiny_pool.examples[:16]


@pytest.fixture
def tiny_bundle() -> Seq2SeqBundle:
    return load_seq2seq("build:tiny-bart", device="cpu")
