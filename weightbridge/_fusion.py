"""Fused and stacked weights: groups of sibling leaves that concatenate or stack into one leaf of the other side.

One implementation keeps q, k and v apart and another fuses them into one projection; one keeps a
list of experts and another stacks them into one tensor. Such a pair is an edge between one leaf
and a group of leaves of the other side, in the same cost graph and the same solve as the
one-to-one edges. A group is made of siblings (paths equal but for one module: ``query``/``key``/
``value``, or the expert number), of one dtype kind, whose shapes concatenate along one axis, stack
along a new first axis, or both (a stack of concatenations: Mixtral's ``gate_up_proj``), into
exactly the partner's shape after a layout permutation.

Groups are only looked for where sizes demand them: the partner and every member must be of a (size,
dtype kind, number of axes longer than one) class that the two sides hold different numbers of. A
checkpoint without fused weights has no such classes and pays one count per side
(``benchmarks/fusion_speed.py``).
"""

import dataclasses
import itertools
import math
import os
from collections import Counter, defaultdict

from . import _names
from ._errors import AmbiguityError
from ._features import FEATURE_WEIGHTS, edge_cost, features, my_node, their_node, weighted_jaccard
from ._leaves import order_is_informative
from ._mapping import Pair
from ._transforms import Transform, layouts_for

# Members of one concatenation; their orders are enumerated (4! = 24 at most).
MAX_CONCATENATED = 4
# Up to this many alike siblings, any subset may be the concatenation; beyond, contiguous runs only.
MAX_SUBSETS_OF = 6
CONCAT_AXES = "abcd"
OTHER_AXES = "ijhwxyzuts"
# Joins the pieces in names and in order hints: "w1 + w3".
ORDER_SEPARATOR = " + "


@dataclasses.dataclass(frozen=True)
class Group:
    """Members of one side that make one partner leaf of the other side.

    ``side`` is the side of the members: 'their' (fused into a `my` leaf) or 'my' (split from a
    `their` leaf). ``members`` are leaf indices in the order the expression takes them: stack-major,
    then the concatenation order. ``transform`` turns the `their` tensors into the `my` ones.
    """

    side: str
    members: tuple
    partner: int
    slices: int
    transform: Transform
    varying: tuple  # the module part that tells the concatenated members apart, per member of a slice


def _size_classes(leaves):
    """(size, dtype kind, number of axes longer than one) per leaf: what a one-to-one partner shares. A few
    products and a dict are all a checkpoint without fusion pays."""
    kinds = {}
    return [(math.prod(leaf.shape), kinds.get(leaf.dtype) or kinds.setdefault(leaf.dtype, leaf.dtype_kind),
             sum(d > 1 for d in leaf.shape)) for leaf in leaves]


def candidate_groups(their_leaves, my_leaves):
    """Every candidate group of both directions (their -> my fused, their fused -> my split)."""
    their_classes, my_classes = _size_classes(their_leaves), _size_classes(my_leaves)
    their_counts, my_counts = Counter(their_classes), Counter(my_classes)
    if their_counts == my_counts:
        return []
    return (_groups("their", their_leaves, their_classes, their_counts, my_leaves, my_classes, my_counts)
            + _groups("my", my_leaves, my_classes, my_counts, their_leaves, their_classes, their_counts))


def _groups(side, leaves, classes, counts, others, other_classes, other_counts):
    # Classes whose counts differ are where one-to-one pairs cannot explain every leaf. Either side of
    # such a class may hold the pieces or the fused weight: experts' w1 (I, H) can outnumber the
    # (I, H)-shaped qkv of the other side and still be pieces while qkv is a fused weight.
    partners = defaultdict(list)
    for k, key in enumerate(other_classes):
        if other_counts[key] != counts.get(key, 0):
            partners[key].append(k)
    if not partners:
        return []
    candidates = [leaf for leaf, key in zip(leaves, classes) if counts[key] != other_counts.get(key, 0) and leaf.shape]
    if not candidates:
        return []
    concatenations = _concatenations(candidates)
    found = []
    for members, axis in concatenations:
        found.extend(_with_partners(side, [(members, axis)], axis, others, partners))
    # Single leaves are one-to-one edges already; they only join groups as slices of a stack.
    for stack in _stacks(concatenations + [((leaf,), None) for leaf in candidates]):
        found.extend(_with_partners(side, stack, stack[0][1], others, partners))
    return found


def _named_siblings(leaves):
    """Leaves of one dtype kind and rank whose paths differ in one named (not numbered) module part only."""
    families = defaultdict(list)
    for leaf in leaves:
        parts = leaf.parts
        for p in range(len(parts) - 1):
            if not parts[p].isdigit():
                families[(p, parts[:p], parts[p + 1:], leaf.dtype_kind, len(leaf.shape))].append(leaf)
    return {key: members for key, members in families.items() if len(members) > 1}


def _concatenations(leaves):
    """Runs of named siblings that concatenate along one axis, as ``(members, axis)`` in enumeration order,
    among the siblings that agree on every other axis (so 'w1' and 'w3' join across 'w2', whose shape
    differs): every subset of a few siblings (q, k, v among q, k, v, o, in any enumeration order),
    contiguous runs of many. Equal shapes join along any axis: the layout evidence decides."""
    runs = []
    for members in _named_siblings(leaves).values():
        for axis in range(len(members[0].shape)):
            alike = defaultdict(list)
            for leaf in sorted(members, key=lambda leaf: leaf.index):
                alike[leaf.shape[:axis] + leaf.shape[axis + 1:]].append(leaf)
            for run_of in alike.values():
                for length in range(2, min(MAX_CONCATENATED, len(run_of)) + 1):
                    if len(run_of) <= MAX_SUBSETS_OF:
                        runs.extend((run, axis) for run in itertools.combinations(run_of, length))
                    else:
                        runs.extend((tuple(run_of[start:start + length]), axis) for start in range(len(run_of) - length + 1))
    return runs


def _stacks(units):
    """Units (single leaves or concatenations) that are numbered copies of each other, numbered 0..n-1:
    lists of units in numeric order, all of one shape."""
    families = defaultdict(dict)
    for members, axis in units:
        first = members[0]
        for p, part in enumerate(first.parts[:-1]):
            if not part.isdigit() or any(leaf.parts[p] != part for leaf in members):
                continue
            key = (p, axis, tuple((leaf.parts[:p], leaf.parts[p + 1:], leaf.shape, leaf.dtype_kind) for leaf in members))
            families[key][int(part)] = (members, axis)
    stacks = []
    for numbered in families.values():
        if len(numbered) > 1 and sorted(numbered) == list(range(len(numbered))):
            stacks.append([numbered[n] for n in range(len(numbered))])
    return stacks


def _with_partners(side, stack, axis, others, partners):
    """The groups of one stack of units (one unit: no stack) with every partner of the right size."""
    members = [leaf for unit, _ in stack for leaf in unit]
    size = sum(math.prod(leaf.shape) for leaf in members)
    kind = members[0].dtype_kind
    keys = [key for key in partners if key[:2] == (size, kind)]
    if not keys:
        return []
    # A bias is no piece of a weight: where both sides name the kind of parameter, it must agree.
    kind_of = _names.leaf_name(members[0].parts)
    candidates = [k for key in keys for k in partners[key]
                  if kind_of not in _names.LEAF_SYNONYMS or _names.leaf_name(others[k].parts) in (kind_of,)
                  or _names.leaf_name(others[k].parts) not in _names.LEAF_SYNONYMS]
    unit_length = len(stack[0][0])
    found = []
    for order in itertools.permutations(range(unit_length)) if unit_length > 1 else [(0,)]:
        ordered = [tuple(unit[k] for k in order) for unit, _ in stack]
        for k in candidates:
            for transform in _transforms(ordered, axis, others[k].shape, side):
                varying = _varying(ordered[0])
                found.append(Group(side, tuple(leaf.index for unit in ordered for leaf in unit), k, len(stack), transform, varying))
    return found


def _varying(unit):
    """The module part that tells the members of a concatenation apart."""
    if len(unit) < 2:
        return ()
    p = next(p for p in range(len(unit[0].parts)) if len({leaf.parts[p] for leaf in unit}) > 1)
    return tuple(leaf.parts[p] for leaf in unit)


def _transforms(ordered, axis, partner_shape, side):
    """The einx transforms (from `their` to `my`) that make the stacked, concatenated members the partner.

    Pieces concatenate along their axis as they are, or flattened with the axes after it: GPT-2's
    ``c_attn`` (i, 3 h d) holds the per-head (i, h, d) query, key and value kernels of keras-hub.
    """
    first = ordered[0]
    rank = len(first[0].shape)
    concatenated = len(first) > 1
    others = iter(OTHER_AXES)
    names = ["" if concatenated and a == axis else next(others) for a in range(rank)]
    parts = CONCAT_AXES[: len(first)]

    def member_axes(k):
        return " ".join(parts[k] if concatenated and a == axis else names[a] for a in range(rank))

    inputs = ", ".join(member_axes(k) for _ in ordered for k in range(len(first)))
    layouts = []
    for merged in (False, True) if concatenated and axis < rank - 1 else (False,):
        tail = range(axis + 1, rank) if merged else ()
        pieces = [f"({part} {' '.join(names[a] for a in tail)})" if merged else part for part in parts]
        fused_axes = ["(" + " + ".join(pieces) + ")" if concatenated and a == axis else names[a]
                      for a in range(rank) if a not in tail]
        fused_shape = [sum(math.prod(leaf.shape[axis:]) if merged else leaf.shape[axis] for leaf in first)
                       if concatenated and a == axis else first[0].shape[a] for a in range(rank) if a not in tail]
        if len(ordered) > 1:
            fused_axes = ["(" + " + ".join("1" for _ in ordered) + ")"] + fused_axes
            fused_shape = [len(ordered)] + fused_shape
        sizes = tuple((parts[k], leaf.shape[axis]) for k, leaf in enumerate(first)) if concatenated else ()
        sizes += tuple((names[a], first[0].shape[a]) for a in tail)
        layouts.append((fused_axes, fused_shape, sizes))
    found = []
    for fused_axes, fused_shape, sizes in layouts:
        for layout, permutation in layouts_for(len(fused_shape)):
            if tuple(fused_shape[p] for p in permutation) != tuple(partner_shape):
                continue
            output = " ".join(fused_axes[p] for p in permutation)
            expression = f"{inputs} -> {output}" if side == "their" else f"{output} -> {inputs}"
            found.append(Transform(expression, sizes if side == "my" else (), 0.0, layout))
    return found


def expand_fused_tokens(tokens, varying_tokens):
    """A partner's name tokens with a fused token spelled out: 'qkv' -> 'q', 'k', 'v' when the members are
    q, k and v ('query', 'key', 'value' in canonical form); 'wqkv' -> 'w', 'q', 'k', 'v'."""
    singles = {t for ts in varying_tokens for t in ts if len(t) == 1}
    expanded = []
    for token in tokens:
        # The longest tail of single-letter pieces: 'qkv', and 'Wqkv' as 'w' + 'qkv'.
        start = next((s for s in range(len(token) - 1) if set(token[s:]) <= singles and len(set(token[s:])) == len(token) - s), None)
        if start is None:
            expanded.append(token)
        else:
            expanded.extend(([token[:start]] if start else []) + list(token[start:]))
    return expanded


def distinguishing_tokens(varying):
    """Per member of a concatenation, its canonical name tokens that the other members lack, and the letters
    left of its name without what all members' names begin and end with."""
    tokens = [[_names.canonical_module_token(t) for t in _names.raw_tokens(part) if not t.isdigit()] for part in varying]
    common = set.intersection(*(set(t) for t in tokens)) if tokens else set()
    # What is left of each part without the prefix and suffix all parts share: 'wq', 'wk' -> 'q', 'k'.
    lowered = [part.lower() for part in varying]
    prefix = len(os.path.commonprefix(lowered))
    suffix = len(os.path.commonprefix([part[::-1] for part in lowered]))
    residues = [part[prefix:len(part) - suffix] if prefix + suffix < len(part) else "" for part in lowered]
    return [[t for t in ts if t not in common] + ([r] if r.isalpha() and r not in ts else [])
            for ts, r in zip(tokens, residues)]


def order_is_hinted(hint):
    return any(ORDER_SEPARATOR in side for side in hint)


def allowed_by_hints(group, partner_name, member_names, hints):
    """Whether a group edge keeps to the hints. A plain hint (a, b) holds as for one-to-one pairs, a group
    counting as containing b when one of its members does; an order hint names the members in order
    (``("gate_up_proj", "w1 + w3")``, or ``("q + k + v", "qkv")`` for a split) and holds for every
    group partner it applies to."""
    if group.side == "their":
        my_names, their_names = [partner_name], member_names
    else:
        my_names, their_names = member_names, [partner_name]
    for a, b in hints:
        if order_is_hinted((a, b)):
            ordered, single, members = (b, a, their_names) if group.side == "their" else (a, b, my_names)
            pieces = ordered.split(ORDER_SEPARATOR)
            width = group_width(group)
            if single in partner_name and not (len(pieces) == width
                                               and all(pieces[k % width] in m for k, m in enumerate(members))):
                return False
            continue
        if any(a in n for n in my_names) != any(b in n for n in their_names):
            return False
    return True


def fused_layout_parts(parts):
    """The path under which a fused weight looks for layout evidence: torch's ``in_proj_weight`` is a
    ``weight`` like the projections around it, which prove its axis order."""
    last = parts[-1]
    for kind in ("weight", "kernel"):
        if last.lower().endswith("_" + kind):
            return parts[:-1] + (last[-len(kind):],)
    return parts


def group_width(group):
    return len(group.members) // group.slices


def group_node(side, k):
    """The graph node of group `k` (an index into ``graph.graph["groups"]``) whose members are on `side`."""
    return (f"{side} group", k)


def is_group(node):
    return node[0].endswith(" group")


def group_nodes(graph, side):
    return [group_node(group.side, k) for k, group in enumerate(graph.graph.get("groups", ())) if group.side == side]


def add_group_edges(graph, my, their, token_weight, hints, modules=None):
    """Adds a node per candidate group (attribute ``members``: the leaf nodes it uses) and an edge to its
    partner, with the features of one-to-one edges averaged over the members, ``concat_order``, and a
    cost that counts every member, so that a group competes with one-to-one edges in one solve."""

    scored = defaultdict(list)
    for group in candidate_groups(their.leaves, my.leaves):
        members, others = (their, my) if group.side == "their" else (my, their)
        if any(members.count[m] != others.count[group.partner] for m in group.members):
            continue  # templates join only templates of as many members
        partner_name = others.leaves[group.partner].name
        member_names = [members.leaves[m].name for m in group.members]
        if hints and not allowed_by_hints(group, partner_name, member_names, hints):
            continue
        if modules is not None:
            member_owners, partner_owners = ((modules.their_owner, modules.my_owner) if group.side == "their"
                                             else (modules.my_owner, modules.their_owner))
            if any(member_owners[m] != partner_owners[group.partner] for m in group.members):
                continue
        per_member = [
            features(my, group.partner, their, m, token_weight, group.transform) if group.side == "their"
            else features(my, m, their, group.partner, token_weight, group.transform)
            for m in group.members
        ]
        values = {name: sum(v[name] for v in per_member) / len(per_member) for name in per_member[0]}
        evidence = _name_evidence(group, members, others, token_weight, order_is_informative(members.leaves))
        if evidence is None:
            continue
        values.update(evidence)
        same_but_order = (group.side, group.partner, frozenset(group.members), group.slices, group.transform.expression)
        scored[same_but_order].append((group, values, member_names))
    groups = []
    for candidates in scored.values():
        # Orders of the same pieces differ in concat_order alone: only the best can win, and two of them
        # are enough to show a tie.
        best = min(values["concat_order"] for _, values, _ in candidates)
        kept = sorted((c for c in candidates if c[1]["concat_order"] == best), key=lambda c: _out_of_order(c[0]))[:2]
        for group, values, member_names in kept:
            k = len(groups)
            groups.append(group)
            node_of = their_node if group.side == "their" else my_node
            partner = (my_node if group.side == "their" else their_node)(group.partner)
            node = group_node(group.side, k)
            graph.add_node(node, side=group.side, members=tuple(node_of(m) for m in group.members),
                           name=ORDER_SEPARATOR.join(member_names), group=group)
            graph.add_edge(partner, node, cost=len(group.members) * edge_cost(values), transform=group.transform.expression,
                           layouts=(group.transform,), group=group, **values)
    graph.graph["groups"] = groups


def _name_evidence(group, members, others, token_weight, members_ordered):
    """``module_name``: the module tokens all members share, and their own ones when the partner spells every
    piece, against the partner's tokens with fused ones spelled out; ``concat_order``: the share of member pairs that the concatenation takes against the order the
    partner's name spells (``qkv``, ``gate_up_proj``), or, without such a name, against the members'
    enumeration order; 0 when neither says anything (so that orders tie). None when the partner's name
    spells some pieces and not the others: the group is no candidate."""
    partner = others.leaves[group.partner]
    width = group_width(group)
    spelled = _names.module_tokens(partner.parts) + sorted(_names.leaf_tokens(partner.parts))
    distinguishing = distinguishing_tokens(group.varying) if width > 1 else []
    partner_tokens = expand_fused_tokens(spelled, distinguishing)
    # The pieces' own words count only where the partner's name spells every piece: a silent name
    # ('in_proj') then says nothing for or against any choice of pieces, and their other partners decide.
    member_tokens = set.intersection(*(members.module_tokens[m] for m in group.members))
    spelled = [{t for t in tokens if t in partner_tokens} for tokens in distinguishing]
    if any(spelled) and not all(spelled):
        return None  # the partner's name spells pieces, and this group takes one it does not spell (qkv from k, v, o)
    if spelled and all(spelled):
        member_tokens |= set().union(*spelled)
    evidence = {"module_name": 1.0 - weighted_jaccard(member_tokens, set(partner_tokens), token_weight), "concat_order": 0.0}
    if width < 2:
        return evidence
    positions = [next((partner_tokens.index(t) for t in tokens if t in partner_tokens), None) for tokens in distinguishing]
    if None in positions or len(set(positions)) < width:
        if not members_ordered:
            return evidence
        positions = [members.leaves[m].index for m in group.members[:width]]
    inversions = sum(1 for x in range(width) for y in range(x + 1, width) if positions[x] > positions[y])
    evidence["concat_order"] = inversions / (width * (width - 1) / 2)
    return evidence


def fused_pairs(graph, m, t, margin, my_leaves, their_leaves):
    """The Pairs of a chosen group edge: one pair for a fusion (several `their` names), one per member for
    a split (each taking its ``part`` of the expression's outputs)."""
    edge = graph.edges[m, t]
    group = edge["group"]
    single, grouped = (m, t) if is_group(t) else (t, m)
    others = sorted((d["cost"], v) for _, v, d in graph.edges(single, data=True) if v != grouped)
    runner_up = graph.nodes[others[0][1]]["name"] if others else None
    runner_up_features = {k: graph.edges[single, others[0][1]][k] for k in FEATURE_WEIGHTS} if others else {}
    common = dict(transform=group.transform.expression, axes=group.transform.axes, cost=edge["cost"], margin=margin,
                  features={k: edge[k] for k in FEATURE_WEIGHTS}, runner_up=runner_up, runner_up_features=runner_up_features)
    if group.side == "their":
        return [Pair(my=my_leaves[group.partner].name, their=tuple(their_leaves[j].name for j in group.members), **common)]
    return [Pair(my=my_leaves[i].name, their=(their_leaves[group.partner].name,), part=k, **common)
            for k, i in enumerate(group.members)]


def _partner_substring(name):
    """The partner's own module name, which all partners of its kind share ('gate_up_proj', 'qkv')."""
    parts = [p for p in name.replace("/", ".").split(".") if p]
    own = [p for p in parts if not p.isdigit() and _names.leaf_name((p,)) not in _names.LEAF_SYNONYMS]
    return own[-1] if own else name


def _fused_ties(graph, assignment):
    """Each tied fused weight once: ``(changed, group, single, grouped, options)``, `options` being the chosen and
    the tied way of putting it together in the order the error shows them: the one whose pieces keep their
    enumeration order first, the likelier truth."""
    seen = set()
    for left, changed in assignment.alternatives.items():
        right = assignment.pairs[left]
        group = graph.edges[left, right].get("group")
        if group is None:
            for row, col in changed.items():
                if col is not None and graph.has_edge(row, col) and "group" in graph.edges[row, col]:
                    group, left, right = graph.edges[row, col]["group"], row, assignment.pairs.get(row)
                    break
        if group is None or right is None:
            continue
        single = left if not is_group(left) else right
        grouped = right if single is left else left
        if single in seen:
            continue
        seen.add(single)
        tied = changed.get(left) if single is left else next((r for r, c in changed.items() if c == single), None)
        options = [grouped] + ([tied] if tied is not None else [])
        options.sort(key=lambda node: (_out_of_order(graph.nodes[node].get("group")), graph.nodes[node]["name"],
                                       graph.nodes[node]["group"].transform.expression if is_group(node) else ""))
        yield changed, group, single, grouped, options


def proposed_fused_pairing(graph, assignment):
    """The chosen pairs with each tied fused weight put together as the error's first row shows it."""
    pairing = dict(assignment.pairs)
    for changed, _, _, grouped, options in _fused_ties(graph, assignment):
        if options[0] != grouped:
            for m, t in changed.items():
                if t is None:
                    pairing.pop(m, None)
                else:
                    pairing[m] = t
    return pairing


def fused_ambiguity_error(graph, assignment, my_leaves, their_leaves):
    """The AmbiguityError for ties that involve fused groups: each tied fused weight with the chosen and the
    tied way of putting it together, and an order hint that names the members in order."""

    blocks, groups, hints, layout_ties = [], [], [], 0
    for _, group, single, _, options in _fused_ties(graph, assignment):
        single_name = graph.nodes[single]["name"]
        shape = graph.nodes[single]["shape"]
        sides = ("my", "their") if group.side == "their" else ("their", "my")
        texts = [graph.nodes[node]["name"] for node in options] + ["(something else)"] * (2 - len(options))
        proposed = graph.nodes[options[0]].get("group")
        groups.append(((single_name,), tuple(texts[0].split(ORDER_SEPARATOR))))
        if texts[0] == texts[1]:
            # The same pieces in the same order, joined along other axes: a layout no weight around proves.
            texts = [f"{text}  ({graph.nodes[node]['group'].transform.expression})" for text, node in zip(texts, options)]
            layout_ties += 1
        elif proposed is not None and group_width(proposed) > 1:
            pieces = ORDER_SEPARATOR.join(proposed.varying)
            hint = (_partner_substring(single_name), pieces) if group.side == "their" else (pieces, _partner_substring(single_name))
            if hint not in hints:
                hints.append(hint)
        more = graph.nodes[single].get("instances", 1) - 1
        alike = f" and {more} more alike" if more else ""
        blocks.append(
            f"  {sides[0]} {single_name} {shape}{alike} {'<-' if group.side == 'their' else '->'} {sides[1]}\n"
            f"    {texts[0]}\n"
            f"    or {texts[1]}"
        )
    hint_text = ", ".join(f"({a!r}, {b!r})" for a, b in hints).replace("'", '"')
    if not blocks:
        # Ties that move fused groups only as a side effect: shown pair by pair.
        lines = []
        for left, changed in assignment.alternatives.items():
            for row, col in changed.items():
                now = assignment.pairs.get(row)
                lines.append(f"  {graph.nodes[row]['name']} <- {graph.nodes[now]['name'] if now else '(nothing)'}"
                             f"  or  <- {graph.nodes[col]['name'] if col else '(nothing)'}")
        message = "the mapping is not unique: these pairs tie with others at the same cost:\n" + "\n".join(dict.fromkeys(lines))
        return AmbiguityError(message, [], [])
    if layout_ties == len(blocks):
        message = (
            f"the mapping is not unique: {len(blocks)} fused weight{'s' if len(blocks) != 1 else ''} can be put together "
            "along more than one axis at the same cost: the pieces are square and no weight of the same kind "
            "around them proves the axis order.\n" + "\n".join(blocks)
        )
        return AmbiguityError(message, groups, [])
    message = (
        f"the mapping is not unique: {len(blocks)} fused weight{'s' if len(blocks) != 1 else ''} can be put together "
        "in more than one way at the same cost: no name spells the order of the pieces (as 'qkv' or "
        "'gate_up_proj' do) and the pieces' enumeration order is alphabetical, so it is no evidence.\n" + "\n".join(blocks)
        + "\nSay which pieces go in which order with hints (my_substring, \"their_piece + their_piece\"), or "
        + "(\"my_piece + my_piece\", their_substring) for a split; if the first rows above are right:\n"
        + f"  hints=[{hint_text}]"
    )
    return AmbiguityError(message, groups, hints)


def _out_of_order(group):
    """How many member pairs a group takes against their enumeration order (a non-group option: none)."""
    if group is None:
        return 0
    return sum(1 for x, y in itertools.combinations(group.members, 2) if x > y)
