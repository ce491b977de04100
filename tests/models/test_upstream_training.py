import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from recross.models import build_upstream_model, load_seq2seq, mean_loss
from recross.models.upstream_training import training_mixture


def _loss(bundle, examples, settings):
    return mean_loss(bundle, examples, batch_size=8,
                     max_input_length=settings.models.max_input_length,
                     max_output_length=settings.models.max_output_length)


def test_upstream_training_reduces_loss_on_a_fixed_batch(tiny_settings, tiny_pool, tmp_path):
    batch = tiny_pool.examples[::9][:8]
    before = _loss(load_seq2seq("build:tiny-bart", device="cpu"), batch, tiny_settings)
    result = build_upstream_model(tiny_settings, tiny_pool, out_dir=tmp_path / "m", progress=False)
    after = _loss(load_seq2seq(result.out_dir, device="cpu"), batch, tiny_settings)
    assert result.trained and result.steps == tiny_settings.upstream_training.max_steps
    assert after < before - 0.1
    assert result.loss_curve[-1]["loss"] < result.loss_curve[0]["loss"]


def test_a_complete_build_with_the_same_settings_is_reused(tiny_settings, tiny_pool, tmp_path):
    first = build_upstream_model(tiny_settings, tiny_pool, out_dir=tmp_path / "m", progress=False)
    again = build_upstream_model(tiny_settings, tiny_pool, out_dir=tmp_path / "m", progress=False)
    assert first.trained and not again.trained
    assert again.loss_curve == first.loss_curve


def test_mixture_is_shuffled_across_tasks_and_leaves_holdout_tasks_out(tiny_pool):
    mixture = training_mixture(tiny_pool, size=40, seed=0, exclude_tasks=["samsum"])
    assert len(mixture) == 40
    assert "samsum" not in {e.task for e in mixture}
    assert len({e.task for e in mixture[:10]}) > 2  # not task by task


_TRAIN_SCRIPT = textwrap.dedent("""
    import sys, torch
    from pathlib import Path
    from recross.config import load_settings
    from recross.data import load_upstream_pool, resolve_data_dir
    from recross.models import build_upstream_model
    torch.set_num_threads(1)
    home, out = sys.argv[1], sys.argv[2]
    s = load_settings("tiny", overrides={"home": home, "upstream_training": {
        "max_steps": 30, "save_steps": 10}}, environ={})
    pool = load_upstream_pool(resolve_data_dir(), tasks=s.data.upstream_tasks,
                              cap_per_task=s.data.upstream_cap_per_task)
    build_upstream_model(s, pool, out_dir=Path(out), progress=False)
""")


@pytest.mark.slow
def test_training_resumes_from_its_last_checkpoint_after_sigkill(tiny_pool, tmp_path):
    from recross.config import load_settings
    from recross.paths import StatePaths

    home, out = tmp_path / "home", tmp_path / "model"
    settings = load_settings("tiny", overrides={"home": str(home), "upstream_training": {
        "max_steps": 30, "save_steps": 10}}, environ={})
    checkpoints = StatePaths(home).training_checkpoints(settings.models.upstream_model)
    process = subprocess.Popen([sys.executable, "-c", _TRAIN_SCRIPT, str(home), str(out)])
    state_file = checkpoints / "checkpoint-10" / "trainer_state.json"
    deadline = time.monotonic() + 120
    while not state_file.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert state_file.is_file() and not out.exists(), "the run must be killed mid-training"
    killed_at = max(int(p.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*")
                    if (p / "trainer_state.json").is_file())
    logged_before = [e for e in json.loads((checkpoints / f"checkpoint-{killed_at}" /
                                            "trainer_state.json").read_text())["log_history"]
                     if "loss" in e]

    result = build_upstream_model(settings, tiny_pool, out_dir=out, progress=False)

    assert result.steps == 30
    resumed = {e["step"]: e["loss"] for e in result.loss_curve}
    assert all(resumed[e["step"]] == e["loss"] for e in logged_before)  # history came from disk
    assert (out / ".complete").is_file()


def _extendable(settings, steps, **training):
    return settings.model_copy(update={"upstream_training": settings.upstream_training.model_copy(
        update={"lr_schedule": "constant", "warmup_steps": 2, "max_steps": steps, **training})})


@pytest.fixture
def steps_run(monkeypatch):
    """Counts the optimizer steps each build really runs (not the ones loaded from a checkpoint)."""
    from recross.models import upstream_training
    from transformers import TrainerCallback

    counted: list[int] = []

    class Count(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            counted[-1] += 1

    def counting_trainer(*args, **kwargs):
        counted.append(0)
        trainer = make_trainer(*args, **kwargs)
        trainer.add_callback(Count())
        return trainer

    make_trainer = upstream_training.make_trainer
    monkeypatch.setattr(upstream_training, "make_trainer", counting_trainer)
    return counted


def test_mixture_and_length_blocks_of_a_larger_budget_start_with_the_smaller_one(tiny_pool):
    from recross.models.upstream_training import LENGTH_BLOCK_BATCHES, in_length_blocks

    assert training_mixture(tiny_pool, size=100, seed=3) == \
        training_mixture(tiny_pool, size=250, seed=3)[:100]
    block = LENGTH_BLOCK_BATCHES * 2
    features = [{"input_ids": [1] * (i % 7 + 1), "labels": [i]} for i in range(3 * block)]
    one, three = (in_length_blocks(features[:n], batch_size=2, seed=0) for n in (block, 3 * block))
    assert three[:block] == one and sorted(map(str, three)) == sorted(map(str, features))
    batch_lengths = [{len(f["input_ids"]) for f in one[i:i + 2]} for i in range(0, block, 2)]
    assert max(len(lengths) for lengths in batch_lengths) <= 2  # neighbours in length


def test_a_larger_budget_extends_the_smaller_one_under_a_constant_schedule(
        tiny_settings, tiny_pool, tmp_path, steps_run):
    small = build_upstream_model(_extendable(tiny_settings, 10), tiny_pool, out_dir=tmp_path / "a",
                                 progress=False)
    extended = build_upstream_model(_extendable(tiny_settings, 20), tiny_pool,
                                    out_dir=tmp_path / "b", progress=False)
    elsewhere = _extendable(tiny_settings, 20).model_copy(update={"home": tmp_path / "other"})
    scratch = build_upstream_model(elsewhere, tiny_pool, out_dir=tmp_path / "c", progress=False)
    assert steps_run == [10, 10, 20]  # the extension ran only the new steps
    assert (small.steps, extended.steps) == (10, 20)
    assert extended.loss_curve[:len(small.loss_curve)] == small.loss_curve  # history from disk
    # the same model as 20 steps from scratch: same batches in the same order, same schedule
    assert [e["loss"] for e in scratch.loss_curve] == pytest.approx(
        [e["loss"] for e in extended.loss_curve], abs=1e-4)


def test_a_changed_setting_besides_the_budget_trains_from_the_start(
        tiny_settings, tiny_pool, tmp_path, steps_run):
    build_upstream_model(_extendable(tiny_settings, 10), tiny_pool, out_dir=tmp_path / "a",
                         progress=False)
    build_upstream_model(_extendable(tiny_settings, 20, learning_rate=5e-4), tiny_pool,
                         out_dir=tmp_path / "b", progress=False)
    assert steps_run == [10, 20]


def test_a_new_budget_of_a_linear_schedule_restarts_and_says_why(
        tiny_settings, tiny_pool, tmp_path, steps_run, caplog):
    linear = tiny_settings.upstream_training
    build_upstream_model(tiny_settings.model_copy(update={"upstream_training": linear.model_copy(
        update={"max_steps": 10})}), tiny_pool, out_dir=tmp_path / "a", progress=False)
    with caplog.at_level("WARNING", logger="recross.models.upstream_training"):
        build_upstream_model(tiny_settings, tiny_pool, out_dir=tmp_path / "b", progress=False)
    assert steps_run == [10, tiny_settings.upstream_training.max_steps]
    assert "restarts from step 0" in caplog.text and "lr_schedule=constant" in caplog.text


def test_a_constant_schedule_needs_warmup_in_steps():
    from recross.config import load_settings
    from recross.errors import ConfigError

    with pytest.raises(ConfigError, match="warmup_steps"):
        load_settings("tiny", overrides={"upstream_training": {"lr_schedule": "constant"}},
                      environ={})


def test_training_to_a_log_prints_step_lines_not_tqdm_redraws(tiny_settings, tiny_pool, tmp_path,
                                                              capsys):
    """stderr is not a terminal here (captured), as in `make run > log`: lines with the steps
    done, the rate and an ETA replace tqdm's carriage-return redraws and the loss dicts."""
    build_upstream_model(tiny_settings, tiny_pool, out_dir=tmp_path / "m", progress=True)
    err = capsys.readouterr().err
    steps = tiny_settings.upstream_training.max_steps
    assert f"train: {steps}/{steps} steps" in err and "ETA" in err and "loss" in err
    assert f"/{steps} [" not in err and "{'loss'" not in err  # no tqdm bar, no loss dicts
