"""Run weightbridge 0.0.4, the original release on PyPI, side by side with this repository.

0.0.4 has the same import name as this project, so it cannot live in the same interpreter. It
is installed into its own virtual environment under the benchmark's working folder
(`benchmarks/.work/legacy-venv`, created on first use with `python -m venv` and
`pip install weightbridge==0.0.4 numpy einx`) and driven through a subprocess:

```python
from benchmarks.legacy import run_legacy

run = run_legacy(their_state_dict, my_state_dict, hints=[("reduce", "conv1")], timeout=600)
if run.ok:
    run.pairs      # {my_path: their_path}, e.g. {("fc.weight",): ("head.weight",)}
    run.result     # tree shaped like `my` holding 0.0.4's converted values
else:
    run.error      # 0.0.4's error, including what it printed about the failed nodes
run.seconds, run.peak_bytes
```

Trees are nested dicts, lists or tuples whose leaves have `.shape` and `.dtype` (numpy, torch,
jax arrays). A leaf that holds no values (torch meta tensor, `jax.ShapeDtypeStruct`, any other
object with only `.shape`/`.dtype`) is sent as its signature and rebuilt in the subprocess as
a zero-stride array, `np.broadcast_to(np.zeros((), dtype), shape)`, which uses no memory, so
0.0.4 can be timed on checkpoints far larger than the machine's memory.

This module imports nothing outside the standard library and numpy at module level: the same
file is the script that runs inside the legacy environment.
"""

import dataclasses
import fcntl
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping

import numpy as np

LEGACY_VERSION = "0.0.4"
REQUIREMENTS = (f"weightbridge=={LEGACY_VERSION}", "numpy", "einx")

DEFAULT_WORK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".work")


@dataclasses.dataclass(frozen=True)
class LegacyRun:
    """The outcome of one call of weightbridge 0.0.4's `adapt`.

    ok: whether 0.0.4 returned a result.
    error: its error message when not ok (exception text, then what it printed), else "".
    seconds: time spent inside 0.0.4's `adapt`, measured in the subprocess; for a timed-out or
        crashed run, the wall time until it was stopped.
    wall_seconds: time of the whole subprocess, interpreter start and file exchange included.
    peak_bytes: peak resident memory of the subprocess, interpreter and numpy included.
    pairs: `{my_path: their_path}` as 0.0.4 paired the leaves; paths are tuples of keys.
    result: a tree shaped like `my` holding 0.0.4's values (numpy arrays) when the run was
        asked for values and every leaf of `their` had values; otherwise None.
    """

    ok: bool
    error: str
    seconds: float
    wall_seconds: float
    peak_bytes: int
    pairs: dict
    result: object = None


@dataclasses.dataclass(frozen=True)
class MeasuredProcess:
    """A finished subprocess: exit code, wall seconds, peak resident bytes, whether it timed out."""

    returncode: int
    seconds: float
    peak_bytes: int
    timed_out: bool


def peak_resident_bytes(pid="self"):
    """Peak resident memory of a process since its last exec (`VmHWM`), in bytes; 0 if unknown.

    Not `ru_maxrss`: Linux carries the parent's peak over a fork and exec into the child's
    `ru_maxrss`, so a child started from a process holding torch would report torch's memory.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if pid == "self":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return 0


def _resident_bytes():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


# The meters open in this process, outermost first; see ResidentPeak.
_open_meters = []


class ResidentPeak:
    """How far a stretch of code raised this process's resident memory above what it held at the start.

    ```python
    with ResidentPeak() as memory:
        work()
    memory.rise_bytes   # peak during work() minus resident memory before it; None where unmeasurable
    ```

    Entering resets the kernel's high-water mark to the current resident memory (writing 5 to
    `/proc/self/clear_refs`, Linux 4.0 and later), so a long-lived process measures each stretch as
    a fresh process would. A meter opened inside another hands the peak so far to the outer one
    before the reset, so both stay exact. Without the reset (another kernel) `rise_bytes` is None.
    """

    def __enter__(self):
        self.start_bytes = _resident_bytes()
        peak = peak_resident_bytes()
        for outer in _open_meters:
            outer.peak_bytes = max(outer.peak_bytes, peak)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.measured = True
        except OSError:
            self.measured = False
        self.peak_bytes = self.start_bytes
        _open_meters.append(self)
        return self

    def __exit__(self, *exc_info):
        _open_meters.remove(self)
        self.peak_bytes = max(self.peak_bytes, peak_resident_bytes())

    @property
    def rise_bytes(self):
        return self.peak_bytes - self.start_bytes if self.measured else None


def run_measured(command, *, timeout=None, stdout=None, stderr=None, env=None, cwd=None, poll=0.02):
    """Run `command` to its end; measure its wall seconds and peak resident memory.

    The peak is polled from the child's `VmHWM` every `poll` seconds, which is monotonic, so the
    last reading before exit is exact up to the last `poll` seconds; children that report their
    own `peak_resident_bytes()` at exit give the exact figure. On timeout the child's whole
    process group is killed.
    """
    start = time.perf_counter()
    # Popen returns once the child has exec'd, so every reading below is the new program's.
    process = subprocess.Popen(
        command, stdout=stdout, stderr=stderr, env=env, cwd=cwd, start_new_session=True
    )
    peak = 0
    timed_out = False
    while True:
        pid, status = os.waitpid(process.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, peak_resident_bytes(process.pid))
        if timeout is not None and time.perf_counter() - start > timeout:
            timed_out = True
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(process.pid, 0)
            break
        time.sleep(poll)
    process.returncode = os.waitstatus_to_exitcode(status)
    return MeasuredProcess(
        returncode=process.returncode,
        seconds=time.perf_counter() - start,
        peak_bytes=peak,
        timed_out=timed_out,
    )


def legacy_python(work_dir=None):
    """Path of the interpreter that has weightbridge 0.0.4, creating its environment if needed.

    The environment lives in `<work_dir>/legacy-venv`; `work_dir` defaults to
    `$WEIGHTBRIDGE_BENCH_WORK` or `benchmarks/.work`.
    """
    work_dir = work_dir or os.environ.get("WEIGHTBRIDGE_BENCH_WORK") or DEFAULT_WORK_DIR
    venv = os.path.join(work_dir, "legacy-venv")
    python = os.path.join(venv, "bin", "python")
    marker = os.path.join(venv, "weightbridge-legacy-ready")
    if os.path.exists(marker):
        return python
    os.makedirs(work_dir, exist_ok=True)
    with open(os.path.join(work_dir, "legacy-venv.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel first uses build the environment once
        if not os.path.exists(marker):
            _create_legacy_venv(venv, python, marker)
    return python


def _create_legacy_venv(venv, python, marker):
    subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
        check=True,
    )
    check = subprocess.run(
        [python, "-I", "-c", "import weightbridge; print(weightbridge.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    )
    if check.stdout.strip() != LEGACY_VERSION:
        raise RuntimeError(f"expected weightbridge {LEGACY_VERSION} in {venv}, got {check.stdout!r}")
    with open(marker, "w") as f:
        f.write(LEGACY_VERSION + "\n")


def flatten(tree, path=()):
    """The leaves of a nested dict/list/tuple tree as `[(path, leaf)]`, in enumeration order."""
    if isinstance(tree, Mapping):
        return [item for key, value in tree.items() for item in flatten(value, path + (key,))]
    if isinstance(tree, (list, tuple)):
        return [item for index, value in enumerate(tree) for item in flatten(value, path + (index,))]
    if hasattr(tree, "shape") and hasattr(tree, "dtype"):
        return [(path, tree)]
    raise TypeError(f"leaf at {path} has no shape and dtype: {type(tree).__name__}")


def unflatten(like, values, path=()):
    """A tree with the structure of `like` whose leaf at each path is `values[path]`."""
    if isinstance(like, Mapping):
        return {key: unflatten(value, values, path + (key,)) for key, value in like.items()}
    if isinstance(like, (list, tuple)):
        return type(like)(unflatten(value, values, path + (index,)) for index, value in enumerate(like))
    return values[path]


def leaf_values(leaf):
    """The leaf's values as a numpy array, or None when it holds only a signature."""
    module = type(leaf).__module__
    if module.startswith("torch"):
        if leaf.device.type == "meta":
            return None
        leaf = leaf.detach().cpu()
        if not leaf.dtype.is_floating_point or leaf.element_size() > 2:
            return leaf.numpy()
        return leaf.float().numpy()  # bfloat16 and float16 both become float32 for numpy
    if module.startswith("jax") and type(leaf).__name__ == "ShapeDtypeStruct":
        return None
    if hasattr(leaf, "__array__"):
        return np.asarray(leaf)
    return None


def _dtype_name(leaf):
    return str(leaf.dtype).removeprefix("torch.")


def _describe(tree, arrays, prefix):
    leaves = []
    for index, (path, leaf) in enumerate(flatten(tree)):
        values = leaf_values(leaf)
        if values is not None:
            arrays[f"{prefix}{index}"] = values
        leaves.append(
            {
                "path": [key if isinstance(key, (str, int)) else str(key) for key in path],
                "shape": [int(size) for size in leaf.shape],
                "dtype": _dtype_name(leaf),
                "values": values is not None,
            }
        )
    return leaves


def run_legacy(
    their,
    my,
    hints=(),
    *,
    in_format=None,
    out_format=None,
    timeout=None,
    values=True,
    work_dir=None,
):
    """Run weightbridge 0.0.4's `adapt(their, my, ...)` in its own environment.

    Args:
        their: the tree whose values are loaded (0.0.4's `in_values`).
        my: the tree whose signature is filled (0.0.4's `out_values`).
        hints: `(my_substring, their_substring)` pairs, passed on as 0.0.4's `hints`.
        in_format, out_format: 0.0.4's layout names ("pytorch", "flax", ...) or None for both;
            without them 0.0.4 does not transpose.
        timeout: seconds after which the subprocess is killed and the run fails.
        values: whether to send values and read 0.0.4's converted values back into
            `LegacyRun.result`; with False only signatures travel and `result` is None.
        work_dir: folder for the environment and exchange files (default `benchmarks/.work`).

    Returns:
        A `LegacyRun`. 0.0.4's own failures (it raises ValueError or AssertionError) come back as
        `ok=False` with the error text; they are never raised here.

    Leaves are nested under dicts as they are in the given trees; list indices become string
    keys, since 0.0.4 only walks dicts.
    """
    python = legacy_python(work_dir)
    work_dir = work_dir or os.environ.get("WEIGHTBRIDGE_BENCH_WORK") or DEFAULT_WORK_DIR
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="legacy-run-") as exchange:
        arrays = {}
        request = {
            "their": _describe(their, arrays, "their") if values else _signature(their),
            "my": _describe(my, arrays, "my") if values else _signature(my),
            "hints": [list(hint) for hint in hints],
            "in_format": in_format,
            "out_format": out_format,
        }
        with open(os.path.join(exchange, "request.json"), "w") as f:
            json.dump(request, f)
        np.savez(os.path.join(exchange, "values.npz"), **arrays)
        del arrays
        with open(os.path.join(exchange, "output.txt"), "w") as output:
            process = run_measured(
                [python, "-I", os.path.abspath(__file__), exchange],
                timeout=timeout,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        with open(os.path.join(exchange, "output.txt")) as f:
            printed = f.read()
        response_path = os.path.join(exchange, "response.json")
        if process.timed_out or not os.path.exists(response_path):
            reason = f"timed out after {timeout} s" if process.timed_out else f"exit code {process.returncode}"
            return LegacyRun(
                ok=False,
                error=f"weightbridge {LEGACY_VERSION} subprocess {reason}\n{_tail(printed)}".rstrip(),
                seconds=process.seconds,
                wall_seconds=process.seconds,
                peak_bytes=process.peak_bytes,
                pairs={},
            )
        with open(response_path) as f:
            response = json.load(f)
        their_paths = [tuple(leaf["path"]) for leaf in request["their"]]
        my_paths = [tuple(leaf["path"]) for leaf in request["my"]]
        pairs = {my_paths[m]: their_paths[t] for m, t in response["pairs"]}
        result = None
        result_path = os.path.join(exchange, "result.npz")
        if response["ok"] and os.path.exists(result_path):
            with np.load(result_path) as stored:
                by_path = {my_paths[int(key)]: stored[key] for key in stored.files}
            result = unflatten(my, by_path)
        error = ""
        if not response["ok"]:
            error = f"{response['error']}\n{_tail(printed)}".rstrip()
        return LegacyRun(
            ok=response["ok"],
            error=error,
            seconds=response["seconds"],
            wall_seconds=process.seconds,
            peak_bytes=max(process.peak_bytes, response["peak_bytes"]),
            pairs=pairs,
            result=result,
        )


def _signature(tree):
    return [
        {
            "path": [key if isinstance(key, (str, int)) else str(key) for key in path],
            "shape": [int(size) for size in leaf.shape],
            "dtype": _dtype_name(leaf),
            "values": False,
        }
        for path, leaf in flatten(tree)
    ]


def _tail(text, lines=40):
    text_lines = text.rstrip().splitlines()
    if len(text_lines) <= lines:
        return "\n".join(text_lines)
    return "\n".join([f"[... {len(text_lines) - lines} lines before]"] + text_lines[-lines:])


# ---- the subprocess side: runs under the legacy environment's interpreter ----


def _numpy_dtype(name):
    try:
        return np.dtype(name)
    except TypeError:
        return np.dtype("float32")  # bfloat16, float8: only the signature matters here


def _build_nested(leaves, stored, prefix):
    """0.0.4's input: nested dicts in the given order, zero-stride arrays for signature leaves."""
    root = {}
    for index, leaf in enumerate(leaves):
        if leaf["values"]:
            value = stored[f"{prefix}{index}"]
        else:
            value = np.broadcast_to(np.zeros((), _numpy_dtype(leaf["dtype"])), tuple(leaf["shape"]))
        node = root
        keys = [str(key) for key in leaf["path"]]
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return root


def _joined_names(leaves, separator):
    return {separator.join(str(key) for key in leaf["path"]): index for index, leaf in enumerate(leaves)}


def _separator(tree, argument):
    """The separator 0.0.4 infers for a tree, found with 0.0.4's own function."""
    from weightbridge.matcher import get_separator_for, possible_separators

    keys = set()

    def collect(node):
        for key, value in node.items():
            keys.add(key)
            if isinstance(value, dict):
                collect(value)

    collect(tree)
    return get_separator_for(keys, argument) or possible_separators[0]


def _child(exchange):
    import weightbridge
    from weightbridge.matcher import LOAD_PREFIX

    with open(os.path.join(exchange, "request.json")) as f:
        request = json.load(f)
    with np.load(os.path.join(exchange, "values.npz")) as stored:
        their = _build_nested(request["their"], stored, "their")
        my = _build_nested(request["my"], stored, "my")
    # 0.0.4 writes its pairing to the cache file; an absolute path is used as given.
    cache = os.path.join(exchange, "pairing.json")
    response = {"ok": False, "error": "", "seconds": 0.0, "pairs": []}
    start = time.perf_counter()
    try:
        result = weightbridge.adapt(
            their,
            my,
            in_format=request["in_format"],
            out_format=request["out_format"],
            hints=[tuple(hint) for hint in request["hints"]],
            cache=cache,
        )
    except Exception as error:  # 0.0.4 fails with ValueError, AssertionError and others alike
        response["seconds"] = time.perf_counter() - start
        response["error"] = f"{type(error).__name__}: {error}"
    else:
        response["seconds"] = time.perf_counter() - start
        response["ok"] = True
        with open(cache) as f:
            pairing = json.load(f)["mapping"]
        my_separator = _separator(my, "out_separator")
        their_separator = _separator(their, "in_separator")
        my_names = _joined_names(request["my"], my_separator)
        their_names = _joined_names(request["their"], their_separator)
        my_prefix, their_prefix = LOAD_PREFIX + my_separator, LOAD_PREFIX + their_separator
        response["pairs"] = [
            [my_names[my_name.removeprefix(my_prefix)], their_names[their_name.removeprefix(their_prefix)]]
            for my_name, their_name in pairing
        ]
        if all(leaf["values"] for leaf in request["their"]):
            converted = {}
            for index, leaf in enumerate(request["my"]):
                node = result
                for key in leaf["path"]:
                    node = node[str(key)]
                converted[str(index)] = np.asarray(node)
            np.savez(os.path.join(exchange, "result.npz"), **converted)
    response["peak_bytes"] = peak_resident_bytes()
    with open(os.path.join(exchange, "response.json"), "w") as f:
        json.dump(response, f)


if __name__ == "__main__":
    _child(sys.argv[1])
