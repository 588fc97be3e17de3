"""Sweep every timm architecture: does `weightbridge.match` recover a known re-implementation?

For each name in `timm.list_models()` the model is built on torch's meta device (no memory, no
download) and its state-dict signature is taken as `my`. A second implementation, `their`, is
derived from it by `perturb`, in the ways real ports differ, in one of two styles:

- "flax": a Flax linen port. Nested dicts under `params` and `batch_stats`; list indices folded
  into module names (`blocks.3` -> `layers_3`); module synonyms (attn -> attention,
  norm -> ln, mlp -> ffn, fc -> dense, ...); `weight` -> `kernel` in Flax layout (2-D
  transposed, `(o, i, k...)` -> `(k..., i, o)`), 1-D `weight` -> `scale`; running statistics
  -> `mean`/`var`; leading unit axes squeezed from other parameters (`cls_token` `(1, 1, C)`
  -> `(C,)`); keys in alphabetical order.
- "tf": a TensorFlow checkpoint. One flat dict, names joined by '/'; the same module synonyms;
  `kernel` layouts as above; norm `weight`/`bias` -> `gamma`/`beta`; conv biases expanded to
  `(1, 1, 1, C)`; running statistics -> `moving_mean`/`moving_variance`; alphabetical order.

The true mapping is recorded alongside, `weightbridge.match(their, my)` is run, and each
(architecture, style) is classified: "exact" (every pair recovered), "error" (a ValueError,
the loud refusal the design promises), "wrong" (a mapping came back and differs from the
truth: the failure that matters), "crashed" (any other exception) or "timeout".

Each (architecture, style) is a task for one of a few long-lived worker processes (one per
core by default); a worker that exceeds the per-task timeout is killed and replaced. The
architectures run in a fixed shuffled order, so `--limit N` and a time budget both give a
spread-out sample rather than the first names of the alphabet.

    python -m benchmarks.zoo.sweep --limit 100 --timeout 30
"""

import argparse
import dataclasses
import json
import os
import random
import re
import selectors
import subprocess
import sys
import time
from collections import Counter

STYLES = ("flax", "tf")
OUTCOMES = ("exact", "error", "wrong", "crashed", "timeout")

MODULE_SYNONYMS = (
    (re.compile(r"^attn(?=$|_|\d)"), "attention"),
    (re.compile(r"^norm"), "ln"),
    (re.compile(r"^bn(?=$|_|\d)"), "batchnorm"),
    (re.compile(r"^blocks$"), "layers"),
    (re.compile(r"^mlp$"), "ffn"),
    (re.compile(r"^fc(?=$|_|\d)"), "dense"),
    (re.compile(r"^proj$"), "projection"),
    (re.compile(r"^downsample$"), "shortcut"),
    (re.compile(r"^head$"), "classifier"),
)


@dataclasses.dataclass(frozen=True)
class Port:
    """A derived implementation: the `their` tree of signature leaves and the true mapping.

    `their` holds `Signature` leaves (shape and dtype only). `truth[my_name]` is the `their` name
    of the partner, its keys joined by `separator`.
    """

    their: dict
    truth: dict
    separator: str


@dataclasses.dataclass(frozen=True)
class Signature:
    """A shape-only leaf."""

    shape: tuple
    dtype: str


def perturb(signature, style):
    """Derive a re-implementation of a state-dict signature.

    Args:
        signature: `[(name, shape, dtype)]` in enumeration order, names separated by '.'.
        style: "flax" or "tf" (see the module docstring).

    Returns:
        A `Port`.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
    weight_ndim = {
        name.rsplit(".", 1)[0]: len(shape) for name, shape, _ in signature if name.rsplit(".", 1)[-1] == "weight"
    }
    ported = []
    for name, shape, dtype in signature:
        *modules, leaf = name.split(".")
        module = ".".join(modules)
        modules = [_module_synonym(token) for token in modules]
        collection = "params"
        if style == "flax":
            modules = _fold_indices(modules)
            if leaf in ("running_mean", "running_var", "num_batches_tracked"):
                collection = "batch_stats"
        leaf, shape = _port_leaf(leaf, tuple(shape), weight_ndim.get(module), style)
        path = (collection, *modules, leaf) if style == "flax" else tuple(modules) + (leaf,)
        ported.append((name, path, shape, dtype))
    ported = _unique_paths(ported)
    ported.sort(key=lambda item: item[1])
    truth = {name: "/".join(path) for name, path, _, _ in ported}
    if style == "flax":
        their = {}
        for _, path, shape, dtype in ported:
            node = their
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = Signature(shape, dtype)
    else:
        their = {"/".join(path): Signature(shape, dtype) for _, path, shape, dtype in ported}
    return Port(their=their, truth=truth, separator="/")


def _module_synonym(token):
    for pattern, replacement in MODULE_SYNONYMS:
        if pattern.search(token):
            return pattern.sub(replacement, token, count=1)
    return token


def _fold_indices(modules):
    """Flax names list members `layers_3`, not `layers/3`."""
    folded = []
    for token in modules:
        if token.isdigit() and folded:
            folded[-1] = f"{folded[-1]}_{token}"
        else:
            folded.append(token)
    return folded


def _port_leaf(leaf, shape, module_weight_ndim, style):
    if leaf == "weight" and len(shape) >= 2:
        if len(shape) == 2:
            return "kernel", (shape[1], shape[0])
        return "kernel", shape[2:] + (shape[1], shape[0])
    if leaf == "weight" and len(shape) == 1:
        return ("scale" if style == "flax" else "gamma"), shape
    if leaf == "bias" and style == "tf":
        if module_weight_ndim == 1:
            return "beta", shape
        if module_weight_ndim == 4 and len(shape) == 1:
            return "bias", (1, 1, 1) + shape
        return "bias", shape
    statistics = {
        "flax": {"running_mean": "mean", "running_var": "var", "num_batches_tracked": "count"},
        "tf": {"running_mean": "moving_mean", "running_var": "moving_variance", "num_batches_tracked": "steps"},
    }[style]
    if leaf in statistics:
        return statistics[leaf], shape
    if style == "flax" and leaf != "bias" and len(shape) > 1 and shape[0] == 1:
        squeezed = shape
        while len(squeezed) > 1 and squeezed[0] == 1:
            squeezed = squeezed[1:]
        return leaf, squeezed
    return leaf, shape


def _unique_paths(ported):
    """Renaming can merge two names (`norm` and `ln`) or put a leaf where a module is; suffix the later one."""
    leaves = set()
    modules = set()
    unique = []
    for name, path, shape, dtype in ported:
        while True:
            clash = next(
                (k for k in range(1, len(path) + 1) if path[:k] in leaves or (k == len(path) and path in modules)),
                None,
            )
            if clash is None:
                break
            suffix = 2
            while path[: clash - 1] + (f"{path[clash - 1]}_{suffix}",) in leaves | modules:
                suffix += 1
            path = path[: clash - 1] + (f"{path[clash - 1]}_{suffix}",) + path[clash:]
        leaves.add(path)
        modules.update(path[:k] for k in range(1, len(path)))
        unique.append((name, path, shape, dtype))
    return unique


# ---- one architecture, inside a worker ----


def timm_signature(model_name):
    """`[(name, shape, dtype)]` of a timm model's state dict, built on the meta device."""
    import timm
    import torch

    with torch.device("meta"):
        model = timm.create_model(model_name, pretrained=False)
    return [(name, tuple(tensor.shape), str(tensor.dtype).removeprefix("torch.")) for name, tensor in model.state_dict().items()]


def ported_trees(signature, style):
    """The `Port` of `signature` in `style`, its `their` tree as that framework hands it over, and
    `my`, the signature on torch's meta device: what `weightbridge.match(their, my)` is run on."""
    port = perturb(signature, style)
    return port, _their_tree(port, style), _meta_tree(signature)


def _meta_tree(signature):
    import torch

    return {name: torch.empty(shape, dtype=getattr(torch, dtype), device="meta") for name, shape, dtype in signature}


def _their_tree(port, style):
    """`their` as the port's framework hands it over: jax shape structs for Flax, numpy for TensorFlow.

    The numpy arrays are zero-stride views of one zero, so they take no memory.
    """
    if style == "flax":
        import jax

        def leaf(signature):
            return jax.ShapeDtypeStruct(signature.shape, signature.dtype)
    else:
        import numpy as np

        def leaf(signature):
            return np.broadcast_to(np.zeros((), signature.dtype), signature.shape)

    def convert(node):
        if isinstance(node, Signature):
            return leaf(node)
        return {key: convert(value) for key, value in node.items()}

    return convert(port.their)


def classify(port, mapping):
    """"exact" when `mapping` pairs every `my` name with its true partner, else "wrong", with the first difference."""
    found = {pair.my: tuple(pair.their) for pair in mapping.pairs}
    for primary, aliases in mapping.my_aliases.items():  # tied weights are one pair under several names
        for alias in aliases:
            if primary in found:
                found.setdefault(alias, found[primary])
    for my_name, their_name in port.truth.items():
        got = found.get(my_name)
        if got != (their_name,):
            shown = " + ".join(got) if got else "nothing"
            return "wrong", f"{my_name} <- {shown}, expected {their_name}"
    return "exact", ""


def sweep_one(model_name, style, _cache={}):
    """Instantiate, perturb and match one architecture in one style; a JSON-able record."""
    import weightbridge

    record = {"model": model_name, "style": style, "leaves": None, "seconds": None}
    if model_name not in _cache:
        _cache.clear()  # a worker keeps only the architecture it is on: its styles come in a row
        try:
            _cache[model_name] = timm_signature(model_name)
        except Exception as error:  # noqa: BLE001 - any failure to build is reported, not fatal
            _cache[model_name] = f"{type(error).__name__}: {_first_line(error)}"
    signature = _cache[model_name]
    if isinstance(signature, str):
        return {**record, "outcome": "skipped", "message": signature}
    port, their, my = ported_trees(signature, style)
    start = time.perf_counter()
    try:
        mapping = weightbridge.match(their, my)
    except ValueError as error:
        outcome, message = "error", f"{type(error).__name__}: {_first_line(error)}"
    except Exception as error:  # noqa: BLE001
        outcome, message = "crashed", f"{type(error).__name__}: {_first_line(error)}"
    else:
        outcome, message = classify(port, mapping)
    seconds = time.perf_counter() - start
    return {**record, "leaves": len(signature), "outcome": outcome, "message": message, "seconds": seconds}


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else ""


def _worker():
    """Reads `model<TAB>style` lines from stdin, writes one JSON record per line to the original stdout."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever models print must not reach the protocol
    for line in sys.stdin:
        model_name, style = line.rstrip("\n").split("\t")
        protocol.write(json.dumps(sweep_one(model_name, style)) + "\n")
        protocol.flush()


# ---- the parent: schedule (architecture, style) tasks over workers ----


@dataclasses.dataclass(frozen=True)
class SweepReport:
    """Every record of a sweep, plus how it was run.

    `records` has one dict per (architecture, style) that ran: model, style, leaves, outcome
    ("skipped" when the architecture did not instantiate), message, seconds. `not_run` lists the
    architectures the time budget left out.
    """

    records: tuple
    total_models: int
    not_run: tuple
    seconds: float
    timeout: float
    budget: float
    workers: int

    def counts(self, style):
        return Counter(r["outcome"] for r in self.records if r["style"] == style and r["outcome"] != "skipped")

    @property
    def skipped(self):
        return sorted({(r["model"], r["message"]) for r in self.records if r["outcome"] == "skipped"})


def select_models(limit=None, names=None, seed=0):
    """timm's architectures in a fixed shuffled order, so that any prefix is a spread-out sample.

    `limit` keeps the first `limit` of that order.
    """
    import timm

    names = sorted(names if names is not None else timm.list_models())
    random.Random(seed).shuffle(names)
    return names if limit is None else names[:limit]


def run_sweep(models, *, timeout=60.0, budget=None, workers=2, progress=None):
    """Sweep `models` in every style over `workers` subprocesses.

    A (model, style) over `timeout` seconds counts as "timeout" and its worker is replaced. Once
    `budget` seconds have passed, no further architecture is started; those left are `not_run`.
    """
    start = time.perf_counter()
    pending = [(model, style) for model in reversed(models) for style in reversed(STYLES)]
    records = []
    selector = selectors.DefaultSelector()
    running = {}

    def spawn():
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.zoo.sweep", "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=_repository_root(),
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        selector.register(process.stdout, selectors.EVENT_READ, process)
        return process

    def over_budget():
        return budget is not None and time.perf_counter() - start > budget

    def assign(process):
        # An architecture already begun is finished in every style, even past the budget.
        if pending and (not over_budget() or pending[-1][1] != STYLES[0]):
            task = pending.pop()
            running[process] = (task, time.perf_counter())
            process.stdin.write("\t".join(task) + "\n")
            process.stdin.flush()
            return
        selector.unregister(process.stdout)
        process.stdin.close()
        process.wait()
        running.pop(process, None)

    def finish(record):
        records.append(record)
        if progress is not None:
            progress(record, len(records), 2 * len(models))

    def stop(process):
        selector.unregister(process.stdout)
        process.kill()
        process.wait()
        del running[process]

    for _ in range(min(workers, len(pending))):
        assign(spawn())
    while running:
        deadline = min(started + timeout for _, started in running.values())
        for key, _ in selector.select(timeout=max(0.0, deadline - time.perf_counter())):
            process = key.data
            line = process.stdout.readline()
            (model, style), _ = running[process]
            if line:
                finish(json.loads(line))
                assign(process)
            else:  # the worker died with the task: record it and start another
                stop(process)
                finish(_failed(model, style, "crashed", f"worker exited with code {process.returncode}"))
                assign(spawn())
        now = time.perf_counter()
        for process, ((model, style), started) in list(running.items()):
            if now - started > timeout:
                stop(process)
                finish(_failed(model, style, "timeout", f"over {timeout:g} s"))
                assign(spawn())
    records.sort(key=lambda record: (record["model"], STYLES.index(record["style"])))
    started = {record["model"] for record in records}
    return SweepReport(
        records=tuple(records),
        total_models=len(models),
        not_run=tuple(sorted(model for model in models if model not in started)),
        seconds=time.perf_counter() - start,
        timeout=timeout,
        budget=budget,
        workers=workers,
    )


def _failed(model, style, outcome, message):
    return {"model": model, "style": style, "leaves": None, "outcome": outcome, "message": message, "seconds": None}


def _repository_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def format_report(report, slowest=10):
    """The sweep as markdown: rates per style, the slowest architectures, every wrong mapping."""
    import timm

    swept = {r["model"] for r in report.records} - {model for model, _ in report.skipped}
    budget_note = ""
    if report.not_run:
        budget_note = f" The {report.budget:g} s budget left {len(report.not_run)} architectures unswept; the swept ones are a random sample."
    lines = [
        f"timm {timm.__version__}: {report.total_models} architectures selected, {len(swept)} swept in "
        f"{report.seconds:.0f} s ({report.workers} workers, {report.timeout:g} s timeout per architecture and style), "
        f"{len(report.skipped)} failed to instantiate on the meta device.{budget_note}",
        "",
        "| style | " + " | ".join(OUTCOMES) + " |",
        "|---|" + "---|" * len(OUTCOMES),
    ]
    for style in STYLES:
        counts = report.counts(style)
        total = sum(counts.values()) or 1
        cells = [f"{counts[o]} ({100 * counts[o] / total:.1f}%)" for o in OUTCOMES]
        lines.append(f"| {style} | " + " | ".join(cells) + " |")
    timed = sorted((r for r in report.records if r["seconds"] is not None), key=lambda r: -r["seconds"])
    lines += ["", "Slowest (architecture, style) by seconds in `match`; timeouts are listed below:", ""]
    lines += ["| architecture | style | leaves | seconds |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['style']} | {r['leaves']} | {r['seconds']:.2f} |" for r in timed[:slowest]]
    for outcome in ("wrong", "crashed", "timeout"):
        failures = [r for r in report.records if r["outcome"] == outcome]
        if failures:
            lines += ["", f"Every {outcome} result:", ""]
            lines += [f"- {r['model']} ({r['style']}): {r['message']}" for r in failures]
    errors = Counter(r["message"].split(":")[0] for r in report.records if r["outcome"] == "error")
    if errors:
        lines += ["", "Errors by type: " + ", ".join(f"{kind} {count}" for kind, count in errors.most_common()) + "."]
    if report.skipped:
        lines += ["", "Failed to instantiate: " + ", ".join(f"{model} ({message})" for model, message in report.skipped) + "."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.zoo.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="sweep a fixed random sample of N architectures")
    parser.add_argument("--models", default=None, help="only architectures whose name contains this")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per architecture and style")
    parser.add_argument("--budget", type=float, default=None, help="start no architecture after this many seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker()
        return
    models = select_models()
    if args.models:
        models = [name for name in models if args.models in name]
    models = models[: args.limit] if args.limit is not None else models
    report = run_sweep(models, timeout=args.timeout, budget=args.budget, workers=args.workers, progress=print_progress)
    print(format_report(report))


def print_progress(record, done, total):
    print(f"[{done}/{total}] {record['model']} {record['style']}: {record['outcome']}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
