"""Run every zoo pair with every tool, then the timm sweep, and write benchmarks/RESULTS.md.

    python -m benchmarks.zoo                       # everything
    python -m benchmarks.zoo --pairs resnet --tools weightbridge name-identity --no-sweep
    python -m benchmarks.zoo --sweep-limit 100     # the sweep on a fixed random sample
    python -m benchmarks.zoo --family vision --order definition alphabetical --no-sweep
    python -m benchmarks.zoo --readme              # also rewrite the README's headline line
    python -m benchmarks.zoo --family text --against proof --no-sweep   # against keras-hub's converter

Each pair's proof (a mapping written by hand or a library's converter) runs first; a pair whose
proof fails is reported and not counted, a pair without a proof is counted apart as unproven. Then
each tool runs on the pair in every selected source order, on long-lived workers, one per core
(`benchmarks.zoo.runner`, which says how seconds and memory are measured). The tables show:

- outcome: "correct" (the target computes what the source computes), "error" (the tool refused
  loudly), "wrong" (it returned weights that compute something else), "crashed" (any other
  failure), "n/a" (the tool does not apply to these trees, e.g. timm's remap to a Flax model);
- weightbridge with zero hints, and after the hints its own AmbiguityError proposed;
- seconds inside the tool, run seconds, run MiB and tool MiB (see `benchmarks.zoo.runner`).
"""

import argparse
import os
import sys
import time

from benchmarks.results import README_PATH, RESULTS_PATH, keep_other_sections, versions, write_atomically
from benchmarks.zoo.verify import ORDERS, REFERENCES

VERSIONED_PACKAGES = (
    "torch", "torchvision", "timm", "transformers", "open_clip_torch", "jax", "flax", "keras", "keras-hub", "numpy", "einx",
    "ortools",
)


def main(argv=None):
    from benchmarks.zoo.tools import TOOLS

    parser = argparse.ArgumentParser(prog="python -m benchmarks.zoo", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", default="", help="only pairs whose name contains this substring")
    parser.add_argument(
        "--family", nargs="+", default=[],
        help="only these family modules (vision, ...; hand-picked) or families whose name contains the word",
    )
    parser.add_argument("--order", nargs="+", default=list(ORDERS), choices=ORDERS, help="source key orders")
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS), help="tools to compare")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run (one pair, tool and order)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the timm sweep")
    parser.add_argument("--sweep-limit", type=int, default=None, help="sweep a fixed random sample of N architectures")
    parser.add_argument("--sweep-timeout", type=float, default=60.0, help="seconds per architecture and style")
    parser.add_argument(
        "--sweep-budget", type=float, default=1800.0, help="start no further architecture after this many seconds"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (one per core)")
    parser.add_argument("--output", default=RESULTS_PATH, help="where to write the results")
    parser.add_argument("--readme", action="store_true", help="rewrite the README's headline line from the results")
    parser.add_argument(
        "--against", default="source", choices=REFERENCES,
        help="compare a mapped target with the source's output or with the target on its pair's proof",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from benchmarks.zoo import report
    from benchmarks.zoo.catalog import select_pairs
    from benchmarks.zoo.families import vision
    from benchmarks.zoo.runner import pair_runs, run_pairs

    pairs = [pair for pair in select_pairs(args.family) if args.pairs in pair.name]
    orders = [order for order in ORDERS if order in args.order]
    jobs = [(pair.name, pair_runs(pair, args.tools, orders)) for pair in pairs]
    start = time.perf_counter()
    records, timings = run_pairs(
        jobs, workers=args.workers, timeout=args.timeout, progress=print_progress, against=args.against
    )
    wall = time.perf_counter() - start
    _, counted, aside = report.split_records(records, pairs)
    print(report.format_family_orders(counted + aside, {p.name: p.family for p in pairs}, args.tools, orders))

    if args.no_sweep:
        sweep_text = None
    else:
        from benchmarks.zoo import sweep

        models = sweep.select_models(args.sweep_limit)
        result = sweep.run_sweep(
            models,
            timeout=args.sweep_timeout,
            budget=args.sweep_budget,
            workers=args.workers,
            progress=sweep.print_progress,
        )
        sweep_text = sweep.format_report(result)
        print()
        print(sweep_text)

    command = "python -m benchmarks.zoo" + "".join(f" {arg}" if " " not in arg else f" '{arg}'" for arg in (argv or sys.argv[1:]))
    text = report.format_results(
        records, timings, args.tools, pairs, sweep_text, command, versions(VERSIONED_PACKAGES), orders, wall,
        args.workers, vision.UNPAIRED,
    )
    if not args.output:  # --output '': the tables above were the report
        print(f"\nzoo {wall:.0f} s, everything {time.perf_counter() - start:.0f} s", file=sys.stderr)
    else:
        if os.path.exists(args.output):
            with open(args.output) as f:
                text = keep_other_sections(f.read(), text)  # the scale and conversion sections stay
        write_atomically(args.output, text)
        print(f"\nwrote {args.output}: zoo {wall:.0f} s, everything {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.readme:
        line = report.readme_headline(counted, args.tools, orders)
        with open(README_PATH) as f:
            readme = report.replace_headline(f.read(), line)
        write_atomically(README_PATH, readme)
        print(f"wrote the headline of {README_PATH}: {line}", file=sys.stderr)


def print_progress(record, done, total):
    hints = f" after {len(record['hints_needed'])} proposed hints" if record["hints_needed"] else ""
    print(f"[{done}/{total}] {record['pair']} | {record['tool']} | {record['order']}: {record['outcome']}{hints}",
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
