"""Progress on a stream that is not a terminal (a log, CI, `make run > file`): whole lines."""

from __future__ import annotations

from recross.progress import ProgressLines, progress_bar


def test_a_bar_writes_whole_lines_to_a_log(capsys):
    for _ in progress_bar(range(3), enabled=True, desc="encode", unit="batch"):
        pass
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines()[-1].startswith("encode: 100%") and "3/3" in err


def test_step_lines_say_what_is_done_the_rate_and_an_eta(capsys):
    lines = ProgressLines("train", 10, "steps", done=2)
    lines.update(5)  # within 30 s of the start: quiet
    assert capsys.readouterr().err == ""
    lines.update(10, "loss 1.234")  # the end is always shown
    line = capsys.readouterr().err.strip()
    assert line.startswith("train: 10/10 steps,") and "ETA 0.0 min" in line
    assert line.endswith("loss 1.234")
