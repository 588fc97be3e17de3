"""torchvision -> timm and transformers -> timm: the image classifiers two libraries both implement.

Pairs are generated from `FAMILIES`, one row per family: the sizes, a builder per side, the
hyper-parameters set equal where the libraries' defaults differ, and the proof. A proof is a
mapping that does not read shapes to decide anything; it is checked functionally (relative error
below 1e-5) before a pair counts:

- `_same_names`: both libraries use one key for one tensor (timm's ResNets and Inception-v3 keep
  torchvision's names, which is how timm loads torchvision's checkpoints);
- `_timm_converter(fn)`: timm's own converter from torchvision keys (VGG's ConvMlp head, RegNet's
  `trunk_output.block1.block1-0.f.a` -> `s1.b1.conv1`; DenseNet's `norm.1` -> `norm1`, which today's
  torchvision already names `norm1`), then `_same_names`;
- `_renamed(rules)`: regular-expression renames written here, then `_same_names`;
- `_converted(steps)`: renames plus what the layouts need besides: tables one side stores and the
  other computes from its config are dropped (Swin's relative position index), transformers'
  separate q, k, v projections are concatenated into timm's qkv, torchvision's Swin-V2 qkv bias is
  split into timm's q and v biases; then `_same_names`;
- `_in_definition_order`: both modules define the same tensors in the same order (the rule
  timm's `remap_state_dict` relies on); every pair of tensors must have equal element counts.

Families whose two implementations cannot be made to compute the same function are listed in
`UNPAIRED` with the reason: MaxViT (torchvision -> timm), PoolFormer and DINOv2 (transformers -> timm).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

from benchmarks.zoo.pairs import (
    _SHARP_ATTENTION,
    Side,
    TorchSide,
    ZooPair,
    _hf_logits,
    _image,
    _logits,
    _timm,
    _torchvision,
)


# ---------------------------------------------------------------------------- proofs


def _fill(my, values: dict):
    """`my` with every leaf replaced by `values[name]`, reshaped to the leaf; every leaf must be given.

    A state dict's `_metadata` (module versions) goes along: torchvision's MNASNet refuses a state
    dict without it.
    """
    missing = [name for name in my if name not in values]
    if missing:
        raise KeyError(f"the proof gives no value for {missing[:3]}")
    filled = type(my)((name, values[name].reshape(leaf.shape).to(leaf.dtype)) for name, leaf in my.items())
    if hasattr(my, "_metadata"):
        filled._metadata = my._metadata
    return filled


def _same_names(their, my):
    unused = [name for name in their if name not in my]
    if unused:
        raise KeyError(f"the proof has no place for {unused[:3]}")
    return _fill(my, dict(their))


def _converted(*steps: Callable[[dict], dict], then: Callable = _same_names) -> Callable:
    """Pass `their` through each step (a dict of tensors in, a dict out) in turn, then `then`."""

    def prove(their, my):
        tree = dict(their)
        for step in steps:
            tree = step(tree)
        return then(tree, my)

    return prove


def _renames(*rules: tuple[str, str | Callable]) -> Callable[[dict], dict]:
    """A step: each (pattern, replacement) in turn on every key, as `re.sub` (a replacement may be a function)."""

    def step(tree):
        renamed = {}
        for name, value in tree.items():
            for pattern, replacement in rules:
                name = re.sub(pattern, replacement, name)
            renamed[name] = value
        return renamed

    return step


def _renamed(*rules: tuple[str, str | Callable]) -> Callable:
    """Apply each (pattern, replacement) in turn to every key of `their`, then `_same_names`."""
    return _converted(_renames(*rules))


def _dropped(*parts: str) -> Callable[[dict], dict]:
    """A step: leave out the tensors whose name holds one of `parts` (tables the target computes from its config)."""
    return lambda tree: {name: value for name, value in tree.items() if not any(part in name for part in parts)}


def _concatenated(fused: str, *parts: str) -> Callable[[dict], dict]:
    """A step: the tensors named with each of `parts` at one place become one, `fused`, stacked along the first axis
    in the order of `parts` (transformers' query, key, value projections are timm's qkv)."""

    def step(tree):
        import torch

        out = {}
        for name, value in tree.items():
            if parts[0] in name:
                pieces = [tree[name.replace(parts[0], part)] for part in parts]
                out[name.replace(parts[0], fused)] = torch.cat(pieces)
            elif not any(part in name for part in parts[1:]):
                out[name] = value
        return out

    return step


def _split(part: str, *pieces: str | None) -> Callable[[dict], dict]:
    """A step: the tensor named with `part` falls into equal pieces along the first axis, named with `pieces`;
    a piece named None is one the target does not keep."""

    def step(tree):
        out = {}
        for name, value in tree.items():
            if part not in name:
                out[name] = value
                continue
            for piece, chunk in zip(pieces, value.chunk(len(pieces))):
                if piece is not None:
                    out[name.replace(part, piece)] = chunk
        return out

    return step


def _timm_converter(module: str, function: str, then: Callable = _same_names) -> Callable:
    def prove(their, my):
        import importlib

        converted = getattr(importlib.import_module(f"timm.models.{module}"), function)(dict(their))
        return then(converted, my)

    return prove


def _shortcut_last(their):
    """transformers defines a block's shortcut before its convolutions, timm after them."""
    order = list(their)
    for name in [name for name in order if ".shortcut." in name]:
        order.remove(name)
        block = name.split(".shortcut.")[0] + "."
        last = max(index for index, other in enumerate(order) if other.startswith(block))
        order.insert(last + 1, name)
    return {name: their[name] for name in order}


def _in_definition_order_shortcut_last(their, my):
    return _in_definition_order(_shortcut_last(their), my)


def _in_definition_order(their, my):
    if len(their) != len(my):
        raise KeyError(f"their {len(their)} tensors against my {len(my)}")
    values = {}
    for (their_name, value), (name, leaf) in zip(their.items(), my.items()):
        if value.numel() != leaf.numel():
            raise KeyError(f"{their_name} {tuple(value.shape)} does not fit {name} {tuple(leaf.shape)}")
        values[name] = value
    return _fill(my, values)


# torchvision's MLP is a Sequential (Linear, GELU, Dropout, Linear, Dropout); timm names its two Linears.
_TORCHVISION_MLP = ((r"\.mlp\.0\.", ".mlp.fc1."), (r"\.mlp\.3\.", ".mlp.fc2."))

_TORCHVISION_VIT_TO_TIMM = _renamed(
    (r"^class_token$", "cls_token"),
    (r"^conv_proj\.", "patch_embed.proj."),
    (r"^encoder\.pos_embedding$", "pos_embed"),
    (r"^encoder\.layers\.encoder_layer_(\d+)\.", r"blocks.\1."),
    (r"\.ln_(\d)\.", r".norm\1."),
    (r"\.self_attention\.in_proj_", ".attn.qkv."),
    (r"\.self_attention\.out_proj\.", ".attn.proj."),
    *_TORCHVISION_MLP,
    (r"^encoder\.ln\.", "norm."),
    (r"^heads\.head\.", "head."),
)

# torchvision's `features` alternate stages (odd) and patch merging (even); timm merges at the start of a stage.
_TORCHVISION_SWIN = _renames(
    (r"^features\.0\.0\.", "patch_embed.proj."),
    (r"^features\.0\.2\.", "patch_embed.norm."),
    (r"^features\.(\d+)\.(\d+)\.", lambda match: f"layers.{int(match[1]) // 2}.blocks.{match[2]}."),
    (r"^features\.(\d+)\.", lambda match: f"layers.{int(match[1]) // 2}.downsample."),
    *_TORCHVISION_MLP,
    (r"^head\.", "head.fc."),
)

_TORCHVISION_SWIN_TO_TIMM = _converted(_dropped("relative_position_index"), _TORCHVISION_SWIN)

# torchvision keeps one qkv bias and zeroes its key third in the forward pass; timm keeps q and v biases only.
_TORCHVISION_SWIN_V2_TO_TIMM = _converted(
    _dropped("relative_position_index", "relative_coords_table"),
    _split("attn.qkv.bias", "attn.q_bias", None, "attn.v_bias"),
    _TORCHVISION_SWIN,
)


# transformers' pre-norm blocks name their norms by place; timm numbers them.
_TRANSFORMERS_NORMS = ((r"\.layernorm_before\.", ".norm1."), (r"\.layernorm_after\.", ".norm2."))
# transformers' BERT-style block (Swin-V2, MobileViT): the attention's output, then the MLP's two Linears.
_TRANSFORMERS_BERT_BLOCK = (
    (r"\.attention\.output\.dense\.", ".attn.proj."),
    (r"\.intermediate\.dense\.", ".mlp.fc1."),
    (r"\.output\.dense\.", ".mlp.fc2."),
    *_TRANSFORMERS_NORMS,
)

# transformers' ViT, DeiT and BEiT share their encoder's names.
_TRANSFORMERS_VIT = (
    (r"^(vit|deit|beit)\.", ""),
    (r"^embeddings\.cls_token$", "cls_token"),
    (r"^embeddings\.distillation_token$", "dist_token"),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"^layers\.(\d+)\.", r"blocks.\1."),
    *_TRANSFORMERS_NORMS,
    (r"\.attention\.qkv\.", ".attn.qkv."),
    (r"\.attention\.o_proj\.", ".attn.proj."),
    (r"^layernorm\.", "norm."),
)
_QKV = _concatenated("attention.qkv.", "attention.q_proj.", "attention.k_proj.", "attention.v_proj.")

_TRANSFORMERS_VIT_TO_TIMM = _converted(_QKV, _renames(*_TRANSFORMERS_VIT, (r"^classifier\.", "head.")))

_TRANSFORMERS_DEIT_TO_TIMM = _converted(
    _QKV,
    _renames(
        *_TRANSFORMERS_VIT,
        (r"^cls_classifier\.", "head."),
        (r"^distillation_classifier\.", "head_dist."),
    ),
)

def _qkv_with_query_and_value_biases(attention: str, query: str, key: str, value: str) -> tuple:
    """Steps for an attention whose key has no bias (BEiT, Swin-V2): the three weights become
    `{attention}.qkv.weight`, the query and value biases timm's `attn.q_bias` and `attn.v_bias`."""
    return (
        _concatenated(f"{attention}.qkv.weight", *(f"{attention}.{part}.weight" for part in (query, key, value))),
        _renames(
            (rf"\.{re.escape(attention)}\.{query}\.bias$", ".attn.q_bias"),
            (rf"\.{re.escape(attention)}\.{value}\.bias$", ".attn.v_bias"),
        ),
    )


_TRANSFORMERS_BEIT_TO_TIMM = _converted(
    *_qkv_with_query_and_value_biases("attention", "q_proj", "k_proj", "v_proj"),
    _renames(
        *_TRANSFORMERS_VIT,
        (r"\.relative_position_bias\.", ".attn."),
        (r"\.lambda_(\d)$", r".gamma_\1"),
        (r"^pooler\.layernorm\.", "fc_norm."),
        (r"^classifier\.", "head."),
    ),
)


# transformers' Swin-V2 merges patches at the end of a stage, timm at the start of the next.
_TRANSFORMERS_SWIN_V2_TO_TIMM = _converted(
    *_qkv_with_query_and_value_biases("attention.self", "query", "key", "value"),
    _renames(
        (r"^swinv2\.embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
        (r"^swinv2\.embeddings\.norm\.", "patch_embed.norm."),
        (r"^swinv2\.encoder\.layers\.(\d+)\.downsample\.", lambda match: f"layers.{int(match[1]) + 1}.downsample."),
        (r"^swinv2\.encoder\.", ""),
        (r"\.attention\.self\.continuous_position_bias_mlp\.", ".attn.cpb_mlp."),
        (r"\.attention\.self\.", ".attn."),
        *_TRANSFORMERS_BERT_BLOCK,
        (r"^swinv2\.layernorm\.", "norm."),
        (r"^classifier\.", "head.fc."),
    ),
)

# transformers' Swin, like its Swin-V2, merges patches at the end of a stage.
_TRANSFORMERS_SWIN_TO_TIMM = _converted(
    _QKV,
    _renames(
        (r"^swin\.embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
        (r"^swin\.embeddings\.norm\.", "patch_embed.norm."),
        (r"^swin\.encoder\.layers\.(\d+)\.downsample\.", lambda match: f"layers.{int(match[1]) + 1}.downsample."),
        (r"^swin\.encoder\.", ""),
        (r"\.attention\.relative_position_bias\.", ".attn."),
        (r"\.attention\.qkv\.", ".attn.qkv."),
        (r"\.attention\.o_proj\.", ".attn.proj."),
        *_TRANSFORMERS_NORMS,
        (r"^swin\.layernorm\.", "norm."),
        (r"^classifier\.", "head.fc."),
    ),
)

# transformers' key and value projections are timm's kv; a stage's patch embedding is timm's downsample.
_TRANSFORMERS_PVT_V2_TO_TIMM = _converted(
    _concatenated("attention.kv.", "attention.key.", "attention.value."),
    _renames(
        (r"^pvt_v2\.encoder\.layers\.0\.patch_embedding\.", "patch_embed."),
        (r"^pvt_v2\.encoder\.layers\.(\d+)\.patch_embedding\.", r"stages.\1.downsample."),
        (r"^pvt_v2\.encoder\.layers\.", "stages."),
        (r"\.layer_norm_(\d)\.", r".norm\1."),
        (r"\.layer_norm\.", ".norm."),
        (r"\.attention\.query\.", ".attn.q."),
        (r"\.attention\.spatial_reduction\.", ".attn.sr."),
        (r"\.attention\.", ".attn."),
        (r"\.mlp\.dense(\d)\.", r".mlp.fc\1."),
        (r"\.mlp\.dwconv\.dwconv\.", ".mlp.dwconv."),
        (r"^classifier\.", "head."),
    ),
)


def _hiera_blocks_across_stages(tree):
    """timm numbers Hiera's blocks across stages, transformers within each stage."""
    pattern = r"^hiera\.encoder\.stages\.(\d+)\.layers\.(\d+)\."
    depths = {}
    for name in tree:
        if match := re.match(pattern, name):
            depths[int(match[1])] = max(depths.get(int(match[1]), 0), int(match[2]) + 1)
    first = [sum(depths[earlier] for earlier in range(stage)) for stage in range(len(depths))]
    return _renames((pattern, lambda match: f"blocks.{first[int(match[1])] + int(match[2])}."))(tree)


_TRANSFORMERS_HIERA_TO_TIMM = _converted(
    _hiera_blocks_across_stages,
    _renames(
        (r"^hiera\.embeddings\.position_embeddings$", "pos_embed"),
        (r"^hiera\.embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
        *_TRANSFORMERS_NORMS,
        (r"^hiera\.pooler\.layernorm\.", "head.norm."),
        (r"^classifier\.", "head.fc."),
    ),
)


# transformers' MobileViT stages: `layer.{i}.layer.{j}` inverted residuals, or a downsampling inverted
# residual and a MobileViT block; timm's stages hold the same as `stages.{i}.{j}`.
_TRANSFORMERS_MOBILEVIT_TO_TIMM = _converted(
    _concatenated("attention.attention.qkv.", "attention.attention.query.", "attention.attention.key.", "attention.attention.value."),
    _renames(
        (r"^mobilevit\.conv_stem\.", "stem."),
        (r"^mobilevit\.conv_1x1_exp\.", "final_conv."),
        (r"^mobilevit\.encoder\.layer\.(\d+)\.layer\.(\d+)\.", r"stages.\1.\2."),
        (r"^mobilevit\.encoder\.layer\.(\d+)\.downsampling_layer\.", r"stages.\1.0."),
        (r"^mobilevit\.encoder\.layer\.(\d+)\.", r"stages.\1.1."),
        (r"\.expand_1x1\.", ".conv1_1x1."),
        (r"\.conv_3x3\.", ".conv2_kxk."),
        (r"\.reduce_1x1\.", ".conv3_1x1."),
        (r"\.conv_1x1\.convolution\.", ".conv_1x1."),
        (r"\.convolution\.", ".conv."),
        (r"\.normalization\.", ".bn."),
        (r"\.transformer\.layer\.(\d+)\.", r".transformer.\1."),
        (r"\.attention\.attention\.qkv\.", ".attn.qkv."),
        *_TRANSFORMERS_BERT_BLOCK,
        (r"\.layernorm\.", ".norm."),
        (r"\.conv_projection\.", ".conv_proj."),
        (r"\.fusion\.", ".conv_fusion."),
        (r"^classifier\.", "head.fc."),
    ),
)


# ---------------------------------------------------------------------------- builders


def _torchvision_class(module: str, cls: str, *args, **kwargs) -> Callable[[], Side]:
    """A torchvision model built from its class, where `get_model` fixes the depth."""

    def build() -> Side:
        import importlib

        model_class = getattr(importlib.import_module(f"torchvision.models.{module}"), cls)
        return TorchSide(model_class(*_resolved(args), **kwargs), _logits)

    return build


def _torchvision_vit(**width) -> Callable[[], Side]:
    """torchvision's ViT-*/16 with 2 layers on 64x64 images; `get_model` fixes the depth."""
    return _torchvision_class("vision_transformer", "VisionTransformer", image_size=64, patch_size=16, num_layers=2, num_classes=10, **width)


def _resolved(args):
    """Constructor arguments; a string naming `module:attribute` is looked up (torchvision's block classes)."""
    import importlib

    out = []
    for arg in args:
        if isinstance(arg, str) and ":" in arg:
            module, attribute = arg.split(":")
            arg = getattr(importlib.import_module(module), attribute)
        out.append(arg)
    return out


class _TorchSideWithConstants(TorchSide):
    """A torch module with float buffers that its config computes (torchvision's Swin-V2 coordinate tables).

    A checkpoint holds them as the config made them; random values would make a model no config builds,
    which the other library (computing the tables itself) cannot match.
    """

    def __init__(self, module, forward: Callable, constants: tuple[str, ...]):
        super().__init__(module, forward)
        self.constants = constants

    def randomize(self, seed: int) -> None:
        kept = {name: tensor.clone() for name, tensor in self.module.state_dict().items() if name.endswith(self.constants)}
        super().randomize(seed)
        self.module.load_state_dict(kept, strict=False)


def _torchvision_with_constants(name: str, constants: tuple[str, ...], **kwargs) -> Callable[[], Side]:
    def build() -> Side:
        import torchvision

        return _TorchSideWithConstants(torchvision.models.get_model(name, weights=None, **kwargs), _logits, constants)

    return build


def _timm_with_layer_norm_eps(eps: float) -> Callable[..., Callable[[], Side]]:
    """`_timm` with `norm_layer` a LayerNorm of `eps`: timm's PVT-v2 fixes 1e-5 in its patch embeddings and
    attention reductions and takes `norm_layer` (1e-6 by default) for the rest."""

    def timm_with_eps(name: str, **kwargs) -> Callable[[], Side]:
        def build() -> Side:
            from functools import partial

            import timm
            import torch

            return TorchSide(timm.create_model(name, norm_layer=partial(torch.nn.LayerNorm, eps=eps), **kwargs), _logits)

        return build

    return timm_with_eps


def _transformers(config: str, model: str, **settings) -> Callable[[], Side]:
    def build() -> Side:
        import transformers

        return TorchSide(getattr(transformers, model)(getattr(transformers, config)(**settings)), _hf_logits)

    return build


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Member:
    """One size of a family: how each side is built, and what was set equal."""

    size: str
    build_source: Callable[[], Side]
    build_target: Callable[[], Side]
    equal: str = ""


# A proof that reads neither side's names one way only (`_same_names`, `_in_definition_order`) proves
# the reverse pair too; such a family also runs from timm to the other library.
_REVERSIBLE = True
_ONE_WAY = False


@dataclass(frozen=True)
class Family:
    name: str
    source: str
    prove: Callable
    reversible: bool
    members: list[Member]
    image: int = 64
    note: str = ""
    target: str = "timm"
    fast: tuple[str, ...] = field(default=())


def _in_order(name: str, source: str, members: list[Member], **settings) -> Family:
    """A family proven by both definitions' order, which proves the reverse pair too."""
    return Family(name, source, _in_definition_order, _REVERSIBLE, members, **settings)


def _tv(size: str, torchvision_name: str, timm_name: str, torchvision_settings=None, bn_eps=None) -> Member:
    """A torchvision model against a timm model, both with 10 classes; `bn_eps` set on timm's side
    where torchvision's BatchNorm eps is not timm's default 1e-5."""
    timm_settings = {} if bn_eps is None else {"bn_eps": bn_eps}
    return Member(
        size,
        _torchvision(torchvision_name, num_classes=10, **(torchvision_settings or {})),
        _timm(timm_name, num_classes=10, **timm_settings),
        equal="" if bn_eps is None else f"BatchNorm eps {bn_eps:g} as torchvision (timm defaults to 1e-5).",
    )


_RESNET_SMALL = dict(layers=[1, 1, 1, 1])
_TV_RESNET = "torchvision.models.resnet:"

FAMILIES = [
    Family(
        "ResNet",
        "torchvision",
        _same_names,
        _REVERSIBLE,
        [
            Member(
                "18 (basic blocks, 1 per stage)",
                _torchvision_class("resnet", "ResNet", _TV_RESNET + "BasicBlock", [1, 1, 1, 1], num_classes=10),
                _timm("resnet18", num_classes=10, **_RESNET_SMALL),
            ),
            Member(
                "50 (bottlenecks, 1 per stage)",
                _torchvision_class("resnet", "ResNet", _TV_RESNET + "Bottleneck", [1, 1, 1, 1], num_classes=10),
                _timm("resnet50", num_classes=10, **_RESNET_SMALL),
            ),
            _tv("34 (basic, full depth)", "resnet34", "resnet34"),
        ],
        note="timm's resnets keep torchvision's key names (timm loads torchvision checkpoints as they are).",
    ),
    Family(
        "ResNeXt",
        "torchvision",
        _same_names,
        _REVERSIBLE,
        [
            Member(
                "50 32x4d (1 block per stage)",
                _torchvision_class(
                    "resnet", "ResNet", _TV_RESNET + "Bottleneck", [1, 1, 1, 1], groups=32, width_per_group=4, num_classes=10
                ),
                _timm("resnext50_32x4d", num_classes=10, **_RESNET_SMALL),
            ),
            Member(
                "101 64x4d (2 blocks per stage)",
                _torchvision_class(
                    "resnet", "ResNet", _TV_RESNET + "Bottleneck", [2, 2, 2, 2], groups=64, width_per_group=4, num_classes=10
                ),
                _timm("resnext101_64x4d", num_classes=10, layers=[2, 2, 2, 2]),
            ),
        ],
    ),
    Family(
        "Wide-ResNet",
        "torchvision",
        _same_names,
        _REVERSIBLE,
        [
            Member(
                "50-2 (1 block per stage)",
                _torchvision_class("resnet", "ResNet", _TV_RESNET + "Bottleneck", [1, 1, 1, 1], width_per_group=128, num_classes=10),
                _timm("wide_resnet50_2", num_classes=10, **_RESNET_SMALL),
            ),
        ],
    ),
    Family(
        "Inception-v3",
        "torchvision",
        _same_names,
        _REVERSIBLE,
        [
            Member(
                "v3 without auxiliary head",
                _torchvision("inception_v3", num_classes=10, aux_logits=False, init_weights=False),
                _timm("inception_v3", num_classes=10),
                equal="BatchNorm eps 1e-3 on both sides (both libraries' default).",
            )
        ],
        image=96,
    ),
    Family(
        "DenseNet",
        "torchvision",
        _timm_converter("densenet", "_filter_torchvision_pretrained"),
        _ONE_WAY,
        [
            _tv("121", "densenet121", "densenet121"),
            _tv("161 (growth 48, 96 stem channels)", "densenet161", "densenet161"),
        ],
    ),
    Family(
        "VGG",
        "torchvision",
        _timm_converter("vgg", "_filter_fn"),
        _ONE_WAY,
        [
            _tv("11", "vgg11", "vgg11"),
            _tv("11 with batch norm", "vgg11_bn", "vgg11_bn"),
        ],
        image=32,
        note="timm's head is a ConvMlp: torchvision's Linear(25088, 4096) is timm's 7x7 conv kernel.",
    ),
    _in_order(
        "ConvNeXt",
        "torchvision",
        [
            _tv("tiny (3, 3, 9, 3 blocks)", "convnext_tiny", "convnext_tiny"),
            _tv("small (27 blocks in the third stage)", "convnext_small", "convnext_small"),
        ],
        note="LayerNorm eps 1e-6 and layer scale on both sides (both libraries' defaults); the layer scale is "
        "(C, 1, 1) in torchvision and (C,) in timm.",
    ),
    _in_order(
        "EfficientNet",
        "torchvision",
        [
            # torchvision's B5 to B7 set BatchNorm eps 1e-3, B0 to B4 keep 1e-5.
            _tv(f"B{b}", f"efficientnet_b{b}", f"efficientnet_b{b}", bn_eps=1e-3 if b >= 5 else None)
            for b in range(8)
        ],
    ),
    _in_order(
        "EfficientNet-V2",
        "torchvision",
        [
            _tv("S", "efficientnet_v2_s", "efficientnetv2_s", bn_eps=1e-3),
            _tv("M (a sixth stage of 5 blocks)", "efficientnet_v2_m", "efficientnetv2_m", bn_eps=1e-3),
        ],
    ),
    _in_order(
        "MobileNetV2",
        "torchvision",
        [
            _tv("1.0", "mobilenet_v2", "mobilenetv2_100"),
            _tv("1.4", "mobilenet_v2", "mobilenetv2_140", {"width_mult": 1.4}),
        ],
    ),
    _in_order(
        "MobileNetV3",
        "torchvision",
        [
            _tv("large", "mobilenet_v3_large", "mobilenetv3_large_100", bn_eps=1e-3),
            _tv("small", "mobilenet_v3_small", "mobilenetv3_small_100", bn_eps=1e-3),
        ],
    ),
    _in_order(
        "MNASNet",
        "torchvision",
        [
            _tv("1.0", "mnasnet1_0", "mnasnet_100"),
            _tv("0.5", "mnasnet0_5", "mnasnet_050"),
        ],
        note="torchvision's MNASNet loads only a state dict that carries its version metadata (`_metadata`), "
        "as `state_dict()` gives it.",
    ),
    Family(
        "RegNet",
        "torchvision",
        _timm_converter("regnet", "_filter_fn"),
        _ONE_WAY,
        [
            _tv("X-400MF", "regnet_x_400mf", "regnetx_004_tv"),
            _tv("X-1.6GF (group width 24, 18 blocks)", "regnet_x_1_6gf", "regnetx_016"),
            _tv("Y-800MF (squeeze-excitation)", "regnet_y_800mf", "regnety_008_tv"),
            _tv("Y-400MF (squeeze-excitation, 6 blocks in the last stage)", "regnet_y_400mf", "regnety_004"),
        ],
        note="timm's `_tv` variants where torchvision's widths differ from timm's (X-400MF, Y-800MF); "
        "timm's own X-1.6GF and Y-400MF have torchvision's widths.",
    ),
    Family(
        "ViT",
        "torchvision",
        _TORCHVISION_VIT_TO_TIMM,
        _ONE_WAY,
        [
            Member(
                "B/16 (2 layers)",
                _torchvision_vit(hidden_dim=768, num_heads=12, mlp_dim=3072),
                _timm("vit_base_patch16_224", img_size=64, depth=2, num_classes=10),
            ),
            Member(
                "L/16 (width 1024, 16 heads, 2 layers)",
                _torchvision_vit(hidden_dim=1024, num_heads=16, mlp_dim=4096),
                _timm("vit_large_patch16_224", img_size=64, depth=2, num_classes=10),
            ),
        ],
        note="64x64 images; LayerNorm eps 1e-6 and exact GELU on both sides (both libraries' defaults); "
        "torchvision's in_proj is timm's qkv, q, k, v in the same order.",
    ),
    Family(
        "Swin",
        "torchvision",
        _TORCHVISION_SWIN_TO_TIMM,
        _ONE_WAY,
        [
            Member(
                "T (window 7)",
                _torchvision("swin_t", num_classes=10),
                _timm("swin_tiny_patch4_window7_224", num_classes=10),
            ),
            Member(
                "S (18 blocks in the third stage)",
                _torchvision("swin_s", num_classes=10),
                _timm("swin_small_patch4_window7_224", num_classes=10),
            ),
        ],
        image=224,
        note="224x224 images: every stage's size is a multiple of the window, the last equal to it (no shift on "
        "either side; torchvision would pad a smaller map where timm shrinks the window). timm computes the "
        "relative position index, torchvision stores it.",
    ),
    Family(
        "Swin-V2",
        "torchvision",
        _TORCHVISION_SWIN_V2_TO_TIMM,
        _ONE_WAY,
        [
            Member(
                "T (window 8)",
                _torchvision_with_constants("swin_v2_t", ("relative_coords_table",), num_classes=10),
                _timm("swinv2_tiny_window8_256", num_classes=10),
            ),
            Member(
                "S (18 blocks in the third stage)",
                _torchvision_with_constants("swin_v2_s", ("relative_coords_table",), num_classes=10),
                _timm("swinv2_small_window8_256", num_classes=10),
            ),
        ],
        image=256,
        note="256x256 images, as Swin. torchvision stores the continuous position bias' coordinate table, "
        "timm computes it: it keeps its computed values here. torchvision's qkv bias is timm's q and v biases.",
    ),
]

def _hf_vit_like(size: str, config: str, model: str, timm_name: str, width: int, heads: int, **settings) -> Member:
    """A ViT-like encoder of 2 layers on 64x64 images in patches of 16, the MLP 4 times the width, on both sides."""
    return Member(
        size,
        _transformers(
            config,
            model,
            image_size=64,
            patch_size=16,
            hidden_size=width,
            num_attention_heads=heads,
            intermediate_size=4 * width,
            num_hidden_layers=2,
            layer_norm_eps=1e-6,
            initializer_range=0.1,
            num_labels=10,
            **settings,
        ),
        _timm(timm_name, img_size=64, depth=2, num_classes=10),
    )


_HF_VIT_EQUAL = "LayerNorm eps 1e-6 as timm (transformers defaults to 1e-12). initializer_range=0.1 " + _SHARP_ATTENTION


def _hf(size: str, family: str, timm_name: str, equal: str = "", timm_build: Callable = _timm, **settings) -> Member:
    """transformers' `{family}Config` and `{family}ForImageClassification` against a timm model, both with 10 classes."""
    return Member(
        size,
        _transformers(f"{family}Config", f"{family}ForImageClassification", num_labels=10, **settings),
        timm_build(timm_name, num_classes=10),
        equal=equal,
    )


def _hf_levit(size: str, timm_name: str, widths: list, heads: list, depths: list, key_width: int) -> Member:
    """transformers' LeViT built as timm's: each subsampling attention has the stage's input width over the
    key width for heads, an attention ratio of 4 and an MLP ratio of 2."""
    return Member(
        size,
        _transformers(
            "LevitConfig",
            "LevitForImageClassificationWithTeacher",
            hidden_sizes=widths,
            num_attention_heads=heads,
            depths=depths,
            key_dim=[key_width] * len(widths),
            down_ops=[["Subsample", key_width, width // key_width, 4, 2, 2] for width in widths[:-1]],
            num_labels=10,
        ),
        _timm(timm_name, num_classes=10),
    )


def _hf_mobilenet(version: str, size: str, timm_name: str, **settings) -> Member:
    return Member(
        size,
        _transformers(
            f"MobileNet{version}Config", f"MobileNet{version}ForImageClassification", num_labels=10, tf_padding=False, **settings
        ),
        _timm(timm_name, num_classes=10, bn_eps=1e-3),
        equal="symmetric padding (tf_padding=False) as timm; BatchNorm eps 1e-3 as transformers.",
    )


_HF_RESNET_BASIC = dict(layer_type="basic", depths=[1, 1, 1, 1], hidden_sizes=[64, 128, 256, 512], num_labels=10)
_HF_RESNET_BOTTLENECK = dict(layer_type="bottleneck", depths=[1, 1, 1, 1], num_labels=10)

FAMILIES += [
    Family(
        "ResNet",
        "transformers",
        _in_definition_order_shortcut_last,
        _ONE_WAY,
        [
            Member(
                "18 (basic blocks, 1 per stage)",
                _transformers("ResNetConfig", "ResNetForImageClassification", **_HF_RESNET_BASIC),
                _timm("resnet18", num_classes=10, **_RESNET_SMALL),
            ),
            Member(
                "50 (bottlenecks, 1 per stage)",
                _transformers("ResNetConfig", "ResNetForImageClassification", **_HF_RESNET_BOTTLENECK),
                _timm("resnet50", num_classes=10, **_RESNET_SMALL),
                equal="stride on the 3x3 conv (v1.5, transformers' default), as timm.",
            ),
        ],
    ),
    Family(
        "RegNet",
        "transformers",
        _in_definition_order_shortcut_last,
        _ONE_WAY,
        [
            _hf(
                "Y-4.0GF (squeeze-excitation)",
                "RegNet",
                "regnety_040",
                equal="RegNetConfig's defaults are RegNetY-4.0GF.",
            ),
        ],
    ),
    _in_order(
        "EfficientNet",
        "transformers",
        [
            Member(
                "B0 (TensorFlow padding)",
                _transformers(
                    "EfficientNetConfig",
                    "EfficientNetForImageClassification",
                    width_coefficient=1.0,
                    depth_coefficient=1.0,
                    hidden_dim=1280,
                    num_labels=10,
                ),
                _timm("tf_efficientnet_b0", num_classes=10),
                equal="B0's width, depth and 1280 head channels (EfficientNetConfig defaults to B7's); "
                "timm's tf_ variant for TensorFlow's 'same' padding and BatchNorm eps 1e-3.",
            ),
        ],
    ),
    _in_order(
        "MobileNetV1",
        "transformers",
        [
            _hf_mobilenet("V1", "1.0", "mobilenetv1_100"),
        ],
    ),
    _in_order(
        "MobileNetV2",
        "transformers",
        [
            _hf_mobilenet("V2", "1.0", "mobilenetv2_100"),
            _hf_mobilenet("V2", "1.4", "mobilenetv2_140", depth_multiplier=1.4),
        ],
    ),
    _in_order(
        "BiT",
        "transformers",
        [
            _hf(
                "ResNetV2-50x1",
                "Bit",
                "resnetv2_50x1_bit",
                equal="BitConfig's defaults are BiT-M R50x1 (weight-standardised convs, group norm).",
            ),
        ],
    ),
    _in_order(
        "ConvNeXt",
        "transformers",
        [
            _hf("tiny (3, 3, 9, 3 blocks)", "ConvNext", "convnext_tiny", layer_norm_eps=1e-6),
            _hf("small (27 blocks in the third stage)", "ConvNext", "convnext_small", depths=[3, 3, 27, 3], layer_norm_eps=1e-6),
        ],
        note="Final LayerNorm eps 1e-6 as timm (transformers defaults to 1e-12); layer scale on both sides. "
        "ConvNextConfig's defaults are tiny.",
    ),
    _in_order(
        "ConvNeXt-V2",
        "transformers",
        [
            _hf(
                "atto (1x1 convolutions as the MLP)",
                "ConvNextV2",
                "convnextv2_atto",
                depths=[2, 2, 6, 2],
                hidden_sizes=[40, 80, 160, 320],
                layer_norm_eps=1e-6,
                equal="timm's atto computes the MLP with 1x1 convolutions, transformers with Linear layers.",
            ),
            _hf(
                "tiny (Linear layers as the MLP)",
                "ConvNextV2",
                "convnextv2_tiny",
                layer_norm_eps=1e-6,
                equal="ConvNextV2Config's defaults are tiny.",
            ),
        ],
        note="Final LayerNorm eps 1e-6 as timm (transformers defaults to 1e-12); GRN's gamma and beta are "
        "(1, 1, 1, C) in transformers and (C,) in timm.",
    ),
    _in_order(
        "LeViT",
        "transformers",
        [
            _hf_levit("128S (key width 16, 2, 3, 4 blocks)", "levit_128s", [128, 256, 384], [4, 6, 8], [2, 3, 4], 16),
            _hf_levit("192 (key width 32, 4 blocks a stage)", "levit_192", [192, 288, 384], [3, 5, 6], [4, 4, 4], 32),
        ],
        image=224,
        note="224x224 images (the attention biases are sized for 14, 7 and 4 positions a side); the subsampling "
        "attention's heads are the input width over the key width on both sides. Both distilled: eval "
        "logits are the mean of the two heads. transformers subsamples at the end of a stage, timm at the "
        "start of the next.",
    ),
    Family(
        "ViT",
        "transformers",
        _TRANSFORMERS_VIT_TO_TIMM,
        _ONE_WAY,
        [
            _hf_vit_like("B/16 (2 layers)", "ViTConfig", "ViTForImageClassification", "vit_base_patch16_224", 768, 12),
            _hf_vit_like(
                "L/16 (width 1024, 16 heads, 2 layers)", "ViTConfig", "ViTForImageClassification", "vit_large_patch16_224", 1024, 16
            ),
        ],
        note=_HF_VIT_EQUAL + " transformers keeps q, k, v apart, timm fuses them into qkv.",
    ),
    Family(
        "DeiT",
        "transformers",
        _TRANSFORMERS_DEIT_TO_TIMM,
        _ONE_WAY,
        [
            _hf_vit_like(
                "tiny distilled (width 192, 3 heads, 2 layers)",
                "DeiTConfig",
                "DeiTForImageClassificationWithTeacher",
                "deit_tiny_distilled_patch16_224",
                192,
                3,
            ),
            _hf_vit_like(
                "base distilled (width 768, 12 heads, 2 layers)",
                "DeiTConfig",
                "DeiTForImageClassificationWithTeacher",
                "deit_base_distilled_patch16_224",
                768,
                12,
            ),
        ],
        # transformers' DeiT always has a distillation token, so only the distilled timm models compute its function.
        note=_HF_VIT_EQUAL + " Distilled on both sides: eval logits are the mean of the class and distillation heads.",
    ),
    Family(
        "BEiT",
        "transformers",
        _TRANSFORMERS_BEIT_TO_TIMM,
        _ONE_WAY,
        [
            _hf_vit_like(
                "base (2 layers)",
                "BeitConfig",
                "BeitForImageClassification",
                "beit_base_patch16_224",
                768,
                12,
                use_relative_position_bias=True,
            ),
            _hf_vit_like(
                "large (width 1024, 16 heads, 2 layers)",
                "BeitConfig",
                "BeitForImageClassification",
                "beit_large_patch16_224",
                1024,
                16,
                use_relative_position_bias=True,
            ),
        ],
        note=_HF_VIT_EQUAL + " A relative position bias in every layer (use_relative_position_bias=True, timm's "
        "default), layer scale 0.1 and mean pooling on both sides.",
    ),
    Family(
        "Swin",
        "transformers",
        _TRANSFORMERS_SWIN_TO_TIMM,
        _ONE_WAY,
        [
            _hf("T (window 7)", "Swin", "swin_tiny_patch4_window7_224"),
            _hf("S (18 blocks in the third stage)", "Swin", "swin_small_patch4_window7_224", depths=[2, 2, 18, 2]),
        ],
        image=224,
        note="224x224 images: every stage's size a multiple of the window (SwinConfig's defaults are T). "
        "transformers keeps q, k, v apart and computes the relative position index, as timm.",
    ),
    Family(
        "Swin-V2",
        "transformers",
        _TRANSFORMERS_SWIN_V2_TO_TIMM,
        _ONE_WAY,
        [
            _hf("T (window 8)", "Swinv2", "swinv2_tiny_window8_256", image_size=256, window_size=8),
            _hf(
                "T (window 16, wider than the last stage)",
                "Swinv2",
                "swinv2_tiny_window16_256",
                image_size=256, window_size=16,
            ),
        ],
        image=256,
        note="256x256 images; where a stage is no larger than the window both sides shrink the window to it and "
        "do not shift. transformers' key projection has no bias, as timm's.",
    ),
    Family(
        "PVT-v2",
        "transformers",
        _TRANSFORMERS_PVT_V2_TO_TIMM,
        _ONE_WAY,
        [
            _hf(
                "B0 (spatial-reduction attention)",
                "PvtV2",
                "pvt_v2_b0",
                equal="PvtV2Config's defaults are B0.",
                timm_build=_timm_with_layer_norm_eps(1e-5),
                layer_norm_eps=1e-5,
            ),
            _hf(
                "B2-Li (linear attention: pooled keys)",
                "PvtV2",
                "pvt_v2_b2_li",
                timm_build=_timm_with_layer_norm_eps(1e-5),
                hidden_sizes=[64, 128, 320, 512],
                depths=[3, 4, 6, 3],
                linear_attention=True,
                layer_norm_eps=1e-5,
            ),
        ],
        note="LayerNorm eps 1e-5 everywhere on both sides: timm fixes it in the patch embeddings and the "
        "attention's reduction and takes `norm_layer` (1e-6 by default) elsewhere; transformers uses one eps "
        "(1e-6 by default).",
    ),
    Family(
        "Hiera",
        "transformers",
        _TRANSFORMERS_HIERA_TO_TIMM,
        _ONE_WAY,
        [
            _hf(
                "tiny (1, 2, 7, 2 blocks)",
                "Hiera",
                "hiera_tiny_224",
                depths=[1, 2, 7, 2],
                equal="HieraConfig defaults to base's depths.",
            ),
            _hf("small (11 blocks in the third stage)", "Hiera", "hiera_small_224", depths=[1, 2, 11, 2]),
        ],
        image=224,
        note="224x224 images: 56x56 tokens in 8x8 mask units, as both libraries' defaults.",
    ),
    Family(
        "MobileViT",
        "transformers",
        _TRANSFORMERS_MOBILEVIT_TO_TIMM,
        _ONE_WAY,
        [
            _hf("S", "MobileViT", "mobilevit_s", equal="MobileViTConfig's defaults are S."),
            _hf(
                "XXS (expansion 2)",
                "MobileViT",
                "mobilevit_xxs",
                hidden_sizes=[64, 80, 96],
                neck_hidden_sizes=[16, 16, 24, 48, 64, 80, 320],
                expand_ratio=2.0,
            ),
        ],
        image=128,
        note="128x128 images; SiLU and LayerNorm eps 1e-5 on both sides; transformers keeps q, k, v apart.",
    ),
]

# Families both libraries implement that have no proven pair here, with what was measured.
UNPAIRED: list[tuple[str, str]] = [
    (
        "MaxViT (torchvision -> timm)",
        (
            "cannot be made equal: torchvision's strided MBConv shortcut is a 3x3 average pool (stride 2, padding "
            "counted) and always a 1x1 convolution, also from 64 to 64 channels in the first stage; timm's "
            "Downsample2d pools 2x2, or 3x3 without counting the padding, and has no convolution where the "
            "channel counts agree. (timm's maxvit_tiny_tf differs besides in what its config settles: TensorFlow "
            "'same' padding, tanh GELU, a TensorFlow-style relative position table.)"
        ),
    ),
    (
        "PoolFormer (transformers -> timm)",
        (
            "cannot be made equal: transformers (as the original PoolFormer) normalises the last feature map with a "
            "GroupNorm over channels and positions, then pools; timm's MetaFormer pools, then applies LayerNorm2d "
            "over channels, and has no option for the other order. Measured with every tensor mapped by name "
            "(S12): relative error 0.06 on 64x64 images; they agree only on a 1x1 last map (32x32 images), where "
            "the last stage's token mixer (pool(x) - x) is zero."
        ),
    ),
    (
        "DINOv2 (transformers -> timm)",
        (
            "cannot be made equal as classifiers: transformers' Dinov2ForImageClassification reads the class token "
            "concatenated with the mean of the patch tokens (a Linear of twice the width); timm's ViT pools one "
            "way (token, avg, max, ...), never both. The hand-picked pair compares the backbones' features, unproven."
        ),
    ),
]


def _pairs_of(family: Family, member: Member) -> list[ZooPair]:
    forward = ZooPair(
        name=f"{family.name.lower()} {member.size}: {family.source} -> {family.target}",
        family=family.name,
        source=family.source,
        target=family.target,
        fast=member.size in family.fast,
        notes=" ".join(part for part in (member.equal, family.note) if part),
        build_source=member.build_source,
        build_target=member.build_target,
        make_input=_image(family.image),
        prove=family.prove,
    )
    if not family.reversible:
        return [forward]
    backward = replace(
        forward,
        name=f"{family.name.lower()} {member.size}: {family.target} -> {family.source}",
        source=family.target,
        target=family.source,
        fast=False,
        build_source=member.build_target,
        build_target=member.build_source,
    )
    return [forward, backward]


def pairs() -> list[ZooPair]:
    return [pair for family in FAMILIES for member in family.members for pair in _pairs_of(family, member)]
