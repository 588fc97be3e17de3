"""Ambiguity reports: tied weights side by side, the evidence that was missing, and the hint that settles it."""

import itertools
import re

import networkx as nx

from ._features import COST_NOISE, FEATURE_WEIGHTS, UNMATCHED_COST
from ._errors import AmbiguityError
from ._names import natural_key, shortest_distinguishing

MAX_GROUPS_SHOWN = 8
# A tie spread over more modules than this is not re-paired module by module (their permutations grow
# as a factorial); its pairings are the solver's own.
MAX_MODULES_PERMUTED = 4

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
    covered = set()
    whole = _whole_modules(group, pairs, my_leaves, their_leaves)
    for my_module, their_module, nodes in whole:
        if len(nodes) < 2:
            continue  # one weight of a module: its own name says as much
        if pinned + len(nodes) == len(mine) and pinned:
            break  # the other modules pinned, the last one has its partner left
        chosen = _first_consistent(
            graph, pairs, my_leaves, their_leaves,
            _distinguishing(my_module, [_module_name(my_leaves[n[1]]) for n in mine]),
            _distinguishing(their_module, [_module_name(their_leaves[n[1]]) for n in theirs]))
        # A module told apart only by its block number is left to its weights' own names where they hold for
        # every block alike (`a.weight` where the module is `layer.0.a`).
        if chosen is not None and _numbered(chosen):
            first = nodes[0]
            by_leaf = _first_consistent(
                graph, pairs, my_leaves, their_leaves,
                _distinguishing(my_leaves[first[1]].name, [my_leaves[n[1]].name for n in mine]),
                _distinguishing(their_leaves[pairs[first][1]].name, [their_leaves[n[1]].name for n in theirs]))
            if by_leaf is not None and not _numbered(by_leaf):
                chosen = None
        if chosen is not None:
            covered.update(nodes)
            pinned += len(nodes)
            if chosen not in hints:
                hints.append(chosen)
    left = [node for node in mine if node not in covered]
    if covered and any(nodes == left for _, _, nodes in whole):
        return hints, len(mine)  # the other modules pinned, the last one has its partner left
    for node in mine:
        if pinned >= len(mine) - 1 and len(theirs) <= len(mine):
            break  # the others pinned, the last has one partner left (a name inside another's has no hint of its own)
        if node in covered:
            continue
        partner = pairs.get(node)
        if partner is None:
            continue
        my_name = my_leaves[node[1]].name
        their_name = their_leaves[partner[1]].name
        chosen = _first_consistent(
            graph, pairs, my_leaves, their_leaves,
            _distinguishing(my_name, [my_leaves[n[1]].name for n in mine]),
            _distinguishing(their_name, [their_leaves[n[1]].name for n in theirs]))
        others = [n for n in theirs if n != partner]
        # More candidates than weights: a hint must keep this one from every other, whose own weights may be
        # pinned by nothing else (in a square tie, the other pairs' hints do).
        if len(theirs) > len(mine) and (chosen is None or not _separates(chosen, my_name, [their_leaves[n[1]].name for n in others])):
            chosen = _excluding_hint(graph, pairs, my_leaves, their_leaves, partner, others)
        if chosen is not None:
            pinned += 1
            if chosen not in hints:
                hints.append(chosen)
    return hints, pinned


def _separates(hint, my_name, their_names):
    """Whether a hint keeps `my_name` from every one of `their_names`."""
    a, b = hint
    return all((a in my_name) != (b in name) for name in their_names)


def _excluding_hint(graph, pairs, my_leaves, their_leaves, partner, others):
    """A hint that keeps the tied `others` from a leaf whose partner's name sits inside theirs (`norm.weight`
    inside `layers.1.attention_norm.weight`, no substring names the one and not the other): it names a
    part of another's name (`attention_norm`) with what the weights that hold it pair with
    (`input_layernorm`), so the leaf, whose name holds neither, cannot take it. None if no hint does."""
    partner_name = their_leaves[partner[1]].name
    my_of = [(m, t) for m, t in pairs.items() if t is not None]
    candidates = set()
    for other in others:
        for b in _distinguishing(their_leaves[other[1]].name, [partner_name])[:-1]:
            holding = [my_leaves[i[1]].name for m, t in my_of if any(b in their_leaves[j[1]].name for j in _leaf_nodes(graph, t))
                       for i in _leaf_nodes(graph, m)]
            if holding:
                rest = [leaf.name for leaf in my_leaves if leaf.name not in holding]
                candidates.update((a, b) for a in shortest_distinguishing(holding[0], rest)[:12] if all(a in name for name in holding))
    for hint in sorted(candidates, key=_hint_order):
        if _consistent(graph, hint, pairs, my_leaves, their_leaves):
            return hint
    return None


def _numbered(hint):
    """Whether a hint names a block by its number (a part of digits alone)."""
    return any(part.isdigit() for text in hint for part in re.split(r"[./]", text))


def _distinguishing(name, names):
    """Substrings of `name` that none of the other `names` holds, shortest first, and the name itself."""
    return shortest_distinguishing(name, [n for n in names if n != name])[:12] + [name]


def _first_consistent(graph, pairs, my_leaves, their_leaves, my_options, their_options):
    """The first hint of the options that every pair of `pairs` obeys, or None. A hint without block
    numbers holds for every block alike: one hint for a tie that repeats."""
    candidates = sorted({(a, b) for a in my_options for b in their_options if a and b}, key=_hint_order)
    return next((h for h in candidates if _consistent(graph, h, pairs, my_leaves, their_leaves)), None)


def _hint_order(hint):
    """Hints without digits first (they hold for every block alike), then the shorter."""
    return any(c.isdigit() for c in hint[0] + hint[1]), len(hint[0]) + len(hint[1]), hint


def _module_name(leaf):
    """The name of the module a leaf sits in: its name without its last part ('' at the root)."""
    return leaf.name[:len(leaf.name) - len(leaf.parts[-1])].rstrip("./") if len(leaf.parts) > 1 else ""


def _modules(nodes, leaves):
    """The nodes grouped by the name of their leaf's module."""
    grouped = {}
    for node in nodes:
        grouped.setdefault(_module_name(leaves[node[1]]), []).append(node)
    return grouped


def _whole_modules(group, pairs, my_leaves, their_leaves):
    """The `my` modules of a tied group whose tied weights all pair into one `their` module (and whose
    `their` module takes no other of the group's modules): `(my module, their module, my nodes)`."""
    mine, _ = group
    if any(node[0] != "my" or (pairs.get(node) or ("their",))[0] != "their" for node in mine):
        return []
    whole = []
    targets = {}
    for my_module, nodes in _modules(mine, my_leaves).items():
        partners = {_module_name(their_leaves[pairs[n][1]]) for n in nodes if pairs.get(n) is not None}
        if len(partners) == 1 and all(pairs.get(n) is not None for n in nodes) and my_module:
            their_module = partners.pop()
            targets.setdefault(their_module, []).append((my_module, nodes))
    for their_module, sources in targets.items():
        if len(sources) == 1 and their_module:
            whole.append((sources[0][0], their_module, sources[0][1]))
    return whole


def _coherent_pairings(graph, group, pairing, my_leaves, their_leaves):
    """Pairings of the tied group that keep its modules whole: the tied weights of each `my` module go
    into one `their` module, each paired inside it with its cheapest partner. Empty where the group is
    not a set of whole plain weights or spreads over too many modules."""
    mine, theirs = group
    if any(node[0] != "my" for node in mine) or any(node[0] != "their" for node in theirs):
        return []
    my_modules, their_modules = _modules(mine, my_leaves), _modules(theirs, their_leaves)
    if not 2 <= len(my_modules) == len(their_modules) <= MAX_MODULES_PERMUTED:
        return []
    found = []
    for order in itertools.permutations(sorted(their_modules, key=natural_key)):
        candidate = {m: t for m, t in pairing.items() if m not in mine}
        for my_module, their_module in zip(sorted(my_modules, key=natural_key), order):
            inside = _cheapest_inside(graph, my_modules[my_module], their_modules[their_module])
            if inside is None:
                break
            candidate.update(inside)
        else:
            found.append(candidate)
    return found


def _cheapest_inside(graph, mine, theirs):
    """The weights of one module paired with those of another, cheapest edge first; None when some
    weight finds no partner (their counts differ, or a shape fits no other)."""
    if len(mine) != len(theirs):
        return None
    edges = sorted((graph.edges[m, t]["cost"], m, t) for m in mine for t in theirs if graph.has_edge(m, t))
    pairs, taken = {}, set()
    for _, m, t in edges:
        if m not in pairs and t not in taken:
            pairs[m] = t
            taken.add(t)
    return pairs if len(pairs) == len(mine) else None


def _splits(group, pairing, my_leaves, their_leaves, pending=()):
    """How many modules the pairing splits around the tied group: for each module of a tied weight, on
    either side, the number of modules its weights pair into beyond one (the pairs of `pending` aside)."""
    mine, theirs = group
    partners_of = {}
    tied_my = {_module_name(my_leaves[n[1]]) for n in mine}
    tied_their = {_module_name(their_leaves[n[1]]) for n in theirs}
    for m, t in pairing.items():
        if m[0] != "my" or t[0] != "their" or m in pending:
            continue
        my_module, their_module = _module_name(my_leaves[m[1]]), _module_name(their_leaves[t[1]])
        if my_module in tied_my:
            partners_of.setdefault(("my", my_module), set()).add(their_module)
        if their_module in tied_their:
            partners_of.setdefault(("their", their_module), set()).add(my_module)
    return sum(len(partners) - 1 for partners in partners_of.values())


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


def _best_pairing(graph, group, assignment, pairing, my_leaves, their_leaves, my_ranks, their_ranks, tolerance, pending=()):
    """Of the tied pairings, the likelier truth: the one that splits the fewest modules (a module's
    weights go together; beside the solver's tied pairings, those that keep the group's modules whole and
    cost no more than the tie's tolerance above the cheapest are candidates), then the one whose hints agree
    best with all other pairs, then the cheaper one (they tie within a tolerance, and a difference beyond
    `COST_NOISE` still says something), then the one that keeps the natural order of the names.
    `pairing` holds the choices made for the groups before this one; `pending` the `my` weights of groups
    still to choose, whose pairs count for nothing."""
    def group_cost(candidate):
        return sum(UNMATCHED_COST if candidate.get(m) is None else graph.edges[m, candidate[m]]["cost"] for m in group[0])

    tied = [_with_group(pairing, p, group) for p in _pairings(group, assignment)]
    cheapest = min(group_cost(p) for p in tied)
    coherent = [p for p in _coherent_pairings(graph, group, pairing, my_leaves, their_leaves)
                if group_cost(p) <= cheapest + tolerance + 1e-9]
    candidates = tied + [p for p in coherent if p not in tied]
    splits = [_splits(group, candidate, my_leaves, their_leaves, pending) for candidate in candidates]
    fewest = min(splits)
    scored = []
    for k, candidate in enumerate(candidates):
        if splits[k] > fewest:
            continue
        decided = {m: t for m, t in candidate.items() if m not in pending}
        hints, consistent = propose_hints(graph, group, decided, my_leaves, their_leaves)
        scored.append((-consistent, group_cost(candidate), _discordance(group, candidate, my_ranks, their_ranks), k, candidate, hints))
    most_consistent = [s for s in scored if s[0] == min(s[0] for s in scored)]
    cheapest = min(s[1] for s in most_consistent)
    near = [s for s in most_consistent if s[1] <= cheapest + COST_NOISE]
    *_, pairing, hints = min(near, key=lambda s: s[2:4])
    return pairing, hints


def _with_group(pairing, candidate, group):
    """`pairing` with the tied group's `my` weights paired as in `candidate`."""
    combined = {m: t for m, t in pairing.items() if m not in group[0]}
    combined.update({m: candidate[m] for m in group[0] if candidate.get(m) is not None})
    return combined


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


def proposed_pairing(graph, assignment, my_leaves, their_leaves, tolerance=0.0):
    """The chosen pairs with each tied group in its likeliest pairing within `tolerance` of the cheapest,
    each group seeing the choices made before it: the rows the error shows."""
    my_ranks, their_ranks = natural_ranks(my_leaves), natural_ranks(their_leaves)
    pairing = dict(assignment.pairs)
    groups = tied_groups(assignment)
    for number, group in enumerate(groups):
        # The groups still to come are paired arbitrarily so far: they are no evidence of where a module goes.
        pending = {node for later in groups[number + 1:] for node in later[0]}
        pairing, _ = _best_pairing(graph, group, assignment, pairing, my_leaves, their_leaves, my_ranks, their_ranks,
                                   tolerance, pending)
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

