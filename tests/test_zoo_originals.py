"""Zoo families of re-created original code, JAX targets and keras-hub text models.

Every pair's proof (a mapping written by hand, or keras-hub's own converter) must make the target
compute what the source computes, so that "wrong" for a mapper means wrong. A subset chosen for
coverage then checks weightbridge itself, with zero hints, in the source's definition order and
with the source keys sorted by name (as a safetensors or .npz file hands them over).
"""

import pytest
import torch

import weightbridge
from benchmarks.zoo.catalog import PAIRS
from benchmarks.zoo.families import originals, text
from benchmarks.zoo.verify import BuiltPair, Result, verify

# The bound for a proof: tighter than the zoo's check, so that a proof leaves the check room.
PROOF_TOLERANCE = 1e-5

FAMILY_PAIRS = text.pairs() + originals.pairs()


def test_family_pairs_are_registered_under_their_names():
    assert all(PAIRS[pair.name].prove is not None for pair in FAMILY_PAIRS)
    assert len({pair.name for pair in FAMILY_PAIRS}) == len(FAMILY_PAIRS)


@pytest.mark.parametrize("pair", FAMILY_PAIRS, ids=[pair.name for pair in FAMILY_PAIRS])
def test_proof_makes_the_target_compute_what_the_source_computes(pair):
    torch.set_num_threads(1)
    result = verify(pair, lambda their, my, hints=(): pair.prove(their, my))
    assert result.outcome == "correct", f"{result.outcome}: {result.message}"
    assert result.relative_error < PROOF_TOLERANCE


def test_a_proof_fails_loudly_on_a_model_it_does_not_describe():
    # ConvNeXt V1 weights into a V2 target: the first GRN of the target has no source.
    pair = PAIRS["convnext: facebook original -> timm"]
    source = pair.build_source()
    other = PAIRS["convnextv2: facebook original -> timm"].build_target()
    with pytest.raises(KeyError, match="stages.0.0.grn.gamma"):
        pair.prove(source.weights(), other.weights())


def test_the_identity_is_wrong_on_a_tied_pair():
    # The check can tell: a target left at its own random values computes something else.
    pair = PAIRS["nanogpt: transformers tied -> nanogpt untied"]
    assert verify(pair, lambda their, my, hints=(): my).outcome == "wrong"


def test_a_mapping_can_be_checked_against_keras_hubs_converter():
    # weightbridge gives the target keras-hub's own weights, bit for bit; the target's own values are not.
    pair = PAIRS["qwen3: transformers -> keras-hub"]
    torch.set_num_threads(1)
    assert verify(pair, weightbridge.adapt, against="proof") == Result("correct", 0.0, "")
    assert verify(pair, lambda their, my, hints=(): my, against="proof").outcome == "wrong"


def _sorted(tree):
    """The tree with every mapping's keys in name order, leaves untouched."""
    if hasattr(tree, "items") and not hasattr(tree, "shape"):
        return {key: _sorted(value) for key, value in sorted(tree.items())}
    return tree


def _adapt_sorted(their, my, hints=()):
    return weightbridge.adapt(_sorted(their), my, hints=hints)


ORDERS = {"definition": weightbridge.adapt, "sorted": _adapt_sorted}

# Chosen for coverage: keras-hub, Flax linen and NNX, Haiku, Equinox, original release code, tied
# heads, encoder-decoders. Pairs weightbridge does not map today are strict xfails with the failure.
AMBIGUOUS = "AmbiguityError: the mapping is not unique: {} of weights can be paired in more than one way"
FUSED_AMBIGUOUS = "AmbiguityError: the mapping is not unique: {} can be put together in more than one way at the same cost"
UNMATCHED = "UnmatchedError: {} weights of `their` have no partner in `my`"

COVERAGE = [
    ("gpt2-lm: transformers -> keras-hub", "definition", None),
    ("gpt2-lm: transformers -> keras-hub", "sorted", None),
    (
        "distilbert: transformers -> keras-hub",
        "definition",
        "wrong: in both layers ffn.lin2.bias and output_layer_norm.bias change places",
    ),
    ("distilbert: transformers -> keras-hub", "sorted", AMBIGUOUS.format("2 groups")),
    ("convnext: facebook original -> timm", "definition", None),
    ("convnext: facebook original -> timm", "sorted", None),
    ("convnextv2: facebook original -> timm", "definition", None),
    ("convnextv2: facebook original -> timm", "sorted", None),
    ("vit: torchvision -> flax (fused qkv)", "definition", None),
    ("vit: torchvision -> flax (fused qkv)", "sorted", None),
    ("vit: google flax -> timm", "definition", None),
    ("vit: google flax -> timm", "sorted", None),
    ("gpt2: transformers tied -> haiku untied", "definition", None),
    ("gpt2: transformers tied -> haiku untied", "sorted", None),
    ("nanogpt: transformers tied -> nanogpt untied", "definition", None),
    ("nanogpt: transformers tied -> nanogpt untied", "sorted", None),
    ("mamba: transformers -> flax", "definition", None),
    ("mamba: transformers -> flax", "sorted", None),
    ("whisper: transformers -> openai", "definition", AMBIGUOUS.format("26 groups")),
    ("whisper: transformers -> openai", "sorted", AMBIGUOUS.format("26 groups")),
    ("whisper: openai -> transformers", "definition", AMBIGUOUS.format("26 groups")),
    ("whisper: openai -> transformers", "sorted", AMBIGUOUS.format("26 groups")),
    ("llama: meta original -> transformers", "definition", None),
    ("llama: meta original -> transformers", "sorted", AMBIGUOUS.format("2 groups")),
    ("llama: transformers -> equinox", "definition", None),
    ("llama: transformers -> equinox", "sorted", None),
    ("bert: transformers -> flax nnx", "definition", None),
    ("bert: transformers -> flax nnx", "sorted", None),
    ("qwen3: transformers -> keras-hub", "definition", None),
    ("qwen3: transformers -> keras-hub", "sorted", None),
    ("resnet18: torchvision -> flax", "definition", UNMATCHED.format("20 of 122") + " (num_batches_tracked)"),
    ("resnet18: torchvision -> flax", "sorted", UNMATCHED.format("20 of 122") + " (num_batches_tracked)"),
    ("t5: transformers -> t5x flax", "definition", AMBIGUOUS.format("4 groups")),
    ("t5: transformers -> t5x flax", "sorted", AMBIGUOUS.format("14 groups")),
    ("gpt2: transformers tied -> equinox tied", "definition", FUSED_AMBIGUOUS.format("1 fused weight")),
    ("gpt2: transformers tied -> equinox tied", "sorted", FUSED_AMBIGUOUS.format("4 fused weights")),
]


def _case(name, order, failure):
    marks = [pytest.mark.xfail(strict=True, reason=failure)] if failure else []
    return pytest.param(name, order, marks=marks, id=f"{name} [{order}]")


def test_coverage_spans_the_frameworks_and_kinds_asked_for():
    targets = {PAIRS[name].target for name, _, _ in COVERAGE} | {PAIRS[name].source for name, _, _ in COVERAGE}
    assert {"keras-hub", "flax", "flax-nnx", "haiku", "equinox", "original", "original-flax"} <= targets
    assert len({name for name, _, _ in COVERAGE}) >= 10
    assert {order for _, order, _ in COVERAGE} == set(ORDERS)


@pytest.mark.parametrize(("name", "order"), [_case(*case) for case in COVERAGE])
def test_adapt_maps_family_pair_without_hints(name, order):
    torch.set_num_threads(1)
    result = verify(PAIRS[name], ORDERS[order])
    assert result.outcome == "correct", f"{result.outcome} (relative error {result.relative_error}) {result.message}"


OPENAI_GPT2 = ["gpt2: transformers tied -> openai original", "gpt2: openai original -> transformers tied"]


@pytest.mark.parametrize("order", ["definition", "alphabetical"])
@pytest.mark.parametrize("name", OPENAI_GPT2)
def test_adapt_maps_openai_gpt2_as_its_proof_does(name, order):
    # Bit for bit the proof's weights: conv1d's leading axis, and the tied wte/lm_head read as OpenAI's wte.
    torch.set_num_threads(1)
    pair = PAIRS[name]
    built = BuiltPair(pair)
    assert verify(pair, weightbridge.adapt, order=order, built=built).outcome == "correct"
    assert verify(pair, weightbridge.adapt, order=order, against="proof", built=built) == Result("correct", 0.0, "")
