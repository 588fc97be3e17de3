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
- `_in_definition_order`: both modules define the same tensors in the same order (the rule
  timm's `remap_state_dict` relies on); every pair of tensors must have equal element counts.

Families whose two implementations cannot be made to compute the same function are listed in
`UNPAIRED` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

from benchmarks.zoo.pairs import Side, TorchSide, ZooPair, _hf_logits, _image, _logits, _timm, _torchvision


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
        ],
        image=256,
        note="256x256 images, as Swin-T. torchvision stores the continuous position bias' coordinate table, "
        "timm computes it: it keeps its computed values here. torchvision's qkv bias is timm's q and v biases.",
    ),
]

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
            Member(
                "Y-4.0GF (squeeze-excitation)",
                _transformers("RegNetConfig", "RegNetForImageClassification", num_labels=10),
                _timm("regnety_040", num_classes=10),
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
            Member(
                "ResNetV2-50x1",
                _transformers("BitConfig", "BitForImageClassification", num_labels=10),
                _timm("resnetv2_50x1_bit", num_classes=10),
                equal="BitConfig's defaults are BiT-M R50x1 (weight-standardised convs, group norm).",
            ),
        ],
    ),
]

# Families both libraries implement that have no proven pair here, with what was measured. The
# transformer families of transformers -> timm (and torchvision's ViT, Swin, ConvNeXt) run in the
# zoo's older, hand-picked pairs, unproven.
_NO_PROOF = "no proof written: timm ships no converter from these keys and the definition orders differ"
UNPAIRED: list[tuple[str, str]] = [
    ("PoolFormer (transformers -> timm)", f"{_NO_PROOF} (transformers defines each stage's patch embedding first)."),
    ("MobileViT (transformers -> timm)", f"{_NO_PROOF}; transformers keeps q, k, v apart (347 tensors against 311)."),
    ("LeViT (transformers -> timm)", f"{_NO_PROOF}; transformers keeps the distillation head's tensors and per-block attention bias indices (393 tensors against 325)."),
    ("PVT-v2 (transformers -> timm)", f"{_NO_PROOF}; transformers' key and value are timm's fused kv (194 tensors against 178)."),
    ("Hiera (transformers -> timm)", f"{_NO_PROOF}; timm's blocks are numbered across stages (301 tensors against 157)."),
    ("BEiT (transformers -> timm)", f"{_NO_PROOF}; transformers' q, k, v against timm's qkv with q and v biases (41 tensors against 39)."),
    ("ViT, DeiT, Swin, Swin-V2, DINOv2, ConvNeXt, ConvNeXt-V2 (transformers -> timm)", f"{_NO_PROOF}; run unproven in the hand-picked pairs."),
    ("ViT, Swin, Swin-V2, ConvNeXt (torchvision -> timm)", f"{_NO_PROOF}; ViT, Swin and ConvNeXt run unproven in the hand-picked pairs."),
    ("MaxViT (torchvision -> timm)", "not attempted: whether torchvision's MaxViT and timm's maxvit_tiny_tf agree is unmeasured; no proof written."),
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
