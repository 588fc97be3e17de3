"""The HTML report of a match: one self-contained file (no network), the decisions to look at first on top.

The page is data plus a small script: the mapping is embedded as JSON and drawn by the browser, so a
report of 100,000 weights stays a file of names and numbers.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter

from ._features import FEATURE_WEIGHTS
from ._fusion import ORDER_SEPARATOR
from ._mapping import Pair, format_margin, write_text_atomically


def report_data(their, my, mapping=None, error=None, words=str) -> dict:
    """What the page shows: rows (ties first, then unmatched, then by margin), both module trees, links.
    For an AmbiguityError `error` the rows are those of its tentative mapping: the tied weights first,
    group by group with the hints that settle them, then the others as for a mapping. `words` rewrites
    the messages and hints into the caller's language (the command line's options)."""
    tied = getattr(error, "tied", {})
    if error is not None:
        mapping = getattr(error, "tentative", None)
    rows = []
    if mapping is not None:
        order = {name: k for k, (name, _, _) in enumerate(mapping.my_signature)}
        by_my = {pair.my: pair for pair in mapping.pairs}
        for number in sorted(set(tied.values())):
            names = sorted((name for name, group in tied.items() if group == number), key=order.get)
            group = [_row(by_my.get(name) or Pair(name, (), ""), f"tied (group {number})") for name in names]
            hints = [list(hint) for hint in getattr(error, "hints", []) if any(_pins(hint, row) for row in group)]
            hint_text = words(f"hints={[tuple(hint) for hint in hints]!r}") if hints else ""
            rows.extend(dict(row, hints=hints, hint_text=hint_text) for row in group)
        rows.extend(_row(Pair(name, (), ""), "no partner") for name in mapping.unmatched_my)
        status = "matched" if error is None else "tentative"
        rows.extend(_row(pair, status) for pair in sorted(mapping.pairs, key=lambda p: p.margin) if pair.my not in tied)
    my_separator, their_separator = _separator(my), _separator(their)
    return {
        "rows": rows,
        "feature_weights": dict(FEATURE_WEIGHTS),
        "my_modules": _modules(list(my), my_separator),
        "their_modules": _modules(list(their), their_separator),
        "links": _module_links(mapping, my_separator, their_separator) if mapping is not None else {},
        "unmatched_their": list(mapping.unmatched_their) if mapping is not None else [],
        "error": None if error is None else {"message": words(str(error)), "hints": [list(h) for h in getattr(error, "hints", [])]},
        "counts": {"my": len(my), "their": len(their)},
    }


def _row(pair, status):
    return {"my": pair.my, "their": list(pair.their), "status": status, "transform": pair.transform,
            "margin": None if math.isinf(pair.margin) else pair.margin, "margin_text": format_margin(pair.margin),
            "features": pair.features, "runner_up": pair.runner_up, "runner_up_features": pair.runner_up_features,
            "hints": [], "hint_text": ""}


def _pins(hint, row):
    """Whether a hint speaks of a row: its `my` name holds the hint's first part and a partner the second
    (a part of an order hint: one of its pieces)."""
    mine, theirs = (part.split(ORDER_SEPARATOR) for part in hint)
    return any(piece in row["my"] for piece in mine) and any(piece in name for piece in theirs for name in row["their"])


def write_report(path, their, my, mapping=None, error=None, words=str) -> None:
    """Writes the report of `mapping` (or of the AmbiguityError `error`) for the signatures `their`, `my`."""
    data = json.dumps(report_data(their, my, mapping, error, words)).replace("</", "<\\/")
    title = "weightbridge: ambiguous mapping" if error is not None else "weightbridge mapping"
    write_text_atomically(path, _PAGE.replace("{title}", html.escape(title)).replace("{data}", data))


def _separator(names) -> str:
    return "/" if any("/" in name for name in names) else "."


def _modules(names, separator):
    """Every module (a proper prefix of a name), in first-appearance order: `[path, depth, weights]`."""
    counts, order = Counter(), []
    for name in names:
        parts = name.split(separator)
        for depth in range(1, len(parts)):
            module = separator.join(parts[:depth])
            if module not in counts:
                order.append((module, depth - 1))
            counts[module] += 1
    return [[module, depth, counts[module]] for module, depth in order]


def _module_links(mapping, my_separator, their_separator):
    """Each `my` module to the `their` module most of its weights come from (by their partners' parents)."""
    votes = {}
    for pair in mapping.pairs:
        my_parts = pair.my.split(my_separator)
        their_parts = [name.split(their_separator) for name in pair.their]
        for depth in range(1, len(my_parts)):
            module = my_separator.join(my_parts[:depth])
            # A module of `my` depth levels above the leaf corresponds to the one as far above the partner.
            up = len(my_parts) - depth
            for parts in their_parts:
                if len(parts) > up:
                    votes.setdefault(module, Counter())[their_separator.join(parts[:-up])] += 1
    return {module: counter.most_common(1)[0][0] for module, counter in votes.items()}


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
code, td, .tree { font-family: ui-monospace, monospace; font-size: 12.5px; }
#filter { width: 40em; padding: 4px; font-size: 14px; }
table { border-collapse: collapse; margin-top: 0.8em; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
tr.tied td { background: #fde2e2; }
tr.none td { background: #fff3cd; }
.bars { display: grid; grid-template-columns: max-content 9em 9em; gap: 1px 6px; font-size: 11px; }
.cell { white-space: nowrap; }
.hint { font-size: 11px; color: #8a2020; word-break: break-all; max-width: 20em; }
.runner-name { font-size: 11px; color: #8a5a20; word-break: break-all; max-width: 30em; }
td:first-child, td:nth-child(2) { word-break: break-all; max-width: 26em; }
.bar { height: 9px; background: #4a7bd0; display: inline-block; }
.bar.runner { background: #c77a2b; }
pre.error { background: #fde2e2; padding: 0.8em; white-space: pre-wrap; }
.trees { display: flex; gap: 3em; margin-top: 1em; }
.tree div { white-space: nowrap; }
.tree a { color: #1b4f9c; text-decoration: none; }
.tree .target { background: #ffe98a; }
</style>
</head>
<body>
<h1>{title}</h1>
<p id="summary"></p>
<pre class="error" id="error" hidden></pre>
<input id="filter" type="search" placeholder="filter: part of a name, a transform, 'tied'...">
<span id="shown"></span>
<table id="pairs">
<thead><tr><th>my</th><th>their</th><th>transform</th><th>margin</th><th>evidence (weighted feature costs: chosen, runner-up)</th></tr></thead>
<tbody></tbody>
</table>
<h2>Module trees</h2>
<p>Each module of <b>my</b> links to the module of <b>their</b> that most of its weights come from.</p>
<div class="trees"><div class="tree" id="my-tree"><h3>my</h3></div><div class="tree" id="their-tree"><h3>their</h3></div></div>
<script id="data" type="application/json">{data}</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const weights = data.feature_weights;
const largest = Math.max(1e-9, ...data.rows.flatMap(r =>
  Object.keys(weights).flatMap(f => [weights[f] * (r.features[f] || 0), weights[f] * (r.runner_up_features[f] || 0)])));

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attributes || {});
  for (const child of children) node.append(child);
  return node;
}

function bar(value, runner) {
  const span = element("span", {className: runner ? "bar runner" : "bar", title: value.toFixed(3)});
  span.style.width = Math.round(70 * value / largest) + "px";
  return element("span", {className: "cell"}, span, " " + value.toFixed(2));
}

function paired(row) {
  return row.status === "matched" || row.status === "tentative";
}

function evidence(row) {
  if (!Object.keys(row.features).length) return element("span", {}, paired(row) ? "" : row.status);
  const shown = Object.entries(weights).filter(([f]) => (row.features[f] || 0) + (row.runner_up_features[f] || 0) > 0);
  const total = features => Object.entries(weights).reduce((sum, [f, w]) => sum + w * (features[f] || 0), 0);
  const grid = element("div", {className: "bars"}, element("b", {}, "cost"), element("b", {}, "chosen " + total(row.features).toFixed(2)),
                       element("b", {}, row.runner_up ? "runner-up " + total(row.runner_up_features).toFixed(2) : "no runner-up"));
  for (const [feature, weight] of shown) {
    grid.append(element("span", {}, feature), bar(weight * (row.features[feature] || 0), false),
                row.runner_up ? bar(weight * (row.runner_up_features[feature] || 0), true) : element("span"));
  }
  const box = element("div", {}, grid);
  if (row.runner_up) box.append(element("div", {className: "runner-name"}, "runner-up: " + row.runner_up));
  return box;
}

const body = document.querySelector("#pairs tbody");
for (const row of data.rows) {
  const margin = element("td", {}, paired(row) ? row.margin_text : row.status);
  if (row.hint_text) margin.append(element("div", {className: "hint"}, row.hint_text));
  const tr = element("tr", {className: row.status.startsWith("tied") ? "tied" : row.status === "no partner" ? "none" : ""},
    element("td", {}, row.my), element("td", {}, row.their.join(" + ") || "(none)"),
    element("td", {}, row.transform || "="), margin, element("td", {}, evidence(row)));
  tr.dataset.text = [row.my, ...row.their, row.transform, row.status].join(" ").toLowerCase();
  body.append(tr);
}

const filter = document.getElementById("filter");
function applyFilter() {
  const words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const tr of body.rows) {
    const visible = words.every(word => tr.dataset.text.includes(word));
    tr.style.display = visible ? "" : "none";
    shown += visible;
  }
  document.getElementById("shown").textContent = shown + " of " + body.rows.length + " rows";
}
filter.addEventListener("input", applyFilter);
applyFilter();

const tied = data.rows.filter(r => r.status.startsWith("tied")).length;
document.getElementById("summary").textContent = data.counts.my + " my weights, " + data.counts.their +
  " their weights; " + (tied ? tied + " tied, " : "") + data.rows.filter(paired).length +
  (data.error ? " tentative pairs" : " pairs") +
  (data.unmatched_their.length ? "; their weights left over: " + data.unmatched_their.length : "");
if (data.error) {
  const box = document.getElementById("error");
  box.hidden = false;
  box.textContent = data.error.message;
}

function tree(id, side, modules, links) {
  const root = document.getElementById(id);
  for (const [path, depth, count] of modules) {
    const line = element("div", {id: side + ":" + path});
    line.style.paddingLeft = (1.2 * depth) + "em";
    const label = path + " (" + count + ")";
    if (links && links[path] !== undefined) {
      line.append(element("a", {href: "#their:" + links[path], title: "their " + links[path],
                                onclick: () => highlight("their:" + links[path])}, label + " \\u2192"));
    } else {
      line.append(label);
    }
    root.append(line);
  }
}
function highlight(id) {
  for (const node of document.querySelectorAll(".target")) node.classList.remove("target");
  const node = document.getElementById(id);
  if (node) node.classList.add("target");
}
tree("my-tree", "my", data.my_modules, data.links);
tree("their-tree", "their", data.their_modules, null);
</script>
</body>
</html>
"""
