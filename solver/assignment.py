"""Minimum-cost one-to-one assignment on a bipartite cost graph, with the margin of every choice.

Each connected component of the graph is solved on its own with OR-Tools'
``SimpleLinearSumAssignment`` (a cost-scaling push-relabel algorithm, Goldberg & Kennedy 1995),
which needs integer costs: costs are scaled and rounded, so equal evidence gives exactly equal
costs and ties are seen as ties. Nodes may stay unmatched at a price (``unmatched_cost`` per
node), modelled by one dummy partner per node; the dummy block mirrors the real block so that
every real matching extends to a perfect one (the construction of Ramshaw & Tarjan 2012, §3).

The margin of a chosen edge is how much more the best assignment costs when that edge is
forbidden: a margin within ``tolerance`` means the optimum is not unique. An optional integer
``tiebreak`` per edge orders assignments of equal cost (lexicographic objective); only
assignments equal in both are ties.
"""

import dataclasses
import math

import networkx as nx
import numpy as np
from ortools.graph.python import linear_sum_assignment

SCALE = 1000


@dataclasses.dataclass(frozen=True)
class Assignment:
    """The solution: ``pairs`` maps left nodes to right nodes; ``margins`` maps left nodes to the margin
    of their pair (``math.inf`` when no other assignment keeps as many pairs); ``alternatives`` maps the
    left nodes whose margin is within tolerance to the runner-up pairing of the nodes it changes."""

    pairs: dict
    margins: dict
    alternatives: dict
    unmatched_left: tuple
    unmatched_right: tuple
    cost: float


def _integer(cost):
    return int(round(cost * SCALE))


def _solve(num_rows, num_cols, arc_rows, arc_cols, arc_costs, unmatched):
    """Solves one component; returns (integer cost, row -> col or -1)."""
    solver = linear_sum_assignment.SimpleLinearSumAssignment()
    n = num_rows + num_cols
    rows = np.arange(num_rows)
    cols = np.arange(num_cols)
    # Left nodes: real rows 0..R-1, dummy rows R..R+C-1 (one per column).
    # Right nodes: real cols 0..C-1, dummy cols C..C+R-1 (one per row).
    starts = np.concatenate([arc_rows, rows, num_rows + cols, num_rows + arc_cols])
    ends = np.concatenate([arc_cols, num_cols + rows, cols, num_cols + arc_rows])
    costs = np.concatenate([arc_costs, np.full(num_rows, unmatched), np.full(num_cols, unmatched), np.zeros(len(arc_rows), dtype=np.int64)])
    solver.add_arcs_with_cost(starts.astype(np.int64), ends.astype(np.int64), costs.astype(np.int64))
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"linear sum assignment failed with status {status} on {n} nodes")
    mate = [solver.right_mate(r) for r in range(num_rows)]
    return solver.optimal_cost(), [m if m < num_cols else -1 for m in mate]


def solve_assignment(graph, left, right, *, weight="cost", tiebreak=None, unmatched_cost, tolerance):
    """Solves the assignment of `left` to `right` nodes over the edges of `graph`.

    Args:
        graph: a networkx graph whose edges join a left and a right node and carry `weight`.
        left, right: the two node sets, in a stable order.
        unmatched_cost: the price of leaving one node without a partner.
        tolerance: margins up to this value count as ties.
        tiebreak: an edge attribute with small non-negative integers that decides between
            assignments of equal cost (lower wins).
    """
    left, right = list(left), list(right)
    left_set, right_set = set(left), set(right)
    order = {node: i for i, node in enumerate(left + right)}
    pairs, margins, alternatives, total = {}, {}, {}, 0.0
    unmatched_integer = _integer(unmatched_cost)
    tolerance_integer = _integer(tolerance)
    components = sorted(nx.connected_components(graph.subgraph(left + right)), key=lambda c: min(order[n] for n in c))
    for component in components:
        rows = sorted((n for n in component if n in left_set), key=order.get)
        cols = sorted((n for n in component if n in right_set), key=order.get)
        if not rows or not cols:
            continue
        row_index = {n: i for i, n in enumerate(rows)}
        col_index = {n: i for i, n in enumerate(cols)}
        edges = list(graph.subgraph(component).edges(data=True))
        arcs = [(row_index[u], col_index[v]) if u in row_index else (row_index[v], col_index[u]) for u, v, _ in edges]
        arc_rows, arc_cols = (np.array(x, dtype=np.int64) for x in zip(*arcs))
        primary = np.array([_integer(d[weight]) for _, _, d in edges], dtype=np.int64)
        secondary = np.array([d.get(tiebreak, 0) if tiebreak else 0 for _, _, d in edges], dtype=np.int64)
        # Lexicographic objective: the primary cost dominates any assignment's sum of tie-breaks.
        # Tie-breaks are clipped where needed so that costs stay far from int64 overflow.
        n = len(rows) + len(cols)
        room = 2**60 // ((int(max(primary.max(), unmatched_integer)) + 1) * (n + 1))
        secondary = np.minimum(secondary, max(room // (len(rows) + 1), 0))
        factor = len(rows) * int(secondary.max()) + 1
        arc_costs = primary * factor + secondary
        best, mate = _solve(len(rows), len(cols), arc_rows, arc_cols, arc_costs, unmatched_integer * factor)
        matched = sum(m >= 0 for m in mate)
        total += best / factor / SCALE
        for r, c in enumerate(mate):
            if c < 0:
                continue
            pairs[rows[r]] = cols[c]
            keep = ~((arc_rows == r) & (arc_cols == c))
            if keep.all() or not keep.any():
                margins[rows[r]] = math.inf
                continue
            second, second_mate = _solve(len(rows), len(cols), arc_rows[keep], arc_cols[keep], arc_costs[keep], unmatched_integer * factor)
            if sum(m >= 0 for m in second_mate) < matched:
                margins[rows[r]] = math.inf
                continue
            margins[rows[r]] = (second - best) / factor / SCALE
            if second - best <= tolerance_integer * factor:
                alternatives[rows[r]] = {rows[i]: (cols[m] if m >= 0 else None) for i, m in enumerate(second_mate) if m != mate[i]}
    unmatched_left = tuple(n for n in left if n not in pairs)
    matched_right = set(pairs.values())
    unmatched_right = tuple(n for n in right if n not in matched_right)
    return Assignment(pairs, margins, alternatives, unmatched_left, unmatched_right, total)
