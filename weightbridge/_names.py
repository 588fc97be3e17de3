"""Name evidence: tokens, synonyms and block indices taken from weight names."""

import functools
import re

# Last path component: how frameworks name the same kind of parameter.
LEAF_SYNONYMS = {
    "weight": ("weight", "kernel", "w", "gamma", "scale", "embedding", "embeddings", "g", "layer_scale", "layer_scale_parameter"),
    "bias": ("bias", "b", "beta", "offset"),
    "running_mean": ("running_mean", "moving_mean", "mean", "runningmean"),
    "running_var": ("running_var", "moving_variance", "moving_var", "var", "variance", "runningvar"),
}
_LEAF_CANONICAL = {alias: canonical for canonical, aliases in LEAF_SYNONYMS.items() for alias in aliases}
PARAMETER_KINDS = frozenset(LEAF_SYNONYMS)

# Module path tokens: how implementations name the same kind of module.
MODULE_SYNONYMS = {
    "conv": ("conv", "convolution", "cnn"),
    "norm": ("norm", "bn", "batchnorm", "ln", "layernorm", "normalization", "gn", "groupnorm", "rmsnorm"),
    "attn": ("attn", "attention", "att", "mha", "selfattention"),
    "mlp": ("mlp", "ffn", "ff", "feedforward", "fc_layer"),
    "fc": ("fc", "linear", "dense"),
    "q": ("q", "query"),
    "k": ("k", "key"),
    "v": ("v", "value"),
    "out": ("out", "output", "o"),
    "downsample": ("downsample", "shortcut", "skip", "downsampling", "residual"),
    "embed": ("embed", "embedding", "embeddings", "emb", "embedder", "embeds"),
    "block": ("block", "blocks", "layer", "layers", "h", "resblock", "resblocks"),
    "stage": ("stage", "stages"),
    "head": ("head", "heads", "classifier", "cls"),
    "expert": ("expert", "experts"),
}
_MODULE_CANONICAL = {alias: canonical for canonical, aliases in MODULE_SYNONYMS.items() for alias in aliases}

# Whole module names that say a transformer block's parts in other words: the norm before attention
# and the norm before the MLP (Llama's input/post_attention_layernorm are Meta's attention/ffn_norm),
# the gated MLP's projections (Meta's w1, w2, w3 are gate, down, up) and packed projections.
ROLES = {
    "attention_norm": ("attention_norm", "attn_norm", "input_layernorm", "self_attention_layernorm",
                       "self_attention_layer_norm", "ln_1"),
    "ffn_norm": ("ffn_norm", "post_attention_layernorm", "feedforward_layernorm", "feedforward_layer_norm", "ffw_norm",
                 "ln_2"),
    "gate_proj": ("gate_proj", "w1"),
    "down_proj": ("down_proj", "w2"),
    "up_proj": ("up_proj", "w3"),
    # torch's MultiheadAttention packs query, key and value, in this order, into in_proj.
    "qkv_proj": ("in_proj",),
    "qkv_proj_weight": ("in_proj_weight",),
    "qkv_proj_bias": ("in_proj_bias",),
}
_ROLE_CANONICAL = {alias: canonical for canonical, aliases in ROLES.items() for alias in aliases}

_SPLIT = re.compile(r"[^0-9a-zA-Z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_DIGITS = re.compile(r"(\d+)")


def raw_tokens(text):
    """Lower-case word and number tokens: 'encoder_layer3.LayerNorm' -> encoder, layer, 3, layer, norm."""
    text = _ROLE_CANONICAL.get(text.lower(), text)
    tokens = []
    for chunk in _SPLIT.split(text):
        for piece in _DIGITS.split(chunk):
            if not piece:
                continue
            compound = piece.lower()
            if piece.isdigit() or compound in _MODULE_CANONICAL or compound in _LEAF_CANONICAL:
                tokens.append(compound)
            else:
                tokens.extend(singular(word.lower()) for word in _CAMEL.split(piece) if word)
    return tokens


def singular(word):
    """A plural word as its singular ('tokens' -> 'token', 'patches' -> 'patch'), so that `embed_tokens`
    and `token_embedding` share their words; short words and words in -ss or -us are left as they are."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith(("ches", "shes", "xes")):
        return word[:-2]
    return word[:-1]


def leaf_name(name_parts):
    """The canonical kind of parameter a leaf is ('weight', 'bias', ...) from its last path component."""
    last = re.sub(r":\d+$", "", name_parts[-1]).lower()
    return _LEAF_CANONICAL.get(last, last)


def module_tokens(name_parts):
    """Canonical word tokens of the module path (numbers and the leaf's own name excluded)."""
    tokens = []
    for part in name_parts[:-1]:
        for token in raw_tokens(part):
            if token.isdigit():
                continue
            tokens.append(_MODULE_CANONICAL.get(token, token))
    return tokens


def canonical_module_token(token):
    return _MODULE_CANONICAL.get(token, token)


def leaf_tokens(name_parts):
    """Canonical tokens of the leaf's own name, for comparing leaves whose kinds differ."""
    canonical = leaf_name(name_parts)
    if canonical in LEAF_SYNONYMS:
        return {canonical}
    # A compound name ('conv1d_kernel', 'q_bias') is module words and a kind of parameter.
    return {_LEAF_CANONICAL.get(t, _MODULE_CANONICAL.get(t, t)) for t in raw_tokens(canonical) if not t.isdigit()}


def numbers(name_parts):
    """The integers in a path with the template they sit in: 'layer1.0.conv3' -> ((1, 0, 3), 'layer{}.{}.conv{}')."""
    values, template_parts = [], []
    for part in name_parts:
        part_values, part_template = _part_numbers(part)
        values.extend(part_values)
        template_parts.append(part_template)
    return tuple(values), ".".join(template_parts)


@functools.lru_cache(maxsize=65536)
def _part_numbers(part):
    """One path part's integers and template; parts repeat across a checkpoint, so each is read once."""
    values, template = [], []
    for piece in _DIGITS.split(part):
        if piece.isdigit():
            values.append(int(piece))
            template.append("{}")
        else:
            template.append(piece)
    return tuple(values), "".join(template)


def natural_key(name):
    """Sort key that compares the numbers in a name as numbers: 'layers.2' < 'layers.10'."""
    return [(0, int(piece), "") if piece.isdigit() else (1, 0, piece) for piece in _DIGITS.split(name)]


def shortest_distinguishing(name, others, separators="./"):
    """Substrings of `name`, shortest first, that no name in `others` contains."""
    parts = [p for p in re.split(f"[{re.escape(separators)}]", name) if p]
    candidates = []
    for i in range(len(parts)):
        for j in range(i + 1, len(parts) + 1):
            for sep in dict.fromkeys(c for c in separators if c in name) or ["."]:
                candidates.append(sep.join(parts[i:j]))
    for token in re.findall(r"[A-Za-z]+\d*|\d+", name):
        candidates.append(token)
    unique = [c for c in dict.fromkeys(candidates) if c and c in name and not any(c in other for other in others)]
    return sorted(unique, key=lambda c: (len(c), name.rfind(c) * -1))
