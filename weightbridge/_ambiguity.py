"""Ambiguity reports: tied weights side by side, the evidence that was missing, and the hint that settles it."""

import networkx as nx

from ._features import FEATURE_WEIGHTS, UNMATCHED_COST
from ._errors import AmbiguityError
from ._names import natural_key, shortest_distinguishing

MAX_GROUPS_SHOWN = 8

_MISSING = {
    "leaf_name": "the parameter names (weight, bias, ...) are alike",
    "module_name": "the module names are equally similar",
    "name_suffix": "the module paths end equally alike",
    "block_index": "the block indices agree equally",
    "order": "the enumeration order does not tell them apart",
    "layout_change": "the layouts fit equally well",
    "structure": "no sibling weight pins their modules to each other",
    "layout_consistency": "their layouts agree equally with the weights around them",
}


def _tie_components(assignment):
    """The nodes that tied runner-ups reassign, as connected groups ordered by their first `my` leaf."""
    ties = nx.Graph()
    for left, changed in assignment.alternatives.items():
        ties.add_node(left)
        for row, col in changed.items():
            ties.add_edge(left, row)
            if assignment.pairs.get(row) is not None:
                ties.add_edge(row, assignment.pairs[row])
            if col is not None:
                ties.add_edge(row, col)
    return sorted(nx.connected_components(ties), key=lambda c: min((n[1] for n in c if n[0] == "my"), default=0))


def tied_groups(assignment):
    """Connected groups of `my` and `their` nodes that a tied runner-up reassigns."""
    return [(sorted(n for n in component if n[0] == "my"), sorted(n for n in component if n[0] == "their"))
            for component in _tie_components(assignment)]


def tied_my_names(graph, assignment, my_leaves):
    """Each `my` leaf that a tie moves (a fused group through its members), with the number of its group."""
    tied = {}
    for number, component in enumerate(_tie_components(assignment), 1):
        for node in sorted(component):
            if node[0] in ("my", "my group"):
                for leaf in _leaf_nodes(graph, node):
                    tied.setdefault(my_leaves[leaf[1]].name, number)
    return tied


def propose_hints(graph, group, pairs, my_leaves, their_leaves):
    """Hints that pin the tied group to `pairs`, each true for every pair of `pairs` (so they hold
    together), and how many group members got one."""
    mine, theirs = group
    hints, pinned = [], 0
    for node in mine:
        if pinned == len(mine) - 1:
            break  # the others pinned, the last has one partner left (a name inside another's has no hint of its own)
        partner = pairs.get(node)
        if partner is None:
            continue
        my_name = my_leaves[node[1]].name
        their_name = their_leaves[partner[1]].name
        my_options = shortest_distinguishing(my_name, [my_leaves[n[1]].name for n in mine if n != node])[:12] + [my_name]
        their_options = shortest_distinguishing(their_name, [their_leaves[n[1]].name for n in theirs if n != partner])[:12] + [their_name]
        # A hint without block numbers holds for every block alike: one hint for a tie that repeats.
        candidates = sorted(set((a, b) for a in my_options for b in their_options),
                            key=lambda h: (any(c.isdigit() for c in h[0] + h[1]), len(h[0]) + len(h[1]), h))
        chosen = next((h for h in candidates if _consistent(graph, h, pairs, my_leaves, their_leaves)), None)
        if chosen is not None:
            pinned += 1
            if chosen not in hints:
                hints.append(chosen)
    return hints, len(hints)


def _pairings(group, assignment):
    """The chosen pairing and each tied runner-up, as complete pairings of the whole tree."""
    mine, _ = group
    found = [dict(assignment.pairs)]
    for node in mine:
        alternative = assignment.alternatives.get(node)
        if alternative:
            pairing = dict(assignment.pairs)
            for m, t in alternative.items():
                if t is None:
                    pairing.pop(m, None)
                else:
                    pairing[m] = t
            if pairing not in found:
                found.append(pairing)
    return found


def natural_ranks(leaves):
    """Each leaf's rank when names are sorted with their numbers compared as numbers."""
    order = sorted(range(len(leaves)), key=lambda k: natural_key(leaves[k].name))
    return {k: rank for rank, k in enumerate(order)}


def _discordance(group, pairing, my_ranks, their_ranks):
    ranked = sorted((my_ranks[m[1]], their_ranks[pairing[m][1]]) for m in group[0] if pairing.get(m) is not None)
    return sum(1 for x in range(len(ranked)) for y in range(x + 1, len(ranked)) if ranked[x][1] > ranked[y][1])


# Cost differences below this are rounding, not evidence: positions lie on a grid of 1/1000 and rare-word
# weights differ by a few thousandths between candidates named alike (a shortcut and a main-path conv
# that tie cost 7.983 and 7.984); the smallest difference of names that told a tie right was 0.15 (BERT's norms).
COST_NOISE = 0.05


def _best_pairing(graph, group, assignment, my_leaves, their_leaves, my_ranks, their_ranks):
    """Of the tied pairings, the likelier truth: the one whose hints agree best with all other pairs, then the
    cheaper one (they tie within a tolerance, and a difference beyond `COST_NOISE` still says something),
    then the one that keeps the natural order of the names."""
    scored = []
    for k, pairing in enumerate(_pairings(group, assignment)):
        hints, consistent = propose_hints(graph, group, pairing, my_leaves, their_leaves)
        cost = sum(UNMATCHED_COST if pairing.get(m) is None else graph.edges[m, pairing[m]]["cost"] for m in group[0])
        scored.append((-consistent, cost, _discordance(group, pairing, my_ranks, their_ranks), k, pairing, hints))
    most_consistent = [s for s in scored if s[0] == min(s[0] for s in scored)]
    cheapest = min(s[1] for s in most_consistent)
    near = [s for s in most_consistent if s[1] <= cheapest + COST_NOISE]
    *_, pairing, hints = min(near, key=lambda s: s[2:4])
    return pairing, hints


def _leaf_nodes(graph, node):
    """The leaf nodes a node stands for: a fused group's members, else the node itself."""
    return tuple(graph.nodes[node].get("members") or (node,))


def _consistent(graph, hint, pairs, my_leaves, their_leaves):
    """Whether every pair of `pairs` obeys the hint; a fused pair obeys it when each of its `my` leaves
    contains the hint's first part exactly when one of its `their` leaves contains the second."""
    a, b = hint
    for m, t in pairs.items():
        theirs = [their_leaves[node[1]] for node in _leaf_nodes(graph, t)]
        contains = any(b in n for leaf in theirs for n in (leaf.name,) + leaf.aliases)
        if any((a in my_leaves[node[1]].name) != contains for node in _leaf_nodes(graph, m)):
            return False
    return True


def _missing_evidence(graph, group, pairs, alternatives, my_order, their_order):
    mine, _ = group
    chosen, other = {}, {}
    for node in mine:
        partner = pairs.get(node)
        if partner is not None:
            for feature in FEATURE_WEIGHTS:
                chosen[feature] = chosen.get(feature, 0.0) + graph.edges[node, partner][feature]
    for node in mine:
        alternative = alternatives.get(node)
        if not alternative:
            continue
        new_pairs = {m: pairs.get(m) for m in mine}
        new_pairs.update({m: t for m, t in alternative.items() if m in new_pairs})
        for m, t in new_pairs.items():
            if t is not None:
                for feature in FEATURE_WEIGHTS:
                    other[feature] = other.get(feature, 0.0) + graph.edges[m, t][feature]
        break
    missing = [text for feature, text in _MISSING.items() if abs(chosen.get(feature, 0.0) - other.get(feature, 0.0)) < 1e-9]
    if my_order or their_order:
        missing = [m for m in missing if "order" not in m]
        reasons = {}
        for side, reason in (("my", my_order), ("their", their_order)):
            if reason:
                reasons.setdefault(reason, []).append(side)
        for reason, sides in reasons.items():
            missing.append(f"the enumeration order of {' and '.join(sides)} is {reason}, so it is no evidence")
    return missing


def proposed_pairing(graph, assignment, my_leaves, their_leaves):
    """The chosen pairs with each tied group in its likeliest tied pairing: the rows the error shows."""
    my_ranks, their_ranks = natural_ranks(my_leaves), natural_ranks(their_leaves)
    pairing = dict(assignment.pairs)
    for group in tied_groups(assignment):
        best, _ = _best_pairing(graph, group, assignment, my_leaves, their_leaves, my_ranks, their_ranks)
        pairing.update({m: best[m] for m in group[0] if m in best})
    return pairing


def ambiguity_error(graph, assignment, pairing, my_leaves, their_leaves, my_order, their_order, tolerance, settle=None):
    """The AmbiguityError for a solution with ties, showing the `proposed_pairing`. `settle(hints)`, if given,
    returns the smallest sub-list of the proposed hints that still makes the mapping unique (or the list as it is)."""
    groups = tied_groups(assignment)
    # Hints are chosen against the likeliest pairing of all groups together.
    all_hints, blocks = [], []
    for group in groups:
        hints, _ = propose_hints(graph, group, pairing, my_leaves, their_leaves)
        all_hints.extend(h for h in hints if h not in all_hints)
    if settle is not None:
        all_hints = settle(all_hints)
    for number, group in enumerate(groups, 1):
        if number > MAX_GROUPS_SHOWN:
            continue
        mine, theirs = group
        # Rows are pairs of the proposed pairing; their weights left over follow.
        partners = [pairing.get(n) for n in mine]
        theirs = [t for t in partners if t is not None] + [t for t in theirs if t not in partners]
        left = [_row(my_leaves[n[1]], graph.nodes[n]) for n in mine]
        right = [_row(their_leaves[n[1]], graph.nodes[n]) for n in theirs]
        width = max(len("my"), *(len(x) for x in left))
        rows = [f"    {'my':<{width}}   their"]
        for k in range(max(len(left), len(right))):
            rows.append(f"    {left[k] if k < len(left) else '':<{width}}   {right[k] if k < len(right) else ''}".rstrip())
        missing = _missing_evidence(graph, group, assignment.pairs, assignment.alternatives, my_order, their_order)
        blocks.append(f"  group {number}: {len(mine)} my and {len(theirs)} their weights tie\n" + "\n".join(rows)
                      + "\n    missing evidence: " + "; ".join(missing))
    more = f"\n  ... and {len(groups) - MAX_GROUPS_SHOWN} more groups" if len(groups) > MAX_GROUPS_SHOWN else ""
    hint_text = ", ".join(f"({a!r}, {b!r})" for a, b in all_hints).replace("'", '"')
    message = (
        f"the mapping is not unique: {len(groups)} group{'s' if len(groups) != 1 else ''} of weights can be paired "
        + ("in more than one way at exactly the same cost.\n" if tolerance == 0 else
           f"in more than one way at costs within {tolerance} of each other, too close to tell without enumeration order.\n")
        + "\n".join(blocks) + more
        + "\nSay which weights correspond with hints (my_substring, their_substring); if the rows shown "
        + "above are the right pairs:\n"
        + f"  hints=[{hint_text}]"
    )
    named_groups = [
        (tuple(my_leaves[n[1]].name for n in mine), tuple(their_leaves[n[1]].name for n in theirs)) for mine, theirs in groups
    ]
    return AmbiguityError(message, named_groups, all_hints)


def _row(leaf, node):
    """A leaf as a row of the table; a leaf that stands for a template says how many it stands for."""
    more = node.get("instances", 1) - 1
    return f"{leaf.name} {leaf.shape}" + (f" and {more} more alike" if more else "")


def layout_ambiguity_error(my_leaf, their_leaf, conflicting):
    layouts = ", ".join(sorted(conflicting))
    message = (
        f"the axis order of my {my_leaf.name!r} {my_leaf.shape} <- their {their_leaf.name!r} {their_leaf.shape} is open: "
        f"its shape fits more than one layout and the weights of the same kind around it do not settle which ({layouts}).\n"
        "Pass in_format= and out_format= (e.g. 'pytorch', 'flax') to fix the layouts."
    )
    return AmbiguityError(message, [((my_leaf.name,), (their_leaf.name,))], [])

