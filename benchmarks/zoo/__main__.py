"""Run every zoo pair with every tool, then the timm sweep, and write benchmarks/RESULTS.md.

    python -m benchmarks.zoo                       # everything
    python -m benchmarks.zoo --pairs resnet --tools weightbridge name-identity --no-sweep
    python -m benchmarks.zoo --sweep-limit 100     # the sweep on a fixed random sample

Each (pair, tool) runs in a fresh subprocess, so its seconds and peak memory are its own. The
table shows:

- outcome: "correct" (the target computes what the source computes), "error" (the tool refused
  loudly), "wrong" (it returned weights that compute something else), "crashed" (any other
  failure), "n/a" (the tool does not apply to these trees, e.g. timm's remap to a Flax model);
- hints needed: the hints weightbridge took from its own AmbiguityError to finish;
- seconds: time inside the tool, without building the models or checking the outputs;
- run MiB: peak resident memory of the run's subprocess (models, both weight trees, the check);
- tool MiB: how far the tool raised that peak; for weightbridge 0.0.4, the peak of its own process.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter

from benchmarks.legacy import peak_resident_bytes, run_measured
from benchmarks.results import REPOSITORY, RESULTS_PATH, keep_other_sections, versions, write_atomically

VERSIONED_PACKAGES = (
    "torch", "torchvision", "timm", "transformers", "open_clip_torch", "jax", "flax", "keras", "keras-hub", "numpy", "einx",
    "ortools",
)

OUTCOMES = ("correct", "error", "wrong", "crashed", "n/a")


def run_one(pair_name, tool_name, output_path):
    """The child side: verify one pair with one tool and write what happened as JSON."""
    from benchmarks.zoo.pairs import PAIRS
    from benchmarks.zoo.tools import make_tool
    from benchmarks.zoo.verify import verify

    tool = make_tool(tool_name)
    result = verify(PAIRS[pair_name], tool)
    outcome = "n/a" if tool.not_applicable is not None else result.outcome
    record = {
        "outcome": outcome,
        "relative_error": result.relative_error,
        "message": tool.not_applicable if outcome == "n/a" else result.message,
        "hints_needed": [list(hint) for hint in tool.hints_needed],
        "seconds": None if outcome == "n/a" else tool.seconds,
        "tool_bytes": None if outcome == "n/a" else tool.peak_rise_bytes,
        "run_bytes": peak_resident_bytes(),
    }
    with open(output_path, "w") as f:
        json.dump(record, f)


def run_pair_tool(pair_name, tool_name, timeout):
    """Run one (pair, tool) in a fresh subprocess; its record, with the measured peak memory."""
    with tempfile.TemporaryDirectory(prefix="zoo-run-") as folder:
        output_path = os.path.join(folder, "record.json")
        log_path = os.path.join(folder, "log.txt")
        with open(log_path, "w") as log:
            process = run_measured(
                [sys.executable, "-m", "benchmarks.zoo", "--run-one", pair_name, tool_name, output_path],
                timeout=timeout,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPOSITORY,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
        if os.path.exists(output_path):
            with open(output_path) as f:
                record = json.load(f)
        else:
            with open(log_path) as f:
                last = [line for line in f.read().splitlines() if line.strip()][-1:]
            reason = f"timed out after {timeout:g} s" if process.timed_out else f"exit code {process.returncode}"
            record = {
                "outcome": "crashed",
                "relative_error": None,
                "message": f"run {reason}" + (f": {last[0]}" if last else ""),
                "hints_needed": [],
                "seconds": None,
                "tool_bytes": None,
                "run_bytes": 0,
            }
    record["run_bytes"] = max(record["run_bytes"], process.peak_bytes)
    return {"pair": pair_name, "tool": tool_name, **record}


def _mib(value):
    return "" if value is None else f"{value / 2**20:.0f}"


def _seconds(value):
    return "" if value is None else f"{value:.2f}"


def _hints(hints):
    return ", ".join(f"({my!r}, {their!r})" for my, their in hints)


def format_table(records):
    """The (pair, tool) results as a markdown table."""
    lines = [
        "| pair | tool | outcome | hints needed | seconds | run MiB | tool MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['pair']} | {r['tool']} | {r['outcome']} | {_hints(r['hints_needed'])} | "
            f"{_seconds(r['seconds'])} | {_mib(r['run_bytes'])} | {_mib(r['tool_bytes'])} |"
        )
    return "\n".join(lines)


def format_summary(records, tools):
    """How often each tool reached each outcome."""
    lines = ["| tool | " + " | ".join(OUTCOMES) + " |", "|---|" + "---|" * len(OUTCOMES)]
    for tool in tools:
        counts = Counter(r["outcome"] for r in records if r["tool"] == tool)
        lines.append(f"| {tool} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    return "\n".join(lines)


def weightbridge_shortfalls(records):
    """Every pair where weightbridge was not correct with zero hints, with the reason."""
    lines = []
    for r in records:
        if r["tool"] != "weightbridge" or (r["outcome"] == "correct" and not r["hints_needed"]):
            continue
        if r["outcome"] == "correct":
            reason = f"correct only with the hints its errors proposed: {_hints(r['hints_needed'])}"
        elif r["outcome"] == "wrong":
            reason = f"wrong: relative output error {r['relative_error']:.3g}"
        else:
            reason = f"{r['outcome']}: {_one_line(r['message'])}"
        lines.append(f"- {r['pair']}: {reason}")
    return "\n".join(lines) if lines else "None: weightbridge was correct on every pair with zero hints."


def _one_line(text, limit=400):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_results(records, tools, pairs, sweep_text, command):
    """The whole RESULTS.md."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    found = versions(VERSIONED_PACKAGES)
    lines = [
        "# Benchmark results",
        "",
        f"Generated {now} by `{command}` on {os.cpu_count()} cores.",
        "",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in found.items()) + ".",
        "",
        "## Zoo pairs",
        "",
        "Each pair is two independent implementations of one architecture, built with random",
        "initialisation. A tool maps the source's random weights onto the target; the outcome is",
        "correct when the target then computes what the source computes. Seconds are spent inside",
        "the tool; run MiB is the peak memory of the whole run, tool MiB how far the tool raised it",
        "(for weightbridge 0.0.4: the peak of its own process).",
        "",
        format_table(records),
        "",
        "### Outcomes per tool",
        "",
        format_summary(records, tools),
        "",
        "### Where weightbridge is not correct with zero hints",
        "",
        weightbridge_shortfalls(records),
        "",
        "### Pairs",
        "",
    ]
    lines += [f"- {p.name} ({p.family})" + (f": {_one_line(p.notes)}" if p.notes else "") for p in pairs]
    lines += ["", "## timm sweep", "", sweep_text, ""]
    return "\n".join(lines)


def main(argv=None):
    from benchmarks.zoo.tools import TOOLS

    parser = argparse.ArgumentParser(prog="python -m benchmarks.zoo", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", default="", help="only pairs whose name contains this substring")
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS), help="tools to compare")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per (pair, tool) run")
    parser.add_argument("--no-sweep", action="store_true", help="skip the timm sweep")
    parser.add_argument("--sweep-limit", type=int, default=None, help="sweep a fixed random sample of N architectures")
    parser.add_argument("--sweep-timeout", type=float, default=60.0, help="seconds per architecture and style")
    parser.add_argument(
        "--sweep-budget", type=float, default=1800.0, help="start no further architecture after this many seconds"
    )
    parser.add_argument("--workers", type=int, default=2, help="sweep worker processes")
    parser.add_argument("--output", default=RESULTS_PATH, help="where to write the results")
    parser.add_argument("--run-one", nargs=3, metavar=("PAIR", "TOOL", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        run_one(*args.run_one)
        return

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from benchmarks.zoo.pairs import PAIRS

    pairs = [pair for name, pair in PAIRS.items() if args.pairs in name]
    records = []
    for pair in pairs:
        for tool in args.tools:
            record = run_pair_tool(pair.name, tool, args.timeout)
            records.append(record)
            print(
                f"{pair.name} | {tool}: {record['outcome']} {_hints(record['hints_needed'])}".rstrip(),
                file=sys.stderr,
                flush=True,
            )
    print(format_table(records))
    print()
    print(format_summary(records, args.tools))

    if args.no_sweep:
        sweep_text = "Not run (`--no-sweep`)."
    else:
        from benchmarks.zoo import sweep

        models = sweep.select_models(args.sweep_limit)
        report = sweep.run_sweep(
            models,
            timeout=args.sweep_timeout,
            budget=args.sweep_budget,
            workers=args.workers,
            progress=sweep.print_progress,
        )
        sweep_text = sweep.format_report(report)
        print()
        print(sweep_text)

    command = "python -m benchmarks.zoo" + "".join(f" {arg}" if " " not in arg else f" '{arg}'" for arg in (argv or sys.argv[1:]))
    text = format_results(records, args.tools, pairs, sweep_text, command)
    if os.path.exists(args.output):
        with open(args.output) as f:
            text = keep_other_sections(f.read(), text)  # the scale and conversion sections stay
    write_atomically(args.output, text)
    print(f"\nwrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
