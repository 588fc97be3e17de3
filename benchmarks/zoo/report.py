"""The zoo's records as markdown: the sections of benchmarks/RESULTS.md and the README's headline line.

A record is one run (`benchmarks.zoo.runner.run_one`): pair, tool, order, outcome, message,
hints_needed, zero_hint_error, seconds, run and tool bytes. weightbridge is shown twice: as a user
meets it, with zero hints (an `AmbiguityError` that proposed hints is an error there), and after
the hints its errors proposed.
"""

import datetime
import os
from collections import Counter

from benchmarks.zoo.runner import PROOF
from benchmarks.zoo.verify import PROOF_TOLERANCE

OUTCOMES = ("correct", "error", "wrong", "crashed", "n/a")

LEGACY = "weightbridge-0.0.4"

# The README's headline line sits between these markers; `replace_headline` rewrites it.
HEADLINE_START = "<!-- zoo headline: written by python -m benchmarks.zoo --readme -->"
HEADLINE_END = "<!-- /zoo headline -->"


def zero_hint_outcome(record):
    """The outcome before any hint of the tool's own: hints are only added after an error proposed them."""
    return "error" if record["hints_needed"] else record["outcome"]


def zero_hint_message(record):
    return record["zero_hint_error"] if record["hints_needed"] else record["message"]


def _final_outcome(record):
    return record["outcome"]


def columns(tools):
    """The tables' tool columns, `(label, tool, outcome of a record)`: weightbridge with zero hints and with its proposed hints."""
    found = []
    for tool in tools:
        if tool == "weightbridge":
            found += [("weightbridge, zero hints", tool, zero_hint_outcome), ("weightbridge, proposed hints", tool, _final_outcome)]
        else:
            found.append((tool, tool, _final_outcome))
    return found


def _mib(value):
    return "" if value is None else f"{value / 2**20:.0f}"


def _seconds(value):
    return "" if value is None else f"{value:.2f}"


def _hints(hints, shown=3):
    """The hints as Python tuples; past `shown` of them, how many and the first ones (a loop may propose a hundred)."""
    listed = ", ".join(f"({my!r}, {their!r})" for my, their in hints[:shown])
    return listed if len(hints) <= shown else f"{len(hints)} hints: {listed}, ..."


def _one_line(text, limit=400):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(text):
    lines = (text or "").strip().splitlines()
    return _one_line(lines[0] if lines else "")


def _counts(outcomes):
    counts = Counter(outcomes)
    cell = f"{counts['correct']} / {counts['error']} / {counts['wrong']}"
    others = [f"{counts[o]} {o}" for o in ("crashed", "n/a") if counts[o]]
    return cell + (f" ({', '.join(others)})" if others else "")


def _column_counts(records, tool, outcome):
    return _counts(outcome(r) for r in records if r["tool"] == tool)


def format_table(records):
    """Every (pair, order, tool) run as a markdown table."""
    lines = [
        "| pair | order | tool | outcome | hints needed | seconds | run seconds | run MiB | tool MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['pair']} | {r['order']} | {r['tool']} | {r['outcome']} | {_hints(r['hints_needed'])} | "
            f"{_seconds(r['seconds'])} | {_seconds(r['run_seconds'])} | {_mib(r['run_bytes'])} | {_mib(r['tool_bytes'])} |"
        )
    return "\n".join(lines)


def format_summary(records, tools):
    """How often each tool column reached each outcome."""
    lines = ["| tool | " + " | ".join(OUTCOMES) + " |", "|---|" + "---|" * len(OUTCOMES)]
    for label, tool, outcome in columns(tools):
        counts = Counter(outcome(r) for r in records if r["tool"] == tool)
        lines.append(f"| {label} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    return "\n".join(lines)


def format_family_orders(records, family_of, tools, orders):
    """Per family and source order: correct / error / wrong for each tool column (crashed and n/a besides)."""
    chosen_columns = columns(tools)
    families = list(dict.fromkeys(family_of[r["pair"]] for r in records))
    lines = [
        "| family | order | pairs | " + " | ".join(label for label, _, _ in chosen_columns) + " |",
        "|---|---|---|" + "---|" * len(chosen_columns),
    ]
    for group in families + ["all"]:
        for order in orders:
            chosen = [r for r in records if r["order"] == order and group in ("all", family_of[r["pair"]])]
            if not chosen:
                continue
            pairs = len({r["pair"] for r in chosen})
            cells = [_column_counts(chosen, tool, outcome) for _, tool, outcome in chosen_columns]
            label = "**all**" if group == "all" else group
            lines.append(f"| {label} | {order} | {pairs} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _described(outcome, message, relative_error):
    if outcome == "wrong":
        return f"wrong: relative output error {relative_error:.3g}"
    return outcome if outcome == "correct" else f"{outcome}: {_first_line(message)}"


def weightbridge_shortfalls(records):
    """Every run where weightbridge was not correct with zero hints: the first line of the error a user meets,
    then what the hints that error proposed achieved."""
    lines = []
    for r in records:
        if r["tool"] != "weightbridge" or zero_hint_outcome(r) == "correct":
            continue
        reason = _described(zero_hint_outcome(r), zero_hint_message(r), r["relative_error"])
        if r["hints_needed"]:
            after = _described(r["outcome"], r["message"], r["relative_error"])
            reason += f"; with the hints it proposed, {_hints(r['hints_needed'])}: {after}"
        lines.append(f"- {r['pair']} [{r['order']}]: {reason}")
    return "\n".join(lines) if lines else "None: weightbridge was correct on every pair with zero hints."


def format_proofs(proofs, family_of):
    """Each pair's proof: its outcome and relative error."""
    lines = ["| pair | family | proof | relative error |", "|---|---|---|---|"]
    for r in proofs:
        error = "" if r["relative_error"] is None else f"{r['relative_error']:.2g}"
        outcome = r["outcome"] if r["outcome"] == "correct" else f"{r['outcome']}: {_first_line(r['message'])}"
        lines.append(f"| {r['pair']} | {family_of[r['pair']]} | {outcome} | {error} |")
    return "\n".join(lines)


def _headline_cells(records, tools, orders):
    """Per order: (order, pairs, zero-hint weightbridge counts, 0.0.4 counts or None)."""
    rows = []
    for order in orders:
        chosen = [r for r in records if r["order"] == order]
        legacy = _column_counts(chosen, LEGACY, _final_outcome) if LEGACY in tools else None
        rows.append((order, len({r["pair"] for r in chosen}), _column_counts(chosen, "weightbridge", zero_hint_outcome), legacy))
    return rows


def format_headline(records, tools, orders):
    """Per source order, over `records` (the proven pairs): weightbridge with zero hints beside 0.0.4."""
    rows = _headline_cells(records, tools, orders)
    legacy = LEGACY in tools
    lines = [
        "| source order | pairs | weightbridge, zero hints" + (" | weightbridge 0.0.4" if legacy else "") + " |",
        "|---|---|---|" + ("---|" if legacy else ""),
    ]
    for order, pairs, ours, theirs in rows:
        lines.append(f"| {order} | {pairs} | {ours}" + (f" | {theirs}" if legacy else "") + " |")
    return "\n".join(lines)


def readme_headline(records, tools, orders):
    """The README's one line on the zoo, from the same records as `format_headline`."""
    rows = _headline_cells(records, tools, orders)
    pairs = len({r["pair"] for r in records})
    ours = ", ".join(f"{order} {cells}" for order, _, cells, _ in rows)
    line = f"Zoo, {pairs} proven pairs, correct / clear error / wrong per source order: weightbridge with zero hints: {ours}"
    if LEGACY in tools:
        line += "; weightbridge 0.0.4: " + ", ".join(f"{order} {cells}" for order, _, _, cells in rows)
    return line + "."


def replace_headline(text, line):
    """`text` (the README) with the line between `HEADLINE_START` and `HEADLINE_END` replaced by `line`."""
    start, end = text.find(HEADLINE_START), text.find(HEADLINE_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {HEADLINE_START} ... {HEADLINE_END} block")
    return text[: start + len(HEADLINE_START)] + "\n" + line + "\n" + text[end:]


def format_slowest(timings, family_of, count=10):
    """The pairs that took longest, building both models once and making every run."""
    slowest = sorted(timings.values(), key=lambda timing: -timing["seconds"])[:count]
    lines = ["| pair | family | seconds | CPU seconds | of which building | build MiB |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {t['pair']} | {family_of[t['pair']]} | {t['seconds']:.1f} | {t['cpu_seconds']:.1f} | {t['build_seconds']:.1f} | "
        f"{_mib(t['build_bytes'])} |"
        for t in slowest
    ]
    return "\n".join(lines)


def split_records(records, pairs):
    """`(proofs, runs on proven pairs, runs on pairs without a proof)`; runs on pairs whose proof failed are in neither."""
    proofs = [r for r in records if r["tool"] == PROOF]
    proven = {r["pair"] for r in proofs if r["outcome"] == "correct"}
    unproven = {p.name for p in pairs if p.prove is None}
    runs = [r for r in records if r["tool"] != PROOF]
    return proofs, [r for r in runs if r["pair"] in proven], [r for r in runs if r["pair"] in unproven]


def format_results(records, timings, tools, pairs, sweep_text, command, versions, orders, wall, workers, unpaired=()):
    """The whole zoo part of RESULTS.md: headline, proven pairs per family and order, unproven pairs apart, proofs, every run.

    `records` and `timings` are what `benchmarks.zoo.runner.run_pairs` returns, the proofs among the
    records as tool "proof"; the zoo took `wall` seconds on `workers` workers.
    """
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    family_of = {p.name: p.family for p in pairs}
    proofs, counted, aside = split_records(records, pairs)
    runs = [r for r in records if r["tool"] != PROOF]
    proven = {r["pair"] for r in proofs if r["outcome"] == "correct"}
    failed = [r for r in proofs if r["outcome"] != "correct"]
    unproven = {p.name for p in pairs if p.prove is None}
    cpu = sum(timing["cpu_seconds"] for timing in timings.values())
    lines = [
        "# Benchmark results",
        "",
        f"Generated {now} by `{command}` on {os.cpu_count()} cores.",
        "",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()) + ".",
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
        "correct / error / wrong. weightbridge is counted as a user meets it, with zero hints (an",
        "`AmbiguityError` is an error even where it proposed hints), and after the hints its errors proposed.",
        "",
        "Each pair runs in a long-lived worker process, one per core, which builds both models once and",
        "loads their weights as built back before every run. Seconds are spent inside the tool; run",
        "seconds are the whole run (the weight trees, the tool, loading and running both models). Run MiB",
        "is how far the run raised the worker's resident memory above what it held before it (garbage",
        "collected and freed heap returned first, the kernel's peak reset), tool MiB the same for the",
        "tool's calls alone (for weightbridge 0.0.4: the peak of its own process).",
        f"The {len(timings)} pairs' {len(records)} runs took {wall:.0f} s on {workers} workers, {cpu:.0f} CPU seconds.",
        "",
        "### Headline: proven pairs per source order",
        "",
        format_headline(counted, tools, orders) if counted else "None run.",
        "",
        readme_headline(counted, tools, orders) if counted else "",
        "",
        f"### Proven pairs ({len(proven)}) per family and order",
        "",
        format_family_orders(counted, family_of, tools, orders) if counted else "None run.",
        "",
        "### Where weightbridge is not correct with zero hints (proven pairs)",
        "",
        weightbridge_shortfalls(counted),
        "",
        f"### Unproven pairs ({len(unproven)}): hand-picked, without a proof, not counted above",
        "",
        format_family_orders(aside, family_of, tools, orders) if aside else "None run.",
        "",
        weightbridge_shortfalls(aside) if aside else "",
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
        "### Slowest pairs",
        "",
        format_slowest(timings, family_of),
        "",
        "### Every run",
        "",
        format_table(runs),
        "",
        "### Outcomes per tool (every order, proven and unproven)",
        "",
        format_summary(runs, tools),
        "",
        "### Pairs",
        "",
    ]
    lines += [f"- {p.name} ({p.family})" + (f": {_one_line(p.notes)}" if p.notes else "") for p in pairs]
    if sweep_text is not None:  # without a sweep, the sweep section of an earlier run stays
        lines += ["", "## timm sweep", "", sweep_text]
    return "\n".join(lines + [""])
