"""Progress of long steps, reported to whoever installed a reporter (the command line does).

Library code announces what it does and never prints: `stage("matching")` around a step,
`steps(items, "solving")` around a loop. Without an installed reporter both cost nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time

_reporter = contextvars.ContextVar("weightbridge_progress", default=None)


@contextlib.contextmanager
def stage(name: str):
    """Marks the block as the stage `name` (e.g. "matching")."""
    reporter = _reporter.get()
    if reporter is None:
        yield
        return
    reporter.start(name)
    try:
        yield
    finally:
        reporter.finish(name)


def steps(items, description: str, total: int | None = None):
    """Yields `items`, advancing a bar named `description` by one per item."""
    reporter = _reporter.get()
    if reporter is None:
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    with reporter.bar(description, total) as advance:
        for item in items:
            yield item
            advance(1)


@contextlib.contextmanager
def reporting(reporter):
    """Installs `reporter` (an object with `start`, `finish` and `bar`) for the block."""
    token = _reporter.set(reporter)
    try:
        yield reporter
    finally:
        _reporter.reset(token)


class TerminalReporter:
    """Stages as lines on a stream (`name ... 1.2 s`), bars drawn with tqdm."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.started = {}

    def start(self, name: str) -> None:
        self.started[name] = time.perf_counter()
        self.stream.write(f"{name} ...\n")
        self.stream.flush()

    def finish(self, name: str) -> None:
        elapsed = time.perf_counter() - self.started.pop(name)
        self.stream.write(f"{name}: done in {elapsed:.1f} s\n")
        self.stream.flush()

    @contextlib.contextmanager
    def bar(self, description: str, total: int | None):
        from tqdm import tqdm

        with tqdm(total=total, desc=description, file=self.stream, dynamic_ncols=True) as progress:
            yield progress.update

