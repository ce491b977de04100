"""The paired bootstrap on hand-made per-example scores."""

import numpy as np
import pytest
from recross.evaluation.intervals import PairedDelta, paired_bootstrap


def test_identical_systems_give_an_interval_around_zero():
    rng = np.random.default_rng(1)
    scores = [rng.integers(0, 2, size=(3, 200)).astype(float) * 100]
    found = paired_bootstrap(scores, scores, resamples=500)
    assert found.delta == 0.0 and found.low <= 0.0 <= found.high and found.holds_zero


def test_noisy_systems_without_a_shift_hold_zero():
    rng = np.random.default_rng(2)
    a = [rng.integers(0, 2, size=(2, 200)).astype(float) * 100]
    b = [rng.integers(0, 2, size=(2, 200)).astype(float) * 100]
    found = paired_bootstrap(a, b, resamples=1000)
    assert found.low < 0.0 < found.high and found.holds_zero


def test_a_clear_shift_excludes_zero():
    rng = np.random.default_rng(3)
    base = rng.normal(2.0, 0.5, size=(3, 300))
    better = base - 0.12 + rng.normal(0.0, 0.05, size=base.shape)  # NLL lower by 0.12 nats
    found = paired_bootstrap([better], [base], resamples=1000)
    assert found.delta == pytest.approx(-0.12, abs=0.01)
    assert found.high < 0 and not found.holds_zero
    assert str(found).startswith("-0.11") and str(found).count("-") == 3


def test_a_baseline_scored_once_is_paired_with_every_seed_and_nan_is_left_out():
    system = np.array([[1.0, 1.0, np.nan], [1.0, 0.0, np.nan]])
    baseline = np.array([[0.0, 0.0, np.nan]])
    assert paired_bootstrap([system], [baseline], resamples=50).delta == 0.75


def test_unpaired_inputs_are_refused():
    with pytest.raises(ValueError, match="not paired"):
        paired_bootstrap([np.zeros((2, 5))], [np.zeros((2, 4))])


def test_all_at_mean_averages_tasks_within_resampled_rounds():
    a = [np.full((2, 10), 60.0), np.full((2, 20), 40.0)]
    b = [np.full((2, 10), 50.0), np.full((2, 20), 40.0)]
    assert paired_bootstrap(a, b, resamples=100) == PairedDelta(5.0, 5.0, 5.0)


def test_a_narrow_interval_is_written_with_enough_decimals_to_tell_its_ends_apart():
    assert str(PairedDelta(-0.0707, -0.0740, -0.0664)) == "-0.071 [-0.074, -0.066]"
    assert str(PairedDelta(1.5, -0.4, 3.2)) == "+1.50 [-0.40, +3.20]"
