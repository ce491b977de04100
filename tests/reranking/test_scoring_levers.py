"""The reranker's speed and truncation levers change how pairs reach the model, not the ranking."""

from __future__ import annotations

import numpy as np
import pytest
from recross.data import Example
from recross.reranking.cross_encoder import (
    CrossEncoderScorer,
    build_cross_encoder,
    int8_pair_graph,
    keep_ends,
)
from recross.retrieval import RetrievedItem
from recross.retrieval.reranked import rerank

QUERIES = ["Is this review positive? A delight from start to end.",
           "Does the premise entail the hypothesis? The cat sat on the mat. A cat sat.",
           "What is the capital of France?",
           ("Summarize: the council met on Monday and voted to repair the old bridge "
            "before winter, after a long debate about the cost.")]
CANDIDATES = ["The film was dull. Positive or negative?", "Paris is in France. Where is Paris?",
              "Premise: dogs bark. Hypothesis: animals make sounds. Entailment?",
              "Title: bridge repairs. Write a summary of the article below. The town ...",
              "Answer the question: what colour is the sky?", "yes", "A long " * 12 + "text.",
              "Which river flows through Paris?"]
CUT = 48  # the tiny reranker's max length in tokens


@pytest.fixture(scope="module")
def tiny_reranker():
    return build_cross_encoder("build:tiny-bert", max_length=CUT, device="cpu")


def test_int8_reranker_scores_rank_pairs_as_torch_does(tiny_reranker, tmp_path):
    fp32 = CrossEncoderScorer(tiny_reranker, batch_size=4, score="logit")
    int8 = CrossEncoderScorer(tiny_reranker, batch_size=4, score="logit",
                              int8=int8_pair_graph(tiny_reranker, tmp_path))
    expected, got = fp32.score(QUERIES, CANDIDATES), int8.score(QUERIES, CANDIDATES)
    assert got.shape == expected.shape == (len(QUERIES), len(CANDIDATES))
    # A random tiny model scores every pair alike (logits 0.0130 +- 0.0001), so int8 rounding
    # reorders them: its ranking is checked on the MiniLM reranker (benchmarks/task_latency.py
    # levers: Spearman 0.98 over 256 real pairs). Here: the same logits within 5%.
    np.testing.assert_allclose(got, expected, rtol=0.05)
    assert int8.int8 is not None and int8.int8.path.parent == tmp_path  # cached, reused


def _item(text: str, query: int, rank: int) -> RetrievedItem:
    example = Example(example_id=f"pool|{text[:12]}", input=text, answers=("a",), task="t",
                      split="train", template="p", source_index=0, source_task="t")
    return RetrievedItem(example=example, score=0.0, query_index=query, rank=rank)


class CountingScorer:
    """The real scorer, counting which candidates it was asked to score."""

    def __init__(self, scorer: CrossEncoderScorer) -> None:
        self.scorer = scorer
        self.candidates: list[str] = []

    def score(self, queries, candidates):
        self.candidates.extend(candidates)
        return self.scorer.score(queries, candidates)


def test_scoring_each_distinct_candidate_once_ranks_as_scoring_every_copy(tiny_reranker):
    # R' pooled per query, duplicates kept: candidate i is found by queries i % 4 and (i + 1) % 4.
    items = [_item(text, query, rank) for rank, text in enumerate(CANDIDATES)
             for query in (rank % 4, (rank + 1) % 4)]
    scorer = CountingScorer(CrossEncoderScorer(tiny_reranker, batch_size=8))
    kept = rerank(items, QUERIES, scorer=scorer, size=7)
    assert sorted(scorer.candidates) == sorted(CANDIDATES)  # each distinct text once
    every_copy = scorer.scorer.score(QUERIES, [it.example.input for it in items]).mean(axis=0)
    naive = sorted(range(len(items)), key=lambda i: (-every_copy[i], i))[:7]
    assert [it.example.example_id for it in kept] == [items[i].example.example_id for i in naive]


def _contains(ids: list[int], part: list[int]) -> bool:
    return any(ids[i:i + len(part)] == part for i in range(len(ids) - len(part) + 1))


def test_keep_ends_truncation_keeps_each_instruction_and_fits_the_model(tiny_reranker):
    tokenizer = tiny_reranker.tokenizer
    query = "the cat sat on the mat and looked out of the window " * 6 + "Is this about animals?"
    candidate = "a long and winding review of the film " * 8 + "Is this review positive?"
    [(q, c)] = keep_ends(tokenizer, [(query, candidate)], max_length=CUT)
    fed = tokenizer(q, c)["input_ids"]  # no further truncation needed
    assert len(fed) <= CUT
    for instruction in ("Is this about animals?", "Is this review positive?"):
        assert _contains(fed, tokenizer(instruction, add_special_tokens=False)["input_ids"])
    assert q.startswith("the cat sat") and c.startswith("a long and winding")
    plain = tokenizer(query, candidate, truncation=True, max_length=CUT)["input_ids"]
    assert not _contains(plain, tokenizer("review positive?",
                                          add_special_tokens=False)["input_ids"])


def test_keep_ends_leaves_pairs_that_fit_unchanged_and_the_scorer_uses_it(tiny_reranker):
    pairs = [("short query?", "short candidate."), ("", "yes")]
    assert keep_ends(tiny_reranker.tokenizer, pairs, max_length=CUT) == pairs
    scorer = CrossEncoderScorer(tiny_reranker, truncation="keep-ends")
    long_candidate = "word " * 200 + "Final question?"
    [(_, fed)] = scorer.pairs(["q"], [long_candidate])
    assert fed.endswith("Final question?") and len(fed) < len(long_candidate)
