"""Run zoo pairs with every tool on a pool of long-lived workers, one per core.

```python
from benchmarks.zoo.runner import pair_runs, run_pairs

jobs = [(pair.name, pair_runs(pair, ["weightbridge", "name-identity"], ["definition", "alphabetical"]))]
records = run_pairs(jobs, workers=2, timeout=900)
```

A worker (`python -m benchmarks.zoo.runner`) imports the libraries once and then takes one pair at
a time: the pair's proof first, then (when the proof holds, or the pair has none) each tool in each
source order, every run on freshly built models. It reports each run's record as soon as it ends.
Starting a process costs more than most runs take (5 s to import torch and the tools; keras-hub's
first model over a minute, its next ones under a second), so a fresh process per run would spend
most of the zoo's time starting.

What a record measures, each run on its own although the process is shared:

- seconds: time inside the tool (for 0.0.4, the time it measured in its own process);
- run_seconds, cpu_seconds: wall and CPU seconds of the whole run (building both models, the tool,
  the check), CPU including the run's subprocesses, so a run on a loaded machine can be compared;
- run_bytes: how far the run raised the worker's resident memory above what it held before it;
- tool_bytes: the same for the tool's calls alone (for 0.0.4, the peak of its own process).

Before each run the worker collects garbage and hands freed heap back to the system, so that memory
an earlier run freed is not counted as free room for this one; the peaks are the kernel's
high-water marks, reset at the start of each stretch (`benchmarks.legacy.ResidentPeak`).

A run over `timeout` seconds gets its worker killed; the run is recorded as crashed, a new worker
takes the pair's remaining runs. A worker that dies is treated alike.
"""

import ctypes
import gc
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time

from benchmarks.legacy import ResidentPeak
from benchmarks.results import REPOSITORY

# The pseudo-tool that runs a pair's own proof.
PROOF = "proof"


def pair_runs(pair, tools, orders):
    """The runs of one pair, in the order a worker makes them: the proof (if the pair has one), then every tool in every order."""
    proof = [(PROOF, "definition")] if pair.prove is not None else []
    return proof + [(tool, order) for tool in tools for order in orders]


# ---------------------------------------------------------------------------- the worker


def run_one(pair, built, tool_name, order, against="source"):
    """One run of `pair` (its sides in `built`, a `BuiltPair`) with the tool `tool_name` or its proof,
    in the source `order`, measured, the target's output compared with `against` (see `verify`); a
    JSON-able record."""
    from benchmarks.zoo.tools import make_tool
    from benchmarks.zoo.verify import prove, verify

    tool = None if tool_name == PROOF else make_tool(tool_name)
    with _Measured() as run:
        if tool is None:
            result = prove(pair, built=built)
        else:
            result = verify(pair, tool, order=order, against=against, built=built)
    record = {
        "pair": pair.name,
        "tool": tool_name,
        "order": order,
        "outcome": result.outcome,
        "relative_error": result.relative_error,
        "message": result.message,
        "hints_needed": [],
        "zero_hint_error": None,
        "seconds": None,
        "tool_bytes": None,
        "run_bytes": run.memory.rise_bytes,
        "run_seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds,
    }
    if tool is not None and tool.not_applicable is not None:
        return {**record, "outcome": "n/a", "message": tool.not_applicable}
    if tool is not None:
        record.update(
            hints_needed=[list(hint) for hint in tool.hints_needed],
            zero_hint_error=tool.zero_hint_error,
            seconds=tool.seconds,
            tool_bytes=tool.peak_rise_bytes,
        )
    return record


class _Measured:
    """Wall and CPU seconds (subprocesses included) and memory rise of a stretch, after a clean-up."""

    def __enter__(self):
        gc.collect()
        _trim_heap()
        self.memory = ResidentPeak().__enter__()
        self._start, self._cpu = time.perf_counter(), _cpu_seconds()
        return self

    def __exit__(self, *exc_info):
        self.seconds, self.cpu_seconds = time.perf_counter() - self._start, _cpu_seconds() - self._cpu
        self.memory.__exit__(*exc_info)


def _cpu_seconds():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _trim_heap():
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: freed heap stays with the process
        pass


def run_job(pair, runs, report, against="source"):
    """Build `pair` once and make its `runs` (outputs compared with `against`), calling `report(record)`
    after each; a failed proof ends them.

    Returns the pair's timing: `{"pair", "build_seconds", "build_bytes", "seconds", "cpu_seconds"}`, its
    seconds and CPU seconds over the build and every run.
    """
    from benchmarks.zoo.verify import BuiltPair

    start, cpu = time.perf_counter(), _cpu_seconds()
    with _Measured() as build:
        try:
            built = BuiltPair(pair)
        except Exception as error:  # noqa: BLE001 - a pair that does not build is every run's finding
            built = f"the pair does not build: {type(error).__name__}: {error}"
    for tool_name, order in runs:
        if isinstance(built, str):
            record = _crashed(pair.name, tool_name, order, built)
        else:
            record = run_one(pair, built, tool_name, order, against)
        report(record)
        if tool_name == PROOF and record["outcome"] != "correct":
            break
    return {
        "pair": pair.name,
        "build_seconds": build.seconds,
        "build_bytes": build.memory.rise_bytes,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": _cpu_seconds() - cpu,
    }


def serve():
    """The worker loop: reads one job a line, `{"pair": name, "runs": [[tool, order], ...], "against": reference}`,
    and writes one line per finished run, `{"record": ...}`, then `{"done": timing}` (see `run_job`)."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the libraries print must not reach the protocol
    import torch

    from benchmarks.zoo import tools  # noqa: F401 - the tools' libraries, imported before any run is timed
    from benchmarks.zoo.catalog import PAIRS

    def send(message):
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    torch.set_num_threads(1)  # one worker per core
    # The libraries' objects live as long as the worker: out of the collector's way, a collection
    # before each run takes milliseconds instead of half a second.
    gc.collect()
    gc.freeze()
    for line in sys.stdin:
        job = json.loads(line)
        timing = run_job(PAIRS[job["pair"]], job["runs"], lambda record: send({"record": record}), job.get("against", "source"))
        send({"done": timing})


# ---------------------------------------------------------------------------- the pool


def run_pairs(jobs, *, workers, timeout, progress=None, against="source"):
    """Run `jobs`, `[(pair name, [(tool, order), ...])]` as `pair_runs` gives them, on `workers` worker processes.

    Returns the records in job and run order, and each pair's timing as `run_job` gives it (summed
    over the workers that had the pair). A run that timed out or whose worker died is a "crashed"
    record that says so. `progress(record, done, total)` is called as each run ends.
    """
    total = sum(len(runs) for _, runs in jobs)
    pending = [(index, name, list(runs)) for index, (name, runs) in reversed(list(enumerate(jobs)))]
    records, timings = [], {}
    selector = selectors.DefaultSelector()
    busy = {}  # worker -> [job index, pair name, runs left, when its last run began]
    logs = tempfile.TemporaryDirectory(prefix="zoo-workers-")

    def position(index, runs_left):
        return len(jobs[index][1]) - len(runs_left)

    def finish(index, place, record):
        records.append(((index, place), record))
        if progress is not None:
            progress(record, len(records), total)

    def spawn():
        log = open(os.path.join(logs.name, f"{len(os.listdir(logs.name))}.log"), "w+")
        worker = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.zoo.runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=REPOSITORY,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            start_new_session=True,  # killed with the subprocesses it started (0.0.4's)
        )
        worker.log, worker.unread = log, b""
        selector.register(worker.stdout, selectors.EVENT_READ, worker)
        return worker

    def assign(worker):
        if not pending:
            selector.unregister(worker.stdout)
            worker.stdin.close()
            worker.wait()
            worker.log.close()
            return
        index, name, runs = pending.pop()
        busy[worker] = [index, name, runs, time.perf_counter()]
        try:
            worker.stdin.write((json.dumps({"pair": name, "runs": runs, "against": against}) + "\n").encode())
            worker.stdin.flush()
        except BrokenPipeError:  # the worker died: its stdout ends, and the loop below replaces it
            pass

    def replace(worker, reason):
        """Record the run `worker` was on as crashed, give the pair's other runs to a new worker."""
        index, name, runs, _ = busy.pop(worker)
        selector.unregister(worker.stdout)
        try:
            os.killpg(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        worker.wait()
        worker.log.seek(0)
        last = [line for line in worker.log.read().splitlines() if line.strip()][-1:]
        worker.log.close()
        if runs:
            (tool, order), rest = runs[0], runs[1:]
            finish(index, position(index, runs), _crashed(name, tool, order, reason + (f": {last[0]}" if last else "")))
            if rest and tool != PROOF:  # without its proof a pair is not run
                pending.append((index, name, rest))
        if pending:
            assign(spawn())

    for _ in range(min(workers, len(pending))):
        assign(spawn())
    while busy:
        deadline = min(began + timeout for *_, began in busy.values())
        for key, _ in selector.select(timeout=max(0.0, deadline - time.perf_counter())):
            worker = key.data
            # Raw reads: a buffered readline could keep a second line back where the selector no longer sees it.
            chunk = os.read(worker.stdout.fileno(), 1 << 16)
            if not chunk:
                replace(worker, f"worker exited with code {worker.wait()}")
                continue
            worker.unread += chunk
            *lines, worker.unread = worker.unread.split(b"\n")
            for line in lines:
                message = json.loads(line)
                job = busy[worker]
                if "done" in message:
                    _add_timing(timings, message["done"])
                    del busy[worker]
                    assign(worker)
                    break
                finish(job[0], position(job[0], job[2]), message["record"])
                job[2], job[3] = job[2][1:], time.perf_counter()
        now = time.perf_counter()
        for worker, (*_, began) in list(busy.items()):
            if now - began > timeout:
                replace(worker, f"run timed out after {timeout:g} s")
    logs.cleanup()
    return [record for _, record in sorted(records, key=lambda item: item[0])], timings


def _add_timing(timings, timing):
    found = timings.setdefault(timing["pair"], {**timing, "seconds": 0.0, "cpu_seconds": 0.0, "build_seconds": 0.0})
    for key in ("seconds", "cpu_seconds", "build_seconds"):
        found[key] += timing[key]


def _crashed(pair, tool, order, message):
    return {
        "pair": pair, "tool": tool, "order": order, "outcome": "crashed", "relative_error": None, "message": message,
        "hints_needed": [], "zero_hint_error": None, "seconds": None, "tool_bytes": None, "run_bytes": None,
        "run_seconds": None, "cpu_seconds": None,
    }


if __name__ == "__main__":
    serve()
