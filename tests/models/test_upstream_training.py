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
