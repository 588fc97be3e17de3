"""Real pairs in alphabetical order, as a safetensors file stores them: without enumeration order,
names and block indices must decide.

transformers Llama -> keras-hub Llama: keras-hub's `self_attention_layernorm` is transformers'
`input_layernorm` (the norm before attention, Meta's `attention_norm`) and `feedforward_layernorm`
is `post_attention_layernorm`; weightbridge knows these roles, so no hint is needed.

transformers BERT -> keras-hub BERT: both blocks have a dense output and a layer norm after
attention and after the MLP, named `attention_output` / `feedforward_output_dense` and
`self_attention_layer_norm` / `feedforward_layer_norm` in keras-hub, `attention.output.dense` /
`output.dense` and `attention.output.LayerNorm` / `output.LayerNorm` in transformers. The dense
layers' names share their words (attention, output), the norms' do not tell which is which, so
weightbridge refuses on the norms only, and the hint that pairs the norms after attention settles it."""


import weightbridge
from benchmarks.zoo.catalog import PAIRS
from benchmarks.zoo.verify import verify

BERT = PAIRS["bert: transformers -> keras-hub"]
HINTS = [("attention_output", "attention.output.dense"), ("self_attention_layer_norm", "attention.output.LayerNorm")]


def alphabetical(their, my, hints=()):
    return weightbridge.adapt(dict(sorted(their.items())), my, hints=hints)


def test_llama_layer_norms_are_told_apart_by_their_roles():
    result = verify(PAIRS["llama: transformers -> keras-hub"], alphabetical)
    assert result.outcome == "correct", result.message


def test_bert_norms_need_a_hint_and_the_dense_layers_do_not():
    result = verify(BERT, alphabetical)
    assert result.outcome == "error"
    assert result.message.splitlines()[0] == (
        "AmbiguityError: the mapping is not unique: 2 groups of weights can be paired in more than one way "
        "at costs within 0.25 of each other, too close to tell without enumeration order.")
    both = verify(BERT, alphabetical, hints=HINTS)
    assert both.message == (
        "HintError: hint ('attention_output', 'attention.output.dense') is never needed: the mapping is the same "
        "and unique without it; remove it")


def test_the_hint_on_the_norms_settles_the_dense_layers_beside_them():
    result = verify(BERT, alphabetical, hints=[HINTS[1]])
    assert result.outcome == "correct", result.message


def test_the_hint_on_the_dense_layers_alone_leaves_the_norms_tied():
    result = verify(BERT, alphabetical, hints=[HINTS[0]])
    assert result.outcome == "error"
    assert result.message.startswith("AmbiguityError: the mapping is not unique")


def test_in_enumeration_order_the_same_pair_needs_no_hint():
    result = verify(PAIRS["llama: transformers -> keras-hub"], weightbridge.adapt)
    assert result.outcome == "correct", result.message
