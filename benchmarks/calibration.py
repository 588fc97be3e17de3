"""Calibration: every decision the matcher makes on the zoo, its margin, and whether it was right.

    python -m benchmarks.calibration                      # every proven zoo pair in every order, the timm sweep
    python -m benchmarks.calibration --family text --order definition --sweep-limit 0 --output ''

A decision is one `my` weight's partner. Whether it was right is read from the pair's proof (a
mapping written by hand or a library's converter): the tensor weightbridge gives that weight must
equal the one the proof gives, element for element. This judges each decision on its own, also in
pairs whose mapping as a whole is refused, where the error's tentative mapping holds the decisions.

The timm sweep's architectures (`benchmarks.zoo.sweep`: each ported to Flax and to a TensorFlow
checkpoint, keys sorted) are judged alike, against the true mapping each port records.

A decision is accepted when its margin (how much more the best mapping without it costs) lies above
the tolerance it was solved at (the matcher's acceptance threshold: `TOLERANCE` where both sides keep
their definition order, `TOLERANCE_WITHOUT_ORDER` or `DISPLACED_TOLERANCE` where order is no evidence);
a tied decision is refused, and the AmbiguityError names it. The section shows the margins of right and
of wrong decisions, accepted and refused, per range, and lists every wrong decision that was accepted:
the threshold is calibrated when that list is empty.
"""

import argparse
import math
import multiprocessing
import os
import sys
import time
import warnings
from collections import Counter

from benchmarks.results import RESULTS_PATH, write_section
from benchmarks.zoo.verify import ORDERS

HEADING = "## Calibration: margins of right and wrong decisions"
# Margin ranges, each (low, high]: 0 is an exact tie, 1.0 and above the solver proves only as bounds.
SWEEP_CHUNK = 50
BINS = ((-math.inf, 0.0), (0.0, 0.05), (0.05, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 1.0), (1.0, math.inf))


def decisions(pair, built, order, seed=0):
    """The decisions of weightbridge on `pair` (sides in `built`, a `BuiltPair`) in the source `order`:
    `(outcome, message, [(my name, margin, right, accepted)])`; outcome "mapped", "ambiguous" or the
    error class that left no decisions to judge."""
    import numpy as np

    import weightbridge
    from benchmarks.zoo.verify import reordered
    from weightbridge._leaves import infer_separator, read_leaves

    source, target = built.sides(seed)
    their, my = reordered(source.weights(), order, seed), target.weights()
    proof = _flat(pair.prove(source.weights(), my), read_leaves, infer_separator)
    mapping, tied, outcome, message = _matched(weightbridge, their, my)
    if mapping is None:
        return outcome, message, []
    found = []
    for name, value in mapping.iter_apply(their):
        expected = proof.get(name)
        right = expected is not None and np.shape(expected) == np.shape(value) and np.array_equal(
            np.asarray(expected, dtype=np.float64), np.asarray(value, dtype=np.float64))
        margin = mapping[name].margin
        found.append((name, None if math.isinf(margin) else float(margin), bool(right), name not in tied))
    return outcome, message, found


def sweep_decisions(model_name, style):
    """The decisions of weightbridge on timm's `model_name` ported in `style` (see `benchmarks.zoo.sweep`),
    judged against the port's true mapping; as `decisions`."""
    import weightbridge
    from benchmarks.zoo.sweep import ported_trees, timm_signature

    port, their, my = ported_trees(timm_signature(model_name), style)
    mapping, tied, outcome, message = _matched(weightbridge, their, my)
    if mapping is None:
        return outcome, message, []
    truth = {name: (their_name,) for name, their_name in port.truth.items()}
    return outcome, message, [(pair.my, None if math.isinf(pair.margin) else float(pair.margin),
                               tuple(pair.their) == truth.get(pair.my), pair.my not in tied) for pair in mapping.pairs]


def _matched(weightbridge, their, my):
    """`(mapping, tied my names, outcome, message)` of `match(their, my)`: for an AmbiguityError its
    tentative mapping (None when it has none); for another error no mapping."""
    try:
        return weightbridge.match(their, my), {}, "mapped", ""
    except weightbridge.AmbiguityError as error:
        return error.tentative, error.tied, "ambiguous", str(error).splitlines()[0]
    except weightbridge.WeightbridgeError as error:
        return None, {}, type(error).__name__, str(error).splitlines()[0]


def _flat(tree, read_leaves, infer_separator):
    import numpy as np

    leaves, _, values = read_leaves(tree, "my", infer_separator(tree, "my"))
    flat = {}
    for leaf, value in zip(leaves, values):
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        for name in (leaf.name,) + leaf.aliases:
            flat[name] = array
    return flat


def run_job(job):
    """A zoo pair in every order (`("zoo", pair name, orders)`) or sweep architectures in every style
    (`("sweep", model names, styles)`), in a worker process; a list of records."""
    kind, name, orders = job
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if kind == "sweep":
        return [_record("sweep", f"timm {model} ({style})", "alphabetical", lambda: sweep_decisions(model, style))
                for model in name for style in orders]
    import torch

    from benchmarks.zoo.catalog import PAIRS
    from benchmarks.zoo.verify import BuiltPair

    torch.set_num_threads(1)
    pair = PAIRS[name]
    try:
        built = BuiltPair(pair)
    except Exception as error:  # noqa: BLE001 - a pair that does not build is reported, not judged
        return [{"source": "zoo", "pair": name, "order": order, "outcome": "not built", "message": f"{type(error).__name__}: {error}",
                 "decisions": []} for order in orders]
    return [_record("zoo", name, order, lambda: decisions(pair, built, order)) for order in orders]


def _record(source, name, order, judge):
    start = time.perf_counter()
    try:
        outcome, message, found = judge()
    except Exception as error:  # noqa: BLE001 - a crash is a finding of its own
        outcome, message, found = "crashed", f"{type(error).__name__}: {error}", []
    return {"source": source, "pair": name, "order": order, "outcome": outcome, "message": message[:300],
            "decisions": found, "seconds": time.perf_counter() - start}


def bin_of(margin):
    margin = math.inf if margin is None else margin
    for k, (low, high) in enumerate(BINS):
        if low < margin <= high:
            return k
    return len(BINS) - 1


def bin_label(k):
    low, high = BINS[k]
    if low == -math.inf:
        return "0 (exact tie)"
    if high == math.inf:
        return ">= 1.0 (bounds), inf"
    return f"({low:g}, {high:g}]"


def format_report(records, command, seconds):
    judged = [r for r in records if r["decisions"]]
    counts = Counter()
    accepted_wrong = []
    for record in judged:
        for name, margin, right, accepted in record["decisions"]:
            counts[(bin_of(margin), accepted, right)] += 1
            if accepted and not right:
                accepted_wrong.append((record["pair"], record["order"], name, margin))
    zoo, sweep = ([r for r in records if r["source"] == source] for source in ("zoo", "sweep"))
    lines = [
        f"`{command}`: {len(records)} runs in {seconds:.0f} s: {len(zoo)} zoo runs ({len({r['pair'] for r in zoo})} proven pairs, "
        f"every order; {sum(len(r['decisions']) for r in zoo)} decisions), {len(sweep)} sweep runs "
        f"({len({r['pair'].rsplit(' (', 1)[0] for r in sweep})} timm architectures, both styles; {sum(len(r['decisions']) for r in sweep)} decisions);",
        f"{len(judged)} runs left decisions to judge (mapped, or refused with a tentative mapping)"
        + ("." if len(judged) == len(records) else "; the others raised another error first (" + ", ".join(
            f"{k}: {v}" for k, v in sorted(Counter(r["outcome"] for r in records if not r["decisions"]).items())) + ")."),
        "",
        "| margin | accepted, right | accepted, wrong | refused (tied), right | refused (tied), wrong |",
        "|---|---|---|---|---|",
    ]
    for k in range(len(BINS)):
        row = [counts[(k, True, True)], counts[(k, True, False)], counts[(k, False, True)], counts[(k, False, False)]]
        lines.append(f"| {bin_label(k)} | " + " | ".join(str(c) for c in row) + " |")
    total = [sum(counts[(k, a, r)] for k in range(len(BINS))) for a, r in ((True, True), (True, False), (False, True), (False, False))]
    lines.append("| **all** | " + " | ".join(f"**{c}**" for c in total) + " |")
    lines.append("")
    lines.append(
        "The acceptance threshold is the tolerance a decision was solved at: 0 where both sides keep their "
        "definition order (an exact tie is refused), 0.25 where order is no evidence for it. "
        + ("No accepted decision was wrong." if not accepted_wrong else
           f"{len(accepted_wrong)} accepted decisions were wrong (the threshold is not yet calibrated):"))
    if accepted_wrong:
        lines.append("")
        by_run = Counter((pair, order) for pair, order, _, _ in accepted_wrong)
        for (pair, order), count in sorted(by_run.items()):
            examples = [(n, m) for p, o, n, m in accepted_wrong if (p, o) == (pair, order)]
            shown = ", ".join(f"`{n}` ({'inf' if m is None else f'{m:.3f}'})" for n, m in examples[:3])
            lines.append(f"- {pair} [{order}]: {count} wrong, margins: {shown}" + (" ..." if count > 3 else ""))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calibration", description=__doc__.split("\n")[0])
    parser.add_argument("--family", nargs="+", default=[], help="only these family modules or families (as the zoo's --family)")
    parser.add_argument("--pairs", default="", help="only pairs whose name contains this substring")
    parser.add_argument("--order", nargs="+", default=list(ORDERS), choices=ORDERS)
    parser.add_argument("--sweep-limit", type=int, default=None,
                        help="judge the first N of the timm sweep's architectures in its fixed shuffled order (0: none; default all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", default=RESULTS_PATH, help="the RESULTS.md to write the section into ('' to only print)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from benchmarks.zoo.catalog import select_pairs

    from benchmarks.zoo.sweep import STYLES, select_models

    names = [p.name for p in select_pairs(args.family) if p.prove is not None and args.pairs in p.name]
    jobs = [("zoo", name, args.order) for name in names]
    models = select_models(limit=args.sweep_limit) if args.sweep_limit != 0 else []
    # A sweep architecture takes about a second on the meta device, a worker's start several: many to a worker.
    jobs += [("sweep", tuple(models[k:k + SWEEP_CHUNK]), STYLES) for k in range(0, len(models), SWEEP_CHUNK)]
    start = time.perf_counter()
    records = []
    with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=1) as pool:
        for found in pool.imap_unordered(run_job, jobs):
            records.extend(found)
            for r in found:
                wrong = sum(1 for _, _, right, _ in r["decisions"] if not right)
                print(f"{r['pair']} [{r['order']}]: {r['outcome']}, {len(r['decisions'])} decisions, {wrong} wrong",
                      file=sys.stderr, flush=True)
    command = "python -m benchmarks.calibration" + "".join(f" {a}" if a and " " not in a else f" '{a}'" for a in (argv or sys.argv[1:]))
    report = format_report(records, command, time.perf_counter() - start)
    print(report)
    write_section(args.output, HEADING, report)


if __name__ == "__main__":
    main()
