"""The evidence of one candidate pair: named features, each in [0, 1], their weights, and the cost they add
up to. Below both the cost graph and the fused groups, which score their edges alike."""

from collections import defaultdict

from . import _names

# How much each feature weighs in an edge's cost. Every feature lies in [0, 1].
FEATURE_WEIGHTS = {
    "leaf_name": 3.0,
    "module_name": 1.0,
    "name_suffix": 3.0,
    "block_index": 1.0,
    "order": 4.0,
    "layout_change": 1.0,
    "structure": 2.0,
    "layout_consistency": 1.0,
    # Only edges to fused groups: how far the order inside the concatenation goes against the evidence.
    "concat_order": 1.0,
}


# Leaving a leaf without a partner costs more than any edge, so the most pairs win first.
UNMATCHED_COST = sum(weight for name, weight in FEATURE_WEIGHTS.items() if name != "concat_order")


def my_node(i):
    return ("my", i)


def their_node(j):
    return ("their", j)


def index_distance(a, b):
    if not a and not b:
        return 0.0
    if not a or not b:
        return 0.5
    n = min(len(a), len(b))
    # Ranks among different numbers of siblings come from different numbering schemes
    # (torchvision's features.1 is timm's stages.0): they are weak evidence either way.
    mismatches = sum(1.0 if count == other_count else 0.25 for (rank, count), (other, other_count) in zip(a, b)
                     if (rank, count) != (other, other_count))
    return min(1.0, mismatches / n + 0.25 * abs(len(a) - len(b)))


def path_units(parts, ranks):
    """One unit per module of the path: its canonical words and its numbers, a module that is only a
    number joining the one before. A number is kept as (value, rank among its siblings, number of
    siblings): 'layer1.0.conv3' -> (block, (1, 0, 4), (0, 0, 3)), (conv, (3, 2, 3))."""
    units, rank_iter = [], iter(ranks)
    for part in parts:
        unit = []
        for token in _names.raw_tokens(part):
            if token.isdigit():
                rank = next(rank_iter, None)
                if rank is not None:
                    unit.append((int(token),) + rank)
                elif part.isdigit():
                    # The index of a list of one item says where it sits by its value alone: `layers.0`
                    # of one block is `layers.0` of two, not `layers.1` (a number inside a word without
                    # siblings, `norm1` alone, tells nothing and is left out).
                    unit.append((int(token), None, None))
            else:
                unit.append(_names.canonical_module_token(token))
        if not unit:
            continue
        if units and all(isinstance(x, tuple) for x in unit):
            units[-1] = units[-1] + tuple(unit)
        else:
            units.append(tuple(unit))
    return tuple(units)


def same_unit(a, b):
    """Modules named alike: the same words, and numbers equal in value ('norm_1' is 'norm.1') or in rank
    among as many siblings ('conv1' of conv1, conv2 is 'conv_0' of conv_0, conv_1)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, tuple) != isinstance(y, tuple):
            return False
        if isinstance(x, tuple) and not (x[0] == y[0] or x[1:] == y[1:]):
            return False
        if not isinstance(x, tuple) and x != y:
            return False
    return True


def raw_units(units):
    """Units with plain numbers, to look up names that are written alike."""
    return tuple(tuple(x[0] if isinstance(x, tuple) else x for x in unit) for unit in units)


def suffix_distance(a, b):
    """1 - the share of the longer module path that both paths end with, numbers included:
    'params/blocks/0/norm1' and 'blocks.0.norm1' end alike; 'blocks.0.norm1' and 'blocks.0.norm2' do not."""
    if not a or not b:
        return 0.0 if not a and not b else 1.0
    common = 0
    for x, y in zip(reversed(a), reversed(b)):
        if not same_unit(x, y):
            break
        common += 1
    if common < 2 and not common == len(a) == len(b):
        return 1.0  # one module in common ('blocks.1' and a Sequential's 'block.1') is a coincidence
    return 1.0 - common / max(len(a), len(b))


EQUAL_WEIGHTS = defaultdict(lambda: 1.0)


def weighted_jaccard(a, b, weight):
    union = a | b
    if not union:
        return 1.0
    return sum(weight[t] for t in a & b) / sum(weight[t] for t in union)


def features(my, i, their, j, token_weight, transform, seen=None):
    """The named features of pairing my leaf i with their leaf j, each in [0, 1]. The name features
    depend only on the leaves' kinds, modules and indices, which repeat: `seen` keeps them, one dict each."""
    seen_kinds, seen_modules, seen_indices = seen or ({}, {}, {})
    key = (my.kind_id[i], their.kind_id[j])
    leaf = seen_kinds.get(key)
    if leaf is None:
        if my.leaf_name[i] == their.leaf_name[j]:
            leaf = 0.0
        else:
            leaf = 1.0 - weighted_jaccard(my.leaf_tokens[i], their.leaf_tokens[j], EQUAL_WEIGHTS)
        seen_kinds[key] = leaf
    key = (my.module_id[i], their.module_id[j])
    module = seen_modules.get(key)
    if module is None:
        module = seen_modules[key] = (
            1.0 - weighted_jaccard(my.module_tokens[i], their.module_tokens[j], token_weight),
            suffix_distance(my.module_sequence[i], their.module_sequence[j]),
        )
    ordered = my.ordered and their.ordered
    block_index = 0.0
    if not ordered:
        key = (my.index_id[i], their.index_id[j])
        block_index = seen_indices.get(key)
        if block_index is None:
            block_index = seen_indices[key] = index_distance(my.indices[i], their.indices[j])
    return {
        "leaf_name": leaf,
        "module_name": module[0],
        "name_suffix": module[1],
        "block_index": block_index,
        "order": abs(my.position[i] - their.position[j]) if ordered else 0.0,
        "layout_change": transform.price,
        "structure": 0.0,
        "layout_consistency": 0.0,
        "concat_order": 0.0,
    }


def reshape_is_evidenced(values, my_tokens, their_tokens):
    """A reshape (an axis of 1 dropped or added, axes merged or split) joins leaves of one kind (equal leaf
    names after synonyms), or leaves whose modules share words and one of whose names spells all of the
    other's (`embedding` within `pos_embedding`). Size alone is no evidence, nor a word in common where
    each name has one the other lacks (`cls_token`, `mask_token`): either would squeeze a leftover tensor
    into a slot whose own partner is missing. Across the zoo, every reshape of a correct mapping joins
    leaves of one kind."""
    if values["leaf_name"] == 0.0:
        return True
    return values["module_name"] < 1.0 and bool(my_tokens & their_tokens) and (my_tokens <= their_tokens or their_tokens <= my_tokens)


def edge_cost(feature_values):
    return sum(FEATURE_WEIGHTS[name] * value for name, value in feature_values.items())


# A pair whose margin reaches this is sure enough to say which modules correspond.
CONFIDENT_MARGIN = 1.0


# Cost differences below this are rounding, not evidence: positions lie on a grid of 1/1000 and rare-word
# weights differ by a few thousandths between candidates named alike (a shortcut and a main-path conv
# that tie cost 7.983 and 7.984); the smallest difference of names that told a tie right was 0.15 (BERT's norms).
COST_NOISE = 0.05
