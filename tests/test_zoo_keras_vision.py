"""The vision zoo family: timm and transformers -> keras-hub, proven by keras-hub's own converters."""

import pytest
import torch

from benchmarks.zoo.catalog import PAIRS
from benchmarks.zoo.verify import verify

VISION_PAIRS = [
    "resnet18: timm -> keras-hub",
    "resnet50: timm -> keras-hub",
    "resnetv2_50: timm -> keras-hub",
    "efficientnet_b0: timm -> keras-hub",
    "mobilenetv3_small_050: timm -> keras-hub",
    "vgg11: timm -> keras-hub",
    "cspdarknet53: timm -> keras-hub",
    "vit: transformers -> keras-hub",
    "deit: transformers -> keras-hub",
    "dinov2: transformers -> keras-hub",
    "swin: transformers -> keras-hub",
]


def test_every_vision_pair_is_registered_with_a_proof():
    registered = [pair for pair in PAIRS.values() if pair.name in VISION_PAIRS]
    assert [pair.name for pair in registered] == VISION_PAIRS
    assert all(pair.prove is not None and pair.target == "keras-hub" for pair in registered)


@pytest.mark.parametrize("name", ["resnet18: timm -> keras-hub", "deit: transformers -> keras-hub"])
def test_keras_hub_converter_proves_the_pair(name):
    torch.set_num_threads(1)
    pair = PAIRS[name]
    result = verify(pair, lambda their, my, hints=(): pair.prove(their, my))
    assert result.outcome == "correct", f"{name}: {result.outcome} (relative error {result.relative_error}) {result.message}"


def test_timm_side_holds_no_head_that_the_backbone_lacks():
    names = set(PAIRS["mobilenetv3_small_050: timm -> keras-hub"].build_source().weights())
    assert not {name for name in names if name.startswith(("conv_head", "classifier"))}
    assert "blocks.5.0.conv.weight" in names
