"""A real pair that needs a hint: transformers Llama weights in alphabetical order (as a safetensors file
stores them) -> keras-hub Llama. keras-hub's `self_attention_layernorm` is the norm before attention,
transformers' `input_layernorm`; by name it looks more like `post_attention_layernorm`, and without
enumeration order nothing else tells them apart, so weightbridge refuses instead of guessing. Both layers
repeat the same weights, so the refusal is about their template: each row stands for the norm of every layer."""

import weightbridge
from benchmarks.zoo.pairs import PAIRS
from benchmarks.zoo.verify import verify

PAIR = PAIRS["llama: transformers -> keras-hub"]

MISSING = (
    "    missing evidence: the parameter names (weight, bias, ...) are alike; the module paths end equally alike; "
    "the block indices agree equally; the layouts fit equally well; no sibling weight pins their modules to each other; "
    "their layouts agree equally with the weights around them; the enumeration order of their is alphabetical, so it is no evidence\n"
)


def alphabetical(their, my, hints=()):
    return weightbridge.adapt(dict(sorted(their.items())), my, hints=hints)


def test_llama_layer_norms_need_a_hint_and_the_hint_fixes_them():
    result = verify(PAIR, alphabetical)
    assert result.outcome == "error"
    assert result.message == (
        "AmbiguityError: the mapping is not unique: 1 group of weights can be paired in more than one way "
        "at costs within 0.25 of each other, too close to tell without enumeration order.\n"
        "  group 1: 2 my and 2 their weights tie\n"
        "    my                                                                          their\n"
        "    transformer_layer_0/self_attention_layernorm/scale (64,) and 1 more alike   layers.0.post_attention_layernorm.weight (64,) and 1 more alike\n"
        "    transformer_layer_0/feedforward_layernorm/scale (64,) and 1 more alike      layers.0.input_layernorm.weight (64,) and 1 more alike\n"
        + MISSING
        + "Say which weights correspond with hints (my_substring, their_substring); if the rows shown above are the right pairs:\n"
        '  hints=[("self_attention_layernorm", "post")]'
    )
    fixed = verify(PAIR, alphabetical, hints=[("self_attention_layernorm", "input_layernorm")])
    assert fixed.outcome == "correct", fixed.message
    assert fixed.relative_error < 1e-4


def test_in_enumeration_order_the_same_pair_needs_no_hint():
    result = verify(PAIR, weightbridge.adapt)
    assert result.outcome == "correct", result.message
