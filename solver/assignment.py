"""Minimum-cost one-to-one assignment on a bipartite cost graph, with the margin of every choice.

Each connected component of the graph is solved on its own with OR-Tools'
``SimpleLinearSumAssignment`` (a cost-scaling push-relabel algorithm, Goldberg & Kennedy 1995),
which needs integer costs: costs are scaled and rounded, so equal evidence gives exactly equal
costs and ties are seen as ties. Nodes may stay unmatched at a price (``unmatched_cost`` per
node), modelled by one dummy partner per node; the dummy block mirrors the real block so that
every real matching extends to a perfect one (the construction of Ramshaw & Tarjan 2012, §3).

Nodes with a ``members`` attribute are groups: an edge to a group uses all of its members (a
fused weight made of several). Components that contain a group are solved as an exact cover by
:mod:`solver.cover` (CP-SAT); all others take the assignment path above unchanged.

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

from .cover import Cover, solve_cover

SCALE = 1000


@dataclasses.dataclass(frozen=True)
class Assignment:
    """The solution: ``pairs`` maps left nodes to right nodes (either may be a group); ``margins`` maps left
    nodes to the margin of their pair (``math.inf`` when no other assignment keeps as many pairs);
    ``alternatives`` maps the left nodes whose margin is within tolerance to the runner-up pairing of the
    nodes it changes. ``unmatched_left`` and ``unmatched_right`` are the nodes no chosen pair covers,
    groups themselves not counted."""

    pairs: dict
    margins: dict
    alternatives: dict
    unmatched_left: tuple
    unmatched_right: tuple
    cost: float


def _integer(cost):
    return int(round(cost * SCALE))


def _arcs(num_rows, num_cols, arc_rows, arc_cols, arc_costs, unmatched):
    """The arcs of the balanced problem. Left nodes: rows 0..R-1, then one dummy per column;
    right nodes: columns 0..C-1, then one dummy per row."""
    rows = np.arange(num_rows)
    cols = np.arange(num_cols)
    starts = np.concatenate([arc_rows, rows, num_rows + cols, num_rows + arc_cols])
    ends = np.concatenate([arc_cols, num_cols + rows, cols, num_cols + arc_rows])
    costs = np.concatenate([arc_costs, np.full(num_rows, unmatched), np.full(num_cols, unmatched), np.zeros(len(arc_rows), dtype=np.int64)])
    return starts.astype(np.int64), ends.astype(np.int64), costs.astype(np.int64)


def _solve(num_rows, num_cols, arc_rows, arc_cols, arc_costs, unmatched):
    """Solves one component; returns (integer cost, row -> col or -1, balanced arcs, left -> right)."""
    solver = linear_sum_assignment.SimpleLinearSumAssignment()
    starts, ends, costs = _arcs(num_rows, num_cols, arc_rows, arc_cols, arc_costs, unmatched)
    solver.add_arcs_with_cost(starts, ends, costs)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"linear sum assignment failed with status {status} on {num_rows + num_cols} nodes")
    left_mate = np.array([solver.right_mate(left) for left in range(num_rows + num_cols)], dtype=np.int64)
    mate = [int(m) if m < num_cols else -1 for m in left_mate[:num_rows]]
    return solver.optimal_cost(), mate, (starts, ends, costs), left_mate


def _margin_lower_bounds(num_rows, num_cols, arcs, left_mate):
    """A lower bound on every real row's margin, from shortest-path potentials of the residual graph.

    Forbidding the pair (l, r) makes the new optimum the old one plus an alternating cycle through
    it; with potentials d every arc of that cycle has a non-negative reduced cost, so the cycle costs
    at least l's cheapest other arc (its dummy included) in reduced cost plus the reduced cost of
    the forbidden one.
    """
    starts, ends, costs = arcs
    matched = left_mate[starts] == ends
    matched_cost = np.zeros(len(left_mate), dtype=np.int64)
    matched_cost[starts[matched]] = costs[matched]
    free = ~matched
    big = np.iinfo(np.int64).max // 4
    # Bellman-Ford from a source joined to every left node; it ends because the optimum has no
    # negative cycle, and each round is one vectorised pass over the arcs.
    d_left = np.zeros(len(left_mate), dtype=np.int64)
    for _ in range(len(left_mate) + 1):
        d_right = np.full(len(left_mate), big, dtype=np.int64)
        np.minimum.at(d_right, ends[free], d_left[starts[free]] + costs[free])
        updated = np.minimum(d_left, np.minimum(d_right[left_mate], big) - matched_cost)
        if np.array_equal(updated, d_left):
            break
        d_left = updated
    from_rows = free & (starts < num_rows)
    best_other = np.full(num_rows, big, dtype=np.int64)
    np.minimum.at(best_other, starts[from_rows], costs[from_rows] - d_right[ends[from_rows]])
    bounds = best_other + d_right[left_mate[:num_rows]] - matched_cost[:num_rows]
    return [int(b) for b in bounds]


def solve_assignment(graph, left, right, *, weight="cost", tiebreak=None, unmatched_cost, tolerance, exact_below=math.inf,
                     node_tolerance=None, memo=None):
    """Solves the assignment of `left` to `right` nodes over the edges of `graph`.

    Args:
        graph: a networkx graph whose edges join a left and a right node and carry `weight`.
        left, right: the two node sets, in a stable order.
        unmatched_cost: the price of leaving one node without a partner.
        tolerance: margins up to this value count as ties.
        node_tolerance: a larger tolerance for some nodes ({node: tolerance}); it holds for their whole component.
        tiebreak: an edge attribute with small non-negative integers that decides between
            assignments of equal cost (lower wins).
        exact_below: margins are computed exactly (one more solve each) up to this value; a margin
            whose lower bound already reaches it is reported as that lower bound.
        memo: a dict kept across calls on graphs that differ in a few components (a problem solved
            again without one hint): a component whose nodes, edges and settings are unchanged reuses
            its solution instead of being solved again.
    """
    left, right = list(left), list(right)
    left_set, right_set = set(left), set(right)
    order = {node: i for i, node in enumerate(left + right)}
    pairs, margins, alternatives, total = {}, {}, {}, 0.0
    unmatched_integer = _integer(unmatched_cost)
    exact_below_integer = _integer(exact_below) if math.isfinite(exact_below) else np.iinfo(np.int64).max // 4
    members = {n: m for n, m in graph.nodes(data="members") if m is not None and (n in left_set or n in right_set)}
    connected = graph.subgraph(left + right)
    if members:
        # A group and its members stand or fall together: they belong to one component.
        connected = nx.Graph(connected)
        connected.add_edges_from((group, member) for group, nodes in members.items() for member in nodes)
    components = sorted(nx.connected_components(connected), key=lambda c: min(order[n] for n in c))
    node_tolerance = node_tolerance or {}
    for component in components:
        tolerance_integer = max([_integer(tolerance)] + [_integer(node_tolerance[n]) for n in component if n in node_tolerance])
        settings = (weight, tiebreak, unmatched_integer, tolerance_integer, exact_below)
        key = _component_key(graph, component, left_set, members, order, settings) if memo is not None else None
        solved = memo.get(key) if key is not None else None
        if solved is None:
            if members and not component.isdisjoint(members):
                solved = _solve_cover_component(graph, component, left_set, members, order, weight, tiebreak,
                                                unmatched_integer, tolerance_integer, exact_below)
            else:
                solved = _solve_component(graph, component, left_set, right_set, order, weight, tiebreak,
                                          unmatched_integer, tolerance_integer, exact_below_integer)
            if key is not None:
                memo[key] = solved
        pairs.update(solved.pairs)
        margins.update(solved.margins)
        alternatives.update(solved.alternatives)
        total += solved.cost
    covered = set()
    for pair in pairs.items():
        for node in pair:
            covered.update(members.get(node, (node,)))
    unmatched_left = tuple(n for n in left if n not in covered and n not in members)
    unmatched_right = tuple(n for n in right if n not in covered and n not in members)
    return Assignment(pairs, margins, alternatives, unmatched_left, unmatched_right, total)


def _solve_component(graph, component, left_set, right_set, order, weight, tiebreak, unmatched_integer, tolerance_integer,
                     exact_below_integer):
    """One component without groups, as a linear sum assignment; margins by one more solve per pair where needed."""
    pairs, margins, alternatives = {}, {}, {}
    rows = sorted((n for n in component if n in left_set), key=order.get)
    cols = sorted((n for n in component if n in right_set), key=order.get)
    if not rows or not cols:
        return Cover({}, {}, {}, 0.0)
    row_index = {n: i for i, n in enumerate(rows)}
    col_index = {n: i for i, n in enumerate(cols)}
    edges = list(graph.edges(rows, data=True))  # every edge of the component touches a left node
    arcs = [(row_index[u], col_index[v]) if u in row_index else (row_index[v], col_index[u]) for u, v, _ in edges]
    arc_rows, arc_cols = (np.array(x, dtype=np.int64) for x in zip(*arcs))
    primary = np.array([_integer(d[weight]) for _, _, d in edges], dtype=np.int64)
    secondary = np.array([d.get(tiebreak, 0) if tiebreak else 0 for _, _, d in edges], dtype=np.int64)
    # Lexicographic objective: the primary cost dominates any assignment's sum of tie-breaks.
    # Tie-breaks are clipped where needed so that costs stay far from int64 overflow: the cost
    # scaling of SimpleLinearSumAssignment needs costs below about 2**63 / (3 n**2) for n left nodes
    # of the balanced problem (it refuses larger ones with POSSIBLE_OVERFLOW).
    n = len(rows) + len(cols)
    room = 2**60 // ((int(max(primary.max(), unmatched_integer)) + 1) * (n + 1) ** 2)
    secondary = np.minimum(secondary, max(room // (len(rows) + 1), 0))
    factor = len(rows) * int(secondary.max()) + 1
    arc_costs = primary * factor + secondary
    best, mate, arcs, left_mate = _solve(len(rows), len(cols), arc_rows, arc_cols, arc_costs, unmatched_integer * factor)
    bounds = _margin_lower_bounds(len(rows), len(cols), arcs, left_mate)
    matched = sum(m >= 0 for m in mate)
    for r, c in enumerate(mate):
        if c < 0:
            continue
        pairs[rows[r]] = cols[c]
        keep = ~((arc_rows == r) & (arc_cols == c))
        if not ((arc_rows == r) & keep).any() and not ((arc_cols == c) & keep).any():
            margins[rows[r]] = math.inf  # neither has another candidate: any alternative loses the pair
            continue
        if bounds[r] >= exact_below_integer * factor:
            margins[rows[r]] = bounds[r] / factor / SCALE
            continue
        second, second_mate, _, _ = _solve(len(rows), len(cols), arc_rows[keep], arc_cols[keep], arc_costs[keep], unmatched_integer * factor)
        if sum(m >= 0 for m in second_mate) < matched:
            margins[rows[r]] = math.inf
            continue
        margins[rows[r]] = (second - best) / factor / SCALE
        if second - best <= tolerance_integer * factor:
            alternatives[rows[r]] = {rows[i]: (cols[m] if m >= 0 else None) for i, m in enumerate(second_mate) if m != mate[i]}
    return Cover(pairs, margins, alternatives, best / factor / SCALE)


def _component_key(graph, component, left_set, members, order, settings):
    """Everything a component's solution depends on: its nodes in order, its edges with their costs and
    tie-breaks, its groups' members and the solve's settings. Equal keys have equal solutions."""
    weight, tiebreak = settings[:2]
    nodes = tuple(sorted(component, key=order.get))
    edges = frozenset(
        ((u, v) if u in left_set else (v, u)) + (data[weight], data.get(tiebreak, 0) if tiebreak else 0)
        for u, v, data in graph.subgraph(nodes).edges(data=True)
    )
    return nodes, edges, tuple(tuple(members.get(n, ())) for n in nodes), settings


def _solve_cover_component(graph, component, left_set, members, order, weight, tiebreak, unmatched_integer,
                           tolerance_integer, exact_below):
    """One component with groups, as an exact cover with the same integer costs as the assignment path."""
    lefts = sorted((n for n in component if n in left_set), key=order.get)
    edges, covers = [], []
    for u, v, data in graph.edges(lefts, data=True):
        if v not in component:
            continue
        left, right = (u, v) if u in left_set else (v, u)
        edges.append((left, right, _integer(data[weight]), int(data.get(tiebreak, 0)) if tiebreak else 0))
        covers.append(tuple(members.get(left, (left,))) + tuple(members.get(right, (right,))))
    # The tie-break enters under a factor larger than any cover's sum of tie-breaks.
    factor = sum(sorted((e[3] for e in edges), reverse=True)[: len(lefts) + 1]) + 1
    scaled = [(left, right, cost * factor + rank) for left, right, cost, rank in edges]
    cover = solve_cover(
        scaled, covers, unmatched=unmatched_integer * factor, tolerance=tolerance_integer * factor,
        exact_below=_integer(exact_below) * factor if math.isfinite(exact_below) else None,
    )
    margins = {node: m if math.isinf(m) else m / factor / SCALE for node, m in cover.margins.items()}
    return dataclasses.replace(cover, margins=margins, cost=cover.cost / factor / SCALE)
