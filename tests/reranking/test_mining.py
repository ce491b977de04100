"""Algorithm 1 on the tiny pool with the tiny random BART and a real Edge index."""

from __future__ import annotations

import json

import pytest
from mining_helpers import MINED_TUPLES, TINY
from pandas.testing import assert_frame_equal
from recross.errors import ConfigError
from recross.models import weights_fingerprint
from recross.reranking import read_mined


def test_mined_positives_lower_the_heldout_loss_below_the_untuned_model(mined):
    """Positives are the lowest-loss candidates by construction; what can fail is whether
    fine-tuning on them helped at all: their held-out loss must sit below M's own (base) loss,
    and each candidate's score must be the mean of its per-round group losses."""
    table = mined.table
    assert sorted(table.tuple_id.unique()) == list(range(MINED_TUPLES))
    for _, tuple_rows in table.groupby("tuple_id"):
        candidates = tuple_rows.drop_duplicates("candidate_id")
        positives = candidates[candidates.label == 1]
        assert len(positives) == len(candidates) - len(positives) == TINY.mining.positives
        assert (positives.candidate_loss < positives.base_loss).all()
        for row in candidates.itertuples():
            assert row.candidate_loss == pytest.approx(sum(row.candidate_losses)
                                                       / len(row.candidate_losses))


def test_pairs_every_query_with_every_positive_and_negative(mined):
    settings = TINY.mining
    for _, tuple_rows in mined.table.groupby("tuple_id"):
        assert len(tuple_rows) == settings.query_size * 2 * settings.positives
        assert tuple_rows.query_id.nunique() == settings.query_size
        assert all(len(losses) == settings.rounds for losses in tuple_rows.candidate_losses)
        assert tuple_rows.base_loss.nunique() == 1


def test_pretend_query_tasks_are_upstream_and_same_task_candidates_are_absent(mined, tiny_pool):
    table = mined.table
    assert set(table.query_task) <= set(tiny_pool.tasks)
    assert (table.candidate_task != table.query_task).all()
    for _, tuple_rows in table.groupby("tuple_id"):
        assert tuple_rows.query_task.nunique() == 1


def test_resumed_run_equals_an_uninterrupted_one(mined, tiny_dagger, tiny_bundle, tmp_path,
                                                 mine_into):
    first = mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=2)
    assert (first.mined, first.resumed) == (2, 0)
    # A run stopped after two tuples keeps them; asking for three mines only the third.
    resumed = mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=3)
    assert (resumed.mined, resumed.resumed) == (1, 2)
    expected = mined.table[mined.table.tuple_id < 3].drop(columns="tuple_seconds")
    got = resumed.table.drop(columns="tuple_seconds")
    assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True),
                       check_exact=True)
    assert_frame_equal(read_mined(tmp_path), resumed.table)


def test_resuming_with_other_settings_is_refused(tiny_dagger, tiny_bundle, tmp_path, mine_into):
    mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=1)
    with pytest.raises(ConfigError, match=r"other settings \(differing: settings.rounds\)"):
        mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=1, rounds=3)


def test_mining_leaves_the_upstream_model_untouched(tiny_dagger, tiny_bundle, tmp_path,
                                                    mine_into):
    before = weights_fingerprint(tiny_bundle.model)
    mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=1)
    assert weights_fingerprint(tiny_bundle.model) == before


@pytest.mark.parametrize("overrides, message", [
    ({"positives": 7}, "2W <= mining.candidates"),
    ({"groups": 13}, "some groups would be empty"),
    ({"heldout_size": 50}, "no upstream task can serve as a pretend query task"),
])
def test_impossible_mining_sizes_fail_before_any_work(tiny_dagger, tiny_bundle, tmp_path, mine_into,
                                                      overrides, message):
    with pytest.raises(ConfigError, match=message):
        mine_into(tiny_dagger, tiny_bundle, tmp_path, **overrides)


def test_a_moved_state_folder_resumes_its_tuples(tiny_dagger, tiny_bundle, tmp_path, mine_into):
    from recross.reranking.mining import MANIFEST_FILE

    mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=1)
    manifest = tmp_path / MANIFEST_FILE
    assert str(tmp_path) not in manifest.read_text(encoding="utf-8")
    # Older versions also recorded M's absolute path: such a run still resumes.
    stored = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**stored, "upstream_source": "/old/home/models/upstream"}),
                        encoding="utf-8")
    resumed = mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=2)
    assert (resumed.mined, resumed.resumed) == (1, 1)


def test_excluded_tasks_are_never_query_tasks_nor_candidates(tiny_dagger, tiny_bundle, tmp_path,
                                                             mine_into):
    """The pretend-targets are held out of mining, so the reranker never learns from them."""
    excluded = ["glue-mrpc", "cos_e-v1.11"]
    run = mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=4, exclude_tasks=excluded)
    assert not set(run.table.query_task) & set(excluded)
    assert not set(run.table.candidate_task) & set(excluded)


def test_mining_excludes_the_pretend_targets_unless_told_otherwise() -> None:
    from recross.config import load_settings
    from recross.pipeline.reranker_training import mining_settings

    small = load_settings("small", environ={})
    assert mining_settings(small).exclude_tasks == small.upstream_training.holdout_tasks
    explicit = load_settings("small", overrides={"mining": {"exclude_tasks": []}}, environ={})
    assert mining_settings(explicit).exclude_tasks == []
    assert mining_settings(load_settings("paper", environ={})).exclude_tasks == []


def test_gradient_scoring_mines_one_first_order_loss_per_candidate(tiny_dagger, tiny_bundle,
                                                                   tmp_path, mine_into):
    run = mine_into(tiny_dagger, tiny_bundle, tmp_path, n_tuples=2, scoring="gradient")
    for _, tuple_rows in run.table.groupby("tuple_id"):
        assert all(len(losses) == 1 for losses in tuple_rows.candidate_losses)
        assert (tuple_rows[tuple_rows.label == 1].candidate_loss.max()
                <= tuple_rows[tuple_rows.label == 0].candidate_loss.min())
    again = mine_into(tiny_dagger, tiny_bundle, tmp_path / "again", n_tuples=2,
                      scoring="gradient")
    assert_frame_equal(run.table.drop(columns="tuple_seconds"),
                       again.table.drop(columns="tuple_seconds"))


def test_gradient_scores_match_one_plain_gradient_step_on_each_candidate(tiny_pool, tiny_bundle):
    """The forward-only estimate equals what it stands for: Hq's loss after one SGD step on x."""
    import torch
    from mining_helpers import LENGTHS, one_torch_thread
    from recross.models import mean_loss
    from recross.reranking.mining import _first_order_losses, _mean_loss_gradient, _Tuple

    lr = 1e-3
    examples = tiny_pool.examples
    drawn = _Tuple(task="t", queries=[], heldout=examples[:6], candidates=examples[6:10])
    settings = TINY.mining.model_copy(update={"scoring": "gradient", "finetune_learning_rate": lr})
    with one_torch_thread():
        base = mean_loss(tiny_bundle, drawn.heldout, batch_size=8, **LENGTHS)
        predicted = _first_order_losses(tiny_bundle, drawn, base_loss=base, settings=settings,
                                        lengths=LENGTHS)
        for candidate, estimate in zip(drawn.candidates, predicted):
            stepped = tiny_bundle.copy()
            params = list(stepped.model.parameters())
            grads = _mean_loss_gradient(stepped, [candidate], params=params, lengths=LENGTHS,
                                        batch_size=8)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(g, alpha=lr)
            actual = mean_loss(stepped, drawn.heldout, batch_size=8, **LENGTHS)
            assert abs(actual - base) > 1e-4  # a step that moves the loss measurably
            assert estimate - base == pytest.approx(actual - base, rel=0.1)
