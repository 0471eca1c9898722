"""A long run says where it is: to the terminal of whoever runs it, never into a notebook."""
import re
from types import SimpleNamespace

import pytest

from distill_utils import trainer
from distill_utils.book import pipeline
from distill_utils.modes import run_label
from distill_utils.record import progress


@pytest.fixture
def told(tmp_path, monkeypatch):
    """The progress file a kernel would write to, and a fresh tally of runs."""
    path = tmp_path / "progress.log"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(path))
    monkeypatch.setattr(progress, "TALLY", progress.RunTally())
    return lambda: path.read_text().splitlines() if path.exists() else []


def test_runs_are_told_with_the_runs_done_trained_and_reused(told):
    label = run_label("all-MiniLM-L6-v2", "kd", 1)
    progress.run_reused(run_label("all-MiniLM-L6-v2", "plain", 1))
    progress.run_started(label)
    progress.run_trained(label, 90.0)
    lines = told()
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in lines)  # the time of day first
    assert lines[0].endswith("reused  all-MiniLM-L6-v2 (plain, seed 1) from the run cache "
                             "[1 run done here: 0 trained, 1 reused]")
    assert lines[1].endswith("training all-MiniLM-L6-v2 (kd, seed 1) [1 run done here: 0 trained, 1 reused]")
    assert lines[2].endswith("trained all-MiniLM-L6-v2 (kd, seed 1) in 1.5 min [2 runs done here: 1 trained, 1 reused]")


def test_each_epoch_tells_the_time_per_epoch_and_the_time_left(told, monkeypatch):
    clock = iter([0.0, 100.0, 220.0])  # made, training begins, epoch 2 ends
    monkeypatch.setattr(trainer.time, "perf_counter", lambda: next(clock))
    callback = trainer.EpochProgress("s (kd, seed 42)")  # the lesson logs; this module tells
    callback.on_train_begin(None, None, None)
    callback.on_epoch_end(SimpleNamespace(num_train_epochs=6.0), SimpleNamespace(epoch=2.0, num_train_epochs=6),
                          None)
    assert told()[0].endswith("  s (kd, seed 42): epoch 2 of 6, 1.0 min per epoch, about 4.0 min left")


def test_nothing_is_told_without_a_listener_nor_by_another_process(tmp_path, monkeypatch, capfd):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    progress.tell("to nobody")  # Jupyter, or papermill run by hand: nothing, anywhere
    assert capfd.readouterr() == ("", "")
    # a page that shows its logs (a handler on the root logger) never sees progress either
    assert not trainer.PROGRESS.propagate
    assert sum(isinstance(h, progress.ToWhoeverRunsThis) for h in trainer.PROGRESS.handlers) == 1
    monkeypatch.setenv(progress.PROGRESS_ENV, progress.TO_STDERR)  # the command-line tools
    progress.tell("to the terminal")
    assert capfd.readouterr().err.endswith(" to the terminal\n")
    monkeypatch.setenv("RANK", "1")  # accelerate's other processes train the same run
    progress.tell("twice")
    assert capfd.readouterr() == ("", "")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv(progress.PROGRESS_ENV, str(tmp_path))  # a folder: telling fails, training goes on
    progress.tell("unwritable")


def test_the_pipeline_echoes_what_the_kernel_tells_and_cleans_up(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    echoed = []
    with pipeline.following_progress(echoed.append, poll_s=0.01) as path:
        assert progress.PROGRESS_ENV in pipeline.os.environ  # the kernel inherits it
        progress.tell("training s (kd, seed 42)")
        with open(path, "a") as stream:  # a line written in two parts is echoed once, whole
            stream.write("half a ")
            stream.flush()
            stream.write("line\n")
    assert len(echoed) == 2 and echoed[0].endswith(" training s (kd, seed 42)") and echoed[1] == "half a line"
    assert progress.PROGRESS_ENV not in pipeline.os.environ
    assert not pipeline.Path(path).exists()
