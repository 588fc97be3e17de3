"""Run every zoo pair with every tool, then the timm sweep, and write benchmarks/RESULTS.md.

    python -m benchmarks.zoo                       # everything
    python -m benchmarks.zoo --pairs resnet --tools weightbridge name-identity --no-sweep
    python -m benchmarks.zoo --sweep-limit 100     # the sweep on a fixed random sample
    python -m benchmarks.zoo --family vision --order definition alphabetical --no-sweep
    python -m benchmarks.zoo --family text --against proof --no-sweep   # against keras-hub's converter

Each pair's proof (a mapping written by hand or a library's converter) runs first, once; a pair
whose proof fails is reported and not counted, a pair without a proof is counted apart as
unproven. Then each (pair, tool) runs in a fresh subprocess, in every selected source order, so
its seconds and peak memory are its own. The table shows:

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
from benchmarks.zoo.verify import ORDERS, PROOF_TOLERANCE, REFERENCES

VERSIONED_PACKAGES = (
    "torch", "torchvision", "timm", "transformers", "open_clip_torch", "jax", "flax", "keras", "keras-hub", "numpy", "einx",
    "ortools",
)

OUTCOMES = ("correct", "error", "wrong", "crashed", "n/a")


# The pseudo-tool that runs a pair's own proof.
PROOF = "proof"


def run_one(pair_name, tool_name, orders, output_path, against="source"):
    """The child side: verify one pair with one tool in each of `orders`, its output compared with
    `against` (see `verify`); write the records as JSON."""
    import torch

    from benchmarks.zoo.catalog import PAIRS
    from benchmarks.zoo.tools import make_tool
    from benchmarks.zoo.verify import prove, verify

    torch.set_num_threads(1)  # one worker per core
    pair = PAIRS[pair_name]
    records = []
    if tool_name == PROOF:
        result = prove(pair)
        records.append({"order": "definition", "outcome": result.outcome, "relative_error": result.relative_error,
                        "message": result.message, "hints_needed": [], "seconds": None, "tool_bytes": None})
    for order in orders if tool_name != PROOF else ():
        tool = make_tool(tool_name)
        result = verify(pair, tool, order=order, against=against)
        outcome = "n/a" if tool.not_applicable is not None else result.outcome
        records.append({
            "order": order,
            "outcome": outcome,
            "relative_error": result.relative_error,
            "message": tool.not_applicable if outcome == "n/a" else result.message,
            "hints_needed": [list(hint) for hint in tool.hints_needed],
            "zero_hint_error": tool.zero_hint_error,
            "seconds": None if outcome == "n/a" else tool.seconds,
            "tool_bytes": None if outcome == "n/a" else tool.peak_rise_bytes,
        })
    for record in records:
        record["run_bytes"] = peak_resident_bytes()
    with open(output_path, "w") as f:
        json.dump(records, f)


def run_pair_tool(pair_name, tool_name, timeout, orders=ORDERS, against="source"):
    """Run one (pair, tool) in a fresh subprocess over `orders`; one record per order, with the measured peak memory."""
    orders = ("definition",) if tool_name == PROOF else tuple(orders)
    with tempfile.TemporaryDirectory(prefix="zoo-run-") as folder:
        output_path = os.path.join(folder, "record.json")
        log_path = os.path.join(folder, "log.txt")
        with open(log_path, "w") as log:
            process = run_measured(
                [sys.executable, "-m", "benchmarks.zoo", "--run-one", pair_name, tool_name, ",".join(orders), output_path,
                 "--against", against],
                timeout=timeout,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPOSITORY,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
        if os.path.exists(output_path):
            with open(output_path) as f:
                records = json.load(f)
        else:
            with open(log_path) as f:
                last = [line for line in f.read().splitlines() if line.strip()][-1:]
            reason = f"timed out after {timeout:g} s" if process.timed_out else f"exit code {process.returncode}"
            message = f"run {reason}" + (f": {last[0]}" if last else "")
            records = [
                {"order": order, "outcome": "crashed", "relative_error": None, "message": message, "hints_needed": [],
                 "seconds": None, "tool_bytes": None, "run_bytes": 0}
                for order in orders
            ]
    return [
        {"pair": pair_name, "tool": tool_name, **record, "run_bytes": max(record["run_bytes"], process.peak_bytes)}
        for record in records
    ]


def _mib(value):
    return "" if value is None else f"{value / 2**20:.0f}"


def _seconds(value):
    return "" if value is None else f"{value:.2f}"


def _hints(hints):
    return ", ".join(f"({my!r}, {their!r})" for my, their in hints)


def format_table(records):
    """The (pair, tool, order) results as a markdown table."""
    lines = [
        "| pair | order | tool | outcome | hints needed | seconds | run MiB | tool MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['pair']} | {r.get('order', 'definition')} | {r['tool']} | {r['outcome']} | {_hints(r['hints_needed'])} | "
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


def weightbridge_shortfalls(records, message=None):
    """Every pair (and order, where recorded) where weightbridge was not correct with zero hints, with the reason.

    `message(text)` shortens an error for the list; by default the whole message on one line.
    """
    message = message or _one_line
    lines = []
    for r in records:
        if r["tool"] != "weightbridge" or (r["outcome"] == "correct" and not r["hints_needed"]):
            continue
        if r["outcome"] == "correct":
            reason = f"correct only with the hints its errors proposed: {_hints(r['hints_needed'])}"
        elif r["outcome"] == "wrong":
            reason = f"wrong: relative output error {r['relative_error']:.3g}"
        else:
            reason = f"{r['outcome']}: {message(r['message'])}"
        where = f" [{r['order']}]" if "order" in r else ""
        lines.append(f"- {r['pair']}{where}: {reason}")
    return "\n".join(lines) if lines else "None: weightbridge was correct on every pair with zero hints."


def _first_line(text):
    return _one_line((text or "").strip().splitlines()[0] if (text or "").strip() else "")


def _counts(records):
    counts = Counter(r["outcome"] for r in records)
    cell = f"{counts['correct']} / {counts['error']} / {counts['wrong']}"
    others = [f"{counts[o]} {o}" for o in ("crashed", "n/a") if counts[o]]
    return cell + (f" ({', '.join(others)})" if others else "")


def format_family_orders(records, family_of, tools, orders):
    """Per family and source order: correct / error / wrong for each tool (crashed and n/a besides)."""
    families = list(dict.fromkeys(family_of[r["pair"]] for r in records))
    lines = [
        "| family | order | pairs | " + " | ".join(tools) + " |",
        "|---|---|---|" + "---|" * len(tools),
    ]
    for group in families + ["all"]:
        for order in orders:
            chosen = [r for r in records if r.get("order") == order and group in ("all", family_of[r["pair"]])]
            if not chosen:
                continue
            pairs = len({r["pair"] for r in chosen})
            cells = [_counts([r for r in chosen if r["tool"] == tool]) for tool in tools]
            label = "**all**" if group == "all" else group
            lines.append(f"| {label} | {order} | {pairs} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_proofs(proofs, family_of):
    """Each proven pair's proof: its outcome and relative error."""
    lines = ["| pair | family | proof | relative error |", "|---|---|---|---|"]
    for r in proofs:
        error = "" if r["relative_error"] is None else f"{r['relative_error']:.2g}"
        outcome = r["outcome"] if r["outcome"] == "correct" else f"{r['outcome']}: {_first_line(r['message'])}"
        lines.append(f"| {r['pair']} | {family_of[r['pair']]} | {outcome} | {error} |")
    return "\n".join(lines)


def _one_line(text, limit=400):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_results(records, tools, pairs, sweep_text, command, proofs=(), orders=ORDERS, unpaired=()):
    """The whole RESULTS.md: counted (proven) pairs per family and order first, unproven pairs apart."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    found = versions(VERSIONED_PACKAGES)
    family_of = {p.name: p.family for p in pairs}
    proven = {r["pair"] for r in proofs if r["outcome"] == "correct"}
    failed = [r for r in proofs if r["outcome"] != "correct"]
    unproven = {p.name for p in pairs if p.prove is None}
    counted = [r for r in records if r["pair"] in proven]
    aside = [r for r in records if r["pair"] in unproven]
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
        "correct when the target then computes what the source computes. Each pair is first proven",
        f"equivalent by its own mapping (written by hand or a library's converter, relative error below {PROOF_TOLERANCE:g});",
        "a pair whose proof fails is not counted, a pair without a proof is reported apart as unproven.",
        "The source tree reaches each tool in three key orders: `definition` (the library's own),",
        "`alphabetical` (as a safetensors file gives them) and `shuffled` (seeded). Cells read",
        "correct / error / wrong. Seconds are spent inside the tool; run MiB is the peak memory of the",
        "whole run, tool MiB how far the tool raised it (for weightbridge 0.0.4: the peak of its own process).",
        "",
        f"### Proven pairs ({len(proven)}) per family and order",
        "",
        format_family_orders(counted, family_of, tools, orders) if counted else "None run.",
        "",
        "### Where weightbridge is not correct with zero hints (proven pairs)",
        "",
        weightbridge_shortfalls(counted, message=_first_line),
        "",
        f"### Unproven pairs ({len(unproven)}): hand-picked, without a proof, not counted above",
        "",
        format_family_orders(aside, family_of, tools, orders) if aside else "None run.",
        "",
        weightbridge_shortfalls(aside, message=_first_line) if aside else "",
        "",
        "### Proofs",
        "",
        format_proofs(proofs, family_of) if proofs else "None run.",
        "",
        f"Proofs that failed ({len(failed)}): " + (", ".join(r["pair"] for r in failed) if failed else "none") + ".",
        "",
    ]
    if unpaired:
        lines += ["### Families without a proven pair", ""]
        lines += [f"- {family}: {reason}" for family, reason in unpaired]
        lines += [""]
    lines += [
        "### Every run",
        "",
        format_table(records),
        "",
        "### Outcomes per tool (every order, proven and unproven)",
        "",
        format_summary(records, tools),
        "",
        "### Pairs",
        "",
    ]
    lines += [f"- {p.name} ({p.family})" + (f": {_one_line(p.notes)}" if p.notes else "") for p in pairs]
    if sweep_text is not None:  # without a sweep, the sweep section of an earlier run stays
        lines += ["", "## timm sweep", "", sweep_text]
    return "\n".join(lines + [""])


def _run_all(jobs, workers, timeout, orders, against="source"):
    """Run (pair, tool) jobs on `workers` processes at a time; the records in job order."""
    from concurrent.futures import ThreadPoolExecutor

    def run(job):
        pair, tool = job
        records = run_pair_tool(pair, tool, timeout, orders, against)
        for r in records:
            hints = f" after {len(r['hints_needed'])} proposed hints" if r["hints_needed"] else ""
            print(f"{pair} | {tool} | {r['order']}: {r['outcome']}{hints}", file=sys.stderr, flush=True)
        return records

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [r for records in pool.map(run, jobs) for r in records]


def main(argv=None):
    from benchmarks.zoo.tools import TOOLS

    parser = argparse.ArgumentParser(prog="python -m benchmarks.zoo", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", default="", help="only pairs whose name contains this substring")
    parser.add_argument(
        "--family", nargs="+", default=[],
        help="only these family modules (vision, ...; hand-picked) or families whose name contains the word",
    )
    parser.add_argument("--order", nargs="+", default=list(ORDERS), choices=ORDERS, help="source key orders")
    parser.add_argument(
        "--against", default="source", choices=REFERENCES,
        help="compare a mapped target with the source's output or with the target on its pair's proof",
    )
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS), help="tools to compare")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per (pair, tool) run over all orders")
    parser.add_argument("--no-sweep", action="store_true", help="skip the timm sweep")
    parser.add_argument("--sweep-limit", type=int, default=None, help="sweep a fixed random sample of N architectures")
    parser.add_argument("--sweep-timeout", type=float, default=60.0, help="seconds per architecture and style")
    parser.add_argument(
        "--sweep-budget", type=float, default=1800.0, help="start no further architecture after this many seconds"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (one per core)")
    parser.add_argument("--output", default=RESULTS_PATH, help="where to write the results")
    parser.add_argument("--run-one", nargs=4, metavar=("PAIR", "TOOL", "ORDERS", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        pair, tool, orders, output = args.run_one
        run_one(pair, tool, orders.split(","), output, args.against)
        return

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from benchmarks.zoo.catalog import select_pairs
    from benchmarks.zoo.families import vision

    pairs = [pair for pair in select_pairs(args.family) if args.pairs in pair.name]
    orders = [order for order in ORDERS if order in args.order]
    proofs = _run_all([(p.name, PROOF) for p in pairs if p.prove is not None], args.workers, args.timeout, orders)
    proven = {r["pair"] for r in proofs if r["outcome"] == "correct"}
    runnable = [p for p in pairs if p.prove is None or p.name in proven]
    records = _run_all(
        [(p.name, tool) for p in runnable for tool in args.tools], args.workers, args.timeout, orders, args.against
    )
    family_of = {p.name: p.family for p in pairs}
    print(format_proofs(proofs, family_of))
    print()
    print(format_family_orders(records, family_of, args.tools, orders))

    if args.no_sweep:
        sweep_text = None
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
    text = format_results(records, args.tools, pairs, sweep_text, command, proofs, orders, vision.UNPAIRED)
    if os.path.exists(args.output):
        with open(args.output) as f:
            text = keep_other_sections(f.read(), text)  # the scale and conversion sections stay
    write_atomically(args.output, text)
    print(f"\nwrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
