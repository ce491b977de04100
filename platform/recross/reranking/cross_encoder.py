"""The reranker: a cross-encoder trained on the mined pairs, and batched pair scoring.

A sentence-transformers ``CrossEncoder`` reads "query [SEP] candidate" (lower-cased first under
``reranker.lowercase``, as the reference did). ``reranker.head`` chooses its output: ``one-logit``
trained with binary cross-entropy (mined positive = 1, negative = 0), or ``two-class`` trained
with softmax cross-entropy (the reference's simpletransformers ClassificationModel). A pair's
score (``reranker.score``) is the probability of "positive" (the paper text, METHOD.md step 3) or
the raw "positive" logit (what the reference's retrieve.py averaged). Tuples, not pairs, are
split into train and held-out parts, so the held-out evaluation never sees a query set it was
trained on. A pair longer than ``reranker.max_length`` is cut by the tokenizer (longest-first)
or, under ``reranker.truncation: keep-ends``, in the middle of its longer text
(:func:`keep_ends`), in training and scoring alike. At retrieval the pairs can run through the
reranker's int8 ONNX graph (``models.reranker_runtime``, :func:`int8_pair_graph`).

    >>> report = train_cross_encoder(pairs, base="packaged:all-MiniLM-L6-v2",
    ...                              settings=s.reranker, output_dir=paths.reranker("minilm"))
    >>> scorer = CrossEncoderScorer(load_cross_encoder(report.path), batch_size=64)
    >>> scorer.score(["query a", "query b"], ["candidate 1", "candidate 2", "candidate 3"]).shape
    (2, 3)
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from sentence_transformers.cross_encoder import (
    CrossEncoder,
    CrossEncoderTrainer,
    CrossEncoderTrainingArguments,
)
from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss, CrossEntropyLoss
from transformers import PreTrainedTokenizerBase

from recross.config import RerankerSettings
from recross.errors import DataError, ModelError
from recross.io import atomic_directory, is_complete
from recross.models.building import (
    BUILD_PREFIX,
    PACKAGED_PREFIX,
    TINY_BERT,
    resolve_packaged,
    save_tiny_bert,
)
from recross.models.device import resolve_device
from recross.models.loading import weights_fingerprint
from recross.models.onnx_runtime import EncoderGraph, int8_pair_classifier_graph

log = logging.getLogger(__name__)

METRICS_FILE = "reranker_metrics.json"
PAIR_COLUMNS = ("tuple_id", "query_text", "candidate_text", "label")
PairScore = Literal["probability", "logit"]
PairTruncation = Literal["longest-first", "keep-ends"]
HEAD_LABELS = {"one-logit": 1, "two-class": 2}


def build_cross_encoder(base: str, *, max_length: int, seed: int = 42, device: str = "auto",
                        head: Literal["one-logit", "two-class"] = "one-logit") -> CrossEncoder:
    """An untrained cross-encoder (one logit, or two classes) on top of ``base``.

    ``build:tiny-bert``: a tiny random BERT with the MiniLM tokenizer (tests);
    ``packaged:all-MiniLM-L6-v2``: the packaged MiniLM encoder (small profile); otherwise a local
    directory or a hub id in the local cache (``roberta-base`` in the paper profile). The
    classification head is new and initialised from ``seed``.
    """
    target = str(resolve_device(device))
    if base.startswith(BUILD_PREFIX):
        if base != TINY_BERT:
            raise ModelError(f"unknown reranker base {base!r}. Fix: use {TINY_BERT}, "
                             "packaged:all-MiniLM-L6-v2, a local directory or a hub id.")
        with tempfile.TemporaryDirectory(prefix="recross-tiny-bert-") as tmp:
            return _load(str(save_tiny_bert(Path(tmp))), max_length=max_length, seed=seed,
                         device=target, base=base, num_labels=HEAD_LABELS[head])
    source = str(resolve_packaged(base)) if base.startswith(PACKAGED_PREFIX) else base
    return _load(source, max_length=max_length, seed=seed, device=target, base=base,
                 num_labels=HEAD_LABELS[head])


def _load(source: str, *, max_length: int, seed: int, device: str, base: str,
          num_labels: int) -> CrossEncoder:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            return CrossEncoder(source, num_labels=num_labels, max_length=max_length,
                                device=device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the reranker base {base!r} from {source}: {exc}. "
                             "Fix: use packaged:all-MiniLM-L6-v2, a local checkpoint directory, "
                             "or a hub id already in the local Hugging Face cache.") from exc


def load_cross_encoder(path: Path, *, device: str = "auto",
                       max_length: int | None = None) -> CrossEncoder:
    """A trained reranker written by :func:`train_cross_encoder`."""
    if not is_complete(path):
        raise ModelError(f"no complete reranker at {path}. Fix: train it first "
                         "(recross reranker asset / train_cross_encoder).")
    return CrossEncoder(str(path), max_length=max_length, device=str(resolve_device(device)),
                        local_files_only=True)


def pair_texts(queries: Sequence[str], candidates: Sequence[str], *,
               lowercase: bool) -> list[tuple[str, str]]:
    """The cross-encoder's input pairs, lower-cased when the reranker was trained so."""
    if lowercase:
        return [(q.lower(), c.lower()) for q, c in zip(queries, candidates)]
    return list(zip(queries, candidates))


def keep_ends(tokenizer: PreTrainedTokenizerBase, pairs: Sequence[tuple[str, str]], *,
              max_length: int) -> list[tuple[str, str]]:
    """Pairs cut to ``max_length`` tokens (special tokens included) from the middle of each text.

    A prompted input holds its instruction at its start or its end ("... Question: is this
    review positive?"); the tokenizer's longest-first truncation cuts the longer text's end,
    which is where a long passage's question sits. Here the longer text gives way first, as
    there, but loses its middle: it keeps whole words from its start and its end. Texts are cut
    as strings (at word boundaries), so training and scoring feed the cross-encoder the same
    way.
    """
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=True)
    texts = [text for pair in pairs for text in pair]
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    fitted: list[str] = []
    for i in range(0, len(texts), 2):
        lengths = [len(encoded["input_ids"][i]), len(encoded["input_ids"][i + 1])]
        keep = _pair_budget(lengths, budget)
        fitted.extend(_middle_cut(texts[j], encoded["offset_mapping"][j], encoded.word_ids(j),
                                  keep[j - i]) for j in (i, i + 1))
    return list(zip(fitted[0::2], fitted[1::2]))


def _pair_budget(lengths: list[int], budget: int) -> list[int]:
    """Tokens each text of a pair keeps: the shorter one whole when it fits in half."""
    if sum(lengths) <= budget:
        return lengths
    short = min(lengths)
    if short <= budget // 2:
        return [n if n == short else budget - short for n in lengths]
    return [budget - budget // 2, budget // 2]


def _middle_cut(text: str, offsets: Sequence[tuple[int, int]], words: Sequence[int | None],
                keep: int) -> str:
    """``text`` with its middle tokens dropped so that at most ``keep`` remain, cut between
    words (a word split by the cut is dropped whole)."""
    n = len(offsets)
    if n <= keep:
        return text
    tail = keep // 2
    head, start = keep - tail, n - tail
    while 0 < head < n and words[head] == words[head - 1]:
        head -= 1
    while 0 < start < n and words[start] == words[start - 1]:
        start += 1
    left = text[:offsets[head - 1][1]] if head else ""
    right = text[offsets[start][0]:] if start < n else ""
    return f"{left} {right}".strip()


def model_pairs(model: CrossEncoder, queries: Sequence[str], candidates: Sequence[str], *,
                lowercase: bool, truncation: PairTruncation) -> list[tuple[str, str]]:
    """The pairs as ``model`` reads them: lower-cased and truncated as the settings say."""
    pairs = pair_texts(queries, candidates, lowercase=lowercase)
    if truncation == "keep-ends":
        return keep_ends(model.tokenizer, pairs, max_length=model.max_seq_length)
    return pairs


def _scores_of(logits: np.ndarray, score: PairScore) -> np.ndarray:
    """One score per row of logits: the "positive" probability or raw logit, for either head."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim == 2 and logits.shape[1] == 2:  # two-class head: column 1 is "positive"
        if score == "logit":
            return logits[:, 1]
        return torch.softmax(torch.from_numpy(logits), dim=1)[:, 1].numpy()
    logits = logits.reshape(len(logits))
    return logits if score == "logit" else torch.sigmoid(torch.from_numpy(logits)).numpy()


def pair_scores(model: CrossEncoder, pairs: Sequence[tuple[str, str]], *, batch_size: int,
                score: PairScore) -> np.ndarray:
    """One score per pair: the "positive" probability or raw logit, for either head.
    (sentence-transformers batches the pairs sorted by length.)"""
    if not pairs:
        return np.zeros(0, dtype=np.float32)
    return _scores_of(model.predict(list(pairs), batch_size=batch_size, show_progress_bar=False,
                                    activation_fn=torch.nn.Identity(), convert_to_numpy=True),
                      score)


def int8_pair_graph(model: CrossEncoder, cache_dir: Path) -> EncoderGraph:
    """The reranker's int8 ONNX graph (exported once per weights and max length)."""
    return int8_pair_classifier_graph(model.model, fingerprint=weights_fingerprint(model.model),
                                      max_length=model.max_seq_length, cache_dir=cache_dir)


class CrossEncoderScorer:
    """Scores (query, candidate) pairs in batches: the :class:`recross.retrieval.PairScorer`.

    ``int8``: run the pairs through the reranker's int8 ONNX graph (``models.reranker_runtime``)
    instead of torch, in batches sorted by token length.
    """

    def __init__(self, model: CrossEncoder, *, batch_size: int = 64, lowercase: bool = False,
                 score: PairScore = "probability", truncation: PairTruncation = "longest-first",
                 int8: EncoderGraph | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self.lowercase = lowercase
        self.score_kind = score
        self.truncation = truncation
        self.int8 = int8

    def pairs(self, queries: Sequence[str], candidates: Sequence[str]) -> list[tuple[str, str]]:
        """Every (query, candidate) pair, query-major, as the model reads it."""
        return model_pairs(self.model, [q for q in queries for _ in candidates],
                           [c for _ in queries for c in candidates], lowercase=self.lowercase,
                           truncation=self.truncation)

    def score(self, queries: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """Each pair's score (probability or logit of "helps"), ``(len(queries), len(candidates))``."""
        pairs = self.pairs(queries, candidates)
        if self.int8 is None:
            scores = pair_scores(self.model, pairs, batch_size=self.batch_size,
                                 score=self.score_kind)
        elif pairs:
            tokens = self.model.tokenizer([q for q, _ in pairs], [c for _, c in pairs],
                                          truncation=True, max_length=self.model.max_seq_length,
                                          return_token_type_ids=True)
            scores = _scores_of(self.int8.pair_logits(
                tokens["input_ids"], tokens["token_type_ids"],
                pad_id=self.model.tokenizer.pad_token_id, batch_size=self.batch_size),
                self.score_kind)
        else:
            scores = np.zeros(0, dtype=np.float32)
        return scores.reshape(len(queries), len(candidates))


@dataclass(frozen=True)
class RerankerReport:
    """Where the trained reranker is and how it did on held-out tuples (before and after)."""

    path: Path
    base: str
    train_tuples: int
    heldout_tuples: int
    train_pairs: int
    heldout_pairs: int
    seconds: float
    metrics: dict[str, float]


def split_tuples(tuple_ids: Sequence[int], *, heldout_fraction: float,
                 seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of tuple ids: at least one tuple on each side."""
    unique = sorted(set(tuple_ids))
    if len(unique) < 2:
        raise DataError(f"the mined pairs hold {len(unique)} tuple(s); a held-out evaluation "
                        "needs at least 2. Fix: raise mining.n_tuples.")
    shuffled = random.Random(seed).sample(unique, len(unique))
    n_heldout = min(len(unique) - 1, max(1, round(heldout_fraction * len(unique))))
    return sorted(shuffled[n_heldout:]), sorted(shuffled[:n_heldout])


def ranking_metrics(frame: pd.DataFrame, scores: np.ndarray) -> dict[str, float]:
    """``pairwise_accuracy``: share of (positive, negative) candidate pairs of the same query
    (same tuple) where the positive scores higher (ties count half); ``auc``: the same over all
    held-out pairs at once; chance is 0.5 for both."""
    data = frame.assign(score=np.asarray(scores, dtype=np.float64))
    wins: list[float] = []
    for _, group in data.groupby(["tuple_id", "query_text"], sort=False):
        pos = group.loc[group.label == 1, "score"].to_numpy()
        neg = group.loc[group.label == 0, "score"].to_numpy()
        if len(pos) and len(neg):
            wins.append(win_rate(pos, neg))
    pos_all = data.loc[data.label == 1, "score"].to_numpy()
    neg_all = data.loc[data.label == 0, "score"].to_numpy()
    return {"pairwise_accuracy": float(np.mean(wins)) if wins else float("nan"),
            "auc": win_rate(pos_all, neg_all) if len(pos_all) and len(neg_all) else float("nan")}


def win_rate(pos: np.ndarray, neg: np.ndarray) -> float:
    """Share of (positive, negative) score pairs ranked the right way, ties half: AUC."""
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def train_cross_encoder(pairs: pd.DataFrame, *, base: str, settings: RerankerSettings,
                        output_dir: Path, device: str = "auto",
                        progress: bool = True) -> RerankerReport:
    """Train the reranker on mined ``pairs`` (columns ``tuple_id, query_text, candidate_text,
    label``) and publish it atomically at ``output_dir`` with its held-out metrics."""
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise DataError(f"the mined pairs lack the columns {missing}; expected {list(PAIR_COLUMNS)}"
                        ". Fix: pass the table written by mine_distant_supervision.")
    train_ids, heldout_ids = split_tuples(pairs["tuple_id"].tolist(),
                                          heldout_fraction=settings.heldout_fraction,
                                          seed=settings.seed)
    train = pairs[pairs.tuple_id.isin(train_ids)].reset_index(drop=True)
    heldout = pairs[pairs.tuple_id.isin(heldout_ids)].reset_index(drop=True)
    model = build_cross_encoder(base, max_length=settings.max_length, seed=settings.seed,
                                device=device, head=settings.head)
    heldout_pairs = model_pairs(model, heldout.query_text.tolist(),
                                heldout.candidate_text.tolist(), lowercase=settings.lowercase,
                                truncation=settings.truncation)

    def evaluate() -> dict[str, float]:
        scores = pair_scores(model, heldout_pairs, batch_size=settings.score_batch_size,
                             score=settings.score)
        return ranking_metrics(heldout, scores)

    before = evaluate()
    started = time.perf_counter()
    fit_cross_encoder(model, train, settings=settings, progress=progress)
    seconds = time.perf_counter() - started
    after = evaluate()
    metrics = {**{f"heldout_{k}_before": v for k, v in before.items()},
               **{f"heldout_{k}": v for k, v in after.items()},
               "train_seconds": seconds}
    log.info("reranker %s: held-out pairwise accuracy %.3f (before training %.3f), AUC %.3f "
             "(%.3f); %d train / %d held-out tuples, %.1f s", base, after["pairwise_accuracy"],
             before["pairwise_accuracy"], after["auc"], before["auc"], len(train_ids),
             len(heldout_ids), seconds)
    report = RerankerReport(path=output_dir, base=base, train_tuples=len(train_ids),
                            heldout_tuples=len(heldout_ids), train_pairs=len(train),
                            heldout_pairs=len(heldout), seconds=seconds, metrics=metrics)
    with atomic_directory(output_dir) as staging:
        model.save_pretrained(str(staging))
        (staging / METRICS_FILE).write_text(json.dumps(
            {**metrics, "base": base, "train_tuples": train_ids, "heldout_tuples": heldout_ids,
             "settings": settings.model_dump(mode="json")}, indent=2), encoding="utf-8")
    return report


def fit_cross_encoder(model: CrossEncoder, train: pd.DataFrame, *, settings: RerankerSettings,
                      progress: bool) -> None:
    """Train ``model`` in place on mined pairs (``query_text, candidate_text, label``); the
    caller chooses the split (benchmarks/reranker_curve.py holds out whole query tasks)."""
    from datasets import Dataset  # the trainer's input type; imported only when training

    pairs = model_pairs(model, train.query_text.tolist(), train.candidate_text.tolist(),
                        lowercase=settings.lowercase, truncation=settings.truncation)
    two_class = settings.head == "two-class"
    dataset = Dataset.from_dict({"query": [q for q, _ in pairs], "candidate": [c for _, c in pairs],
                                 "label": (train.label.astype(int) if two_class
                                           else train.label.astype(float)).tolist()})
    loss = CrossEntropyLoss(model) if two_class else BinaryCrossEntropyLoss(model)
    with tempfile.TemporaryDirectory(prefix="recross-reranker-") as scratch:
        args = CrossEncoderTrainingArguments(
            output_dir=scratch, num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size, learning_rate=settings.learning_rate,
            warmup_steps=settings.warmup_steps, seed=settings.seed, data_seed=settings.seed,
            save_strategy="no", report_to="none", logging_steps=50, disable_tqdm=not progress,
            use_cpu=model.device.type == "cpu", dataloader_num_workers=0)
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
        trainer.train()
    model.eval()
