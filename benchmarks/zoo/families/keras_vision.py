"""timm and transformers -> keras-hub: every vision model keras-hub converts from either library.

keras-hub ships a hand-written converter per family, for timm checkpoints
(`keras_hub/src/utils/timm/convert_*.py`) and for transformers checkpoints
(`keras_hub/src/utils/transformers/convert_*.py`): `convert_backbone_config` turns the source's
config into the keras-hub backbone's arguments and `convert_weights` ports each tensor. Both sides
of a pair here are built from one source config, the keras-hub side through that family's own
`convert_backbone_config`, so the configs agree by the library's own rule; the proof is keras-hub's
own `convert_weights`, reading the source weights from memory instead of a safetensors file.

The keras-hub backbones end before the classifier, so the timm side is the model without its head
(`num_classes=0`) compared on `forward_features`, and the transformers side is the base model
compared on its last hidden state. Keras is channels-last: the image goes in as NHWC, and the timm
feature map is compared as NHWC.

Converters that do not prove their pair, measured on random weights, are left out:

- DenseNet-121 (`convert_densenet`): keras-hub's stem convolution and max pooling pad "same",
  which on an even image pads one more row and column after than before, where timm pads
  equally; the features differ by 10% of their largest value (64x64 image).
- HGNetV2-B0 (`convert_hgnetv2`): timm keeps each learnable affine block's scale and bias as
  shape (1,), keras-hub's as shape (); `convert_weights` fails on the first one.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from benchmarks.zoo.pairs import HF_VIT, KerasSide, TorchSide, ZooPair, _image, _torch_in

# The smallest image every network below reduces to a feature map of at least 1x1 (stride 32),
# with a border that exercises the padding of each strided convolution.
_IMAGE_SIZE = 64


# ---------------------------------------------------------------------------- forwards


def _channels_last(images):
    return np.transpose(np.asarray(images), (0, 2, 3, 1))


def _keras_features(model, images):
    return model(_channels_last(images))


def _timm_features_channels_last(module, images):
    return module.forward_features(_torch_in(images)).permute(0, 2, 3, 1)


def _hf_hidden(module, images):
    return module(pixel_values=_torch_in(images)).last_hidden_state


# ---------------------------------------------------------------------------- keras-hub's converter


@dataclass(frozen=True)
class _Family:
    """One row of the table: a source model, the keras-hub converter that reads it, how both run.

    `source` is "timm" (`architecture` is the `timm.create_model` name, which is also what the
    converter reads from a timm config) or "transformers" (`architecture` is the config class,
    `model` the model class and `base`, where the converter reads a task model's checkpoint, the
    attribute that holds the backbone; the task model is built without a head, `num_labels=0`).
    """

    name: str
    family: str
    source: str
    architecture: str
    converter: str
    notes: str
    model: str = ""
    base: str = ""
    # timm head modules that `num_classes=0` keeps but `forward_features` never runs and keras-hub's
    # backbone does not hold; they are removed so that both trees hold the same network.
    head: tuple = ()
    settings: dict = field(default_factory=dict)
    fast: bool = False


def _converter(family: _Family):
    return importlib.import_module(f"keras_hub.src.utils.{family.source}.convert_{family.converter}")


def _source_config(family: _Family) -> dict:
    """The config as a checkpoint's config.json holds it."""
    if family.source == "timm":
        return {"architecture": family.architecture}
    import transformers

    return getattr(transformers, family.architecture)(**family.settings).to_dict()


def _source_model(family: _Family):
    if family.source == "timm":
        import timm

        from torch import nn

        model = timm.create_model(family.architecture, pretrained=False, num_classes=0)
        for name in family.head:
            setattr(model, name, nn.Identity())
        return model
    import transformers

    config = getattr(transformers, family.architecture)(**family.settings)
    return getattr(transformers, family.model)(config)


def _source_forward(family: _Family) -> Callable:
    if family.source == "timm":
        return _timm_features_channels_last
    if family.base:
        return lambda module, images: _hf_hidden(getattr(module, family.base), images)
    return _hf_hidden


def _source_side(family: _Family) -> Callable[[], TorchSide]:
    return lambda: TorchSide(_source_model(family), _source_forward(family))


def _keras_model(family: _Family):
    converter = _converter(family)
    return converter.backbone_cls(**converter.convert_backbone_config(_source_config(family)))


def _keras_side(family: _Family) -> Callable[[], KerasSide]:
    return lambda: KerasSide(_keras_model(family), _keras_features)


def _write_checkpoint(family: _Family, their, directory: str) -> None:
    """`their` as the source library writes it: timm's state dict as it is, transformers' through
    `save_pretrained` (which writes the names checkpoints on the hub have, not the module names)."""
    if family.source == "timm":
        from safetensors.torch import save_file

        save_file({name: tensor.contiguous() for name, tensor in their.items()}, os.path.join(directory, "model.safetensors"))
        return
    model = _source_model(family)
    model.load_state_dict(their, strict=True)
    model.save_pretrained(directory)


def _keras_hub_converter(family: _Family) -> Callable:
    """The proof: keras-hub's own `convert_weights` fills a fresh backbone from the source's checkpoint
    file, read by keras-hub's own loader as its preset loaders read one (timm's without a prefix)."""

    def prove(their, my):
        from keras_hub.src.utils.transformers.safetensor_utils import SafetensorLoader

        model = _keras_model(family)
        with tempfile.TemporaryDirectory() as directory:
            _write_checkpoint(family, their, directory)
            prefix = "" if family.source == "timm" else None
            # Some converters print every tensor they port.
            with SafetensorLoader(directory, prefix=prefix) as loader, contextlib.redirect_stdout(io.StringIO()):
                _converter(family).convert_weights(model, loader, _source_config(family))
        return KerasSide(model, _keras_features).weights()

    return prove


# ---------------------------------------------------------------------------- the table

_VIT = dict(
    HF_VIT,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    # The random weights keep their init's scale; at std 0.02 bidirectional attention is nearly
    # uniform and a swapped query and key move the output by less than the tolerance.
    initializer_range=0.1,
)

FAMILIES = (
    _Family(
        name="resnet18: timm -> keras-hub",
        family="ResNet-18",
        source="timm",
        architecture="resnet18",
        converter="resnet",
        notes="Basic blocks; the first block of stages 2-4 has a projection shortcut.",
    ),
    _Family(
        name="resnet50: timm -> keras-hub",
        family="ResNet-50",
        source="timm",
        architecture="resnet50",
        converter="resnet",
        notes="Bottleneck blocks; every stage's first block has a projection shortcut.",
    ),
    _Family(
        name="resnetv2_50: timm -> keras-hub",
        family="ResNet-V2-50",
        source="timm",
        architecture="resnetv2_50",
        converter="resnet",
        notes="Pre-activation bottlenecks: a norm before each block, one after the last stage.",
    ),
    _Family(
        name="efficientnet_b0: timm -> keras-hub",
        family="EfficientNet-B0",
        source="timm",
        architecture="efficientnet_b0",
        converter="efficientnet",
        notes="Squeeze-and-excite in every block; timm's depthwise convolutions are (C, 1, k, k), keras-hub's (k, k, C, 1).",
    ),
    _Family(
        name="mobilenetv3_small_050: timm -> keras-hub",
        family="MobileNetV3-Small 0.5",
        source="timm",
        architecture="mobilenetv3_small_050",
        converter="mobilenet",
        notes="Hard-swish and squeeze-and-excite blocks; timm's head convolution `conv_head` is left out: keras-hub's backbone ends at the last stage, as timm's `forward_features`.",
        head=("conv_head",),
    ),
    _Family(
        name="vgg11: timm -> keras-hub",
        family="VGG-11",
        source="timm",
        architecture="vgg11",
        converter="vgg",
        notes="Eight 3x3 convolutions with biases; timm's `pre_logits` (the fully connected layers, as convolutions) is left out: keras-hub's backbone ends at the last pooling, as timm's `forward_features`.",
        head=("pre_logits",),
    ),
    _Family(
        name="cspdarknet53: timm -> keras-hub",
        family="CSPDarkNet-53",
        source="timm",
        architecture="cspdarknet53",
        converter="cspnet",
        notes="Cross-stage partial stages: each splits its channels, one half through dark blocks.",
    ),
    _Family(
        name="vit: transformers -> keras-hub",
        family="ViT",
        source="transformers",
        architecture="ViTConfig",
        model="ViTForImageClassification",
        base="vit",
        converter="vit",
        notes="layer_norm_eps=1e-6, keras-hub's fixed value; keras splits each q, k, v and output projection by head.",
        settings=dict(_VIT, layer_norm_eps=1e-6, num_labels=0),
    ),
    _Family(
        name="deit: transformers -> keras-hub",
        family="DeiT",
        source="transformers",
        architecture="DeiTConfig",
        model="DeiTForImageClassification",
        base="deit",
        converter="deit",
        notes="Class and distillation tokens; keras splits each q, k, v and output projection by head.",
        settings=dict(_VIT, num_labels=0),
    ),
    _Family(
        name="dinov2: transformers -> keras-hub",
        family="DINOv2",
        source="transformers",
        architecture="Dinov2Config",
        model="Dinov2Model",
        converter="dinov2",
        notes="Layer scale after attention and MLP; 2x MLP.",
        settings={**{k: v for k, v in _VIT.items() if k != "intermediate_size"}, "mlp_ratio": 2},
    ),
    _Family(
        name="swin: transformers -> keras-hub",
        family="Swin Transformer",
        source="transformers",
        architecture="SwinConfig",
        model="SwinModel",
        converter="swin_transformer",
        notes="64x64 images, patch 4, window 4, two stages of two blocks (one shifted); the relative position bias tables keep their shape.",
        settings=dict(
            image_size=_IMAGE_SIZE,
            patch_size=4,
            embed_dim=32,
            depths=[2, 2],
            num_heads=[2, 4],
            window_size=4,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            drop_path_rate=0.0,
        ),
        fast=True,
    ),
)


def _image_size(family: _Family) -> int:
    return family.settings.get("image_size", _IMAGE_SIZE)


def pairs() -> list[ZooPair]:
    return [
        ZooPair(
            name=family.name,
            family=family.family,
            source=family.source,
            target="keras-hub",
            fast=family.fast,
            notes=family.notes,
            build_source=_source_side(family),
            build_target=_keras_side(family),
            make_input=_image(_image_size(family)),
            prove=_keras_hub_converter(family),
        )
        for family in FAMILIES
    ]
