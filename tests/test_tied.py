"""Tied weights: one tensor under two names in `their` feeds every `my` weight it stands for."""

import numpy as np
import pytest
import torch

import weightbridge


def gpt2_like(tied):
    """A GPT-2-shaped state dict whose head is tied to the token embedding (one tensor, two names) or not."""
    generator = torch.Generator().manual_seed(0)
    wte = torch.randn(97, 32, generator=generator)
    tree = {"transformer.wte.weight": wte, "transformer.wpe.weight": torch.randn(16, 32, generator=generator)}
    for i in range(2):
        tree[f"transformer.h.{i}.ln_1.weight"] = torch.randn(32, generator=generator)
        tree[f"transformer.h.{i}.mlp.c_fc.weight"] = torch.randn(32, 128, generator=generator)
    tree["transformer.ln_f.weight"] = torch.randn(32, generator=generator)
    tree["lm_head.weight"] = wte if tied else torch.randn(97, 32, generator=generator)
    return tree


def nanogpt_like():
    tree = {"wte.weight": torch.zeros(97, 32), "wpe.weight": torch.zeros(16, 32)}
    for i in range(2):
        tree[f"blocks.{i}.ln1.weight"] = torch.zeros(32)
        tree[f"blocks.{i}.mlp.fc.weight"] = torch.zeros(32, 128)
    tree["ln_f.weight"] = torch.zeros(32)
    tree["lm_head.weight"] = torch.zeros(97, 32)
    return tree


@pytest.mark.parametrize("order", ["definition", "alphabetical"])
def test_a_tied_head_feeds_both_untied_weights(order):
    their = gpt2_like(tied=True)
    if order == "alphabetical":
        their = dict(sorted(their.items()))
    mapping = weightbridge.match(their, nanogpt_like())
    pairs = {pair.my: pair.their for pair in mapping.pairs}
    assert pairs["wte.weight"] == ("transformer.wte.weight",)
    assert pairs["lm_head.weight"] == ("lm_head.weight",)
    assert mapping.unmatched_their == ()
    result = weightbridge.adapt(their, nanogpt_like())
    assert torch.equal(result["lm_head.weight"], their["transformer.wte.weight"])
    assert torch.equal(result["wte.weight"], their["transformer.wte.weight"])


def test_a_tied_tensor_into_a_tied_target_is_one_pair():
    their = gpt2_like(tied=True)
    my = gpt2_like(tied=True)
    my = {name.replace("transformer.", "model."): torch.zeros_like(value) for name, value in my.items()}
    my["lm_head.weight"] = my["model.wte.weight"]
    mapping = weightbridge.match(their, my)
    assert [(pair.my, pair.their) for pair in mapping.pairs if "wte" in pair.my] == [("model.wte.weight", ("transformer.wte.weight",))]
    assert mapping.unmatched_their == ()


def test_an_untied_source_keeps_its_own_head():
    their = gpt2_like(tied=False)
    result = weightbridge.adapt(their, nanogpt_like())
    assert np.array_equal(result["lm_head.weight"].numpy(), their["lm_head.weight"].numpy())
    assert not np.array_equal(result["lm_head.weight"].numpy(), their["transformer.wte.weight"].numpy())
