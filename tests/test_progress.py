"""Progress: stages and bars reach an installed reporter; without one nothing is shown."""

import contextlib
import io
import re

import numpy as np
from safetensors.numpy import save_file

from weightbridge._convert import convert
from weightbridge._progress import TerminalReporter, reporting, stage, steps
from weightbridge._readers import TensorSignature, save_signature


class Recorder:
    def __init__(self):
        self.events = []

    def start(self, name):
        self.events.append(("start", name))

    def finish(self, name):
        self.events.append(("finish", name))

    @contextlib.contextmanager
    def bar(self, description, total):
        self.events.append(("bar", description, total))
        yield lambda n: self.events.append(("advance", n))


def test_convert_reports_its_stages_in_order(tmp_path):
    save_file({"fc.weight": np.ones((2, 3), np.float32)}, tmp_path / "their.safetensors")
    save_signature({"dense.weight": TensorSignature((2, 3), np.float32)}, tmp_path / "my.json")
    recorder = Recorder()

    with reporting(recorder):
        convert(tmp_path / "their.safetensors", tmp_path / "my.json", tmp_path / "out.safetensors")

    their, my, out = tmp_path / "their.safetensors", tmp_path / "my.json", tmp_path / "out.safetensors"
    assert recorder.events == [("start", f"reading {their}"), ("finish", f"reading {their}"),
                               ("start", f"reading {my}"), ("finish", f"reading {my}"),
                               ("start", "matching"),
                               ("start", "pairing modules"), ("finish", "pairing modules"),
                               ("start", "matching templates"), ("finish", "matching templates"),
                               ("finish", "matching"),
                               ("start", f"writing {out}"), ("finish", f"writing {out}")]


def test_steps_advance_a_bar_and_cost_nothing_without_a_reporter():
    assert list(steps(range(3), "solving")) == [0, 1, 2]
    recorder = Recorder()
    with reporting(recorder), stage("matching"):
        assert list(steps([10, 20], "solving")) == [10, 20]
    assert recorder.events == [("start", "matching"), ("bar", "solving", 2), ("advance", 1), ("advance", 1),
                               ("finish", "matching")]


def test_terminal_reporter_prints_each_stage_with_its_time():
    stream = io.StringIO()
    with reporting(TerminalReporter(stream)), stage("matching"):
        pass
    assert re.fullmatch(r"matching \.\.\.\nmatching: done in \d+\.\d s\n", stream.getvalue())
