"""transformers <-> keras-hub: every text model both libraries implement and keras-hub converts.

keras-hub ships a hand-written converter per family (`keras_hub/src/utils/transformers/convert_*.py`,
the one `from_preset("hf://...")` picks by the config's model_type): `convert_backbone_config` turns
a transformers config into the keras-hub backbone's arguments and `convert_weights` ports each
tensor. Both sides of a pair here are built from one transformers config through keras-hub's own
`convert_backbone_config`, so the configs agree by the library's own rule; the proof is keras-hub's
own `convert_weights`, reading the transformers weights from memory instead of a safetensors file
(under the names `save_pretrained` writes, where transformers fuses weights at load). With
`verify(..., against="proof")` a mapping is checked against what the target computes on the
converter's weights.

Decoders are compared on their logits (the keras side reads its output embedding with
`reverse=True`), so the output head counts; BERT and ALBERT compare the pooled output too,
encoders otherwise their last hidden state and encoder-decoders their decoder's.

Left out: models both libraries implement for which keras-hub 0.32 ships no converter from
transformers: DeBERTa-v3, ELECTRA, OPT, Falcon, Phi-3, Whisper, T5 (only T5Gemma), GPT-NeoX, BLOOM,
XLNet, FNet and Moonshine (RoFormer V2 is not transformers' RoFormer). Converters that cannot prove
a pair:

- GPT-OSS (`convert_gpt_oss`): reads the experts only as MXFP4 blocks and scales
  (`gate_up_proj_blocks`); a float transformers model holds none, and quantising it would change it.
- Gemma 3n (`convert_gemma3n`): reads only the multimodal config (text, vision and audio) and builds
  the MobileNetV5 vision and Conformer audio towers with the text model; no text-only model fits it.
- Gemma 4 assistant (`convert_gemma4_assistant`): a drafter that needs a Gemma 4 target; its backbone
  is converted by `convert_gemma4`, proven here as gemma4.

The multimodal converters (Gemma 3 with vision, PaliGemma, BLIP-2, MetaCLIP 2, SAM 3) and the vision
ones (keras_vision.py) are not text models.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from benchmarks.zoo.pairs import (
    _TEXT_LENGTH,
    KerasSide,
    TorchSide,
    ZooPair,
    _encoder_decoder_tokens,
    _hf_logits,
    _hf_t5,
    _keras_t5,
    _segments,
    _tokens,
    _torch_in,
)

_VOCABULARY = 128
# Not the hidden size: a square position table is a coincidence no real checkpoint has.
_CONTEXT = 48


# ---------------------------------------------------------------------------- inputs and forwards


def _keras_ids(tokens) -> dict:
    tokens = np.asarray(tokens, dtype=np.int32)
    return {"token_ids": tokens, "padding_mask": np.ones_like(tokens)}


def _keras_sequence(model, tokens):
    return model(_keras_ids(tokens))


def _keras_tokens_only(model, tokens):
    # ESM masks its padding by token id, so it takes no padding mask.
    return model({"token_ids": np.asarray(tokens, dtype=np.int32)})


def _keras_logits(model, tokens):
    return model.token_embedding(model(_keras_ids(tokens)), reverse=True)


def _keras_logits_at_positions(model, tokens):
    # Gemma 4 takes the positions as an input of their own.
    inputs = _keras_ids(tokens)
    inputs["position_ids"] = np.broadcast_to(np.arange(inputs["token_ids"].shape[1], dtype=np.int32), inputs["token_ids"].shape)
    return model.token_embedding(model(inputs), reverse=True)


def _keras_sequence_and_pooled(model, tokens):
    from keras import ops

    inputs = _keras_ids(tokens)
    inputs["segment_ids"] = _segments(inputs["token_ids"])
    outputs = model(inputs)
    return ops.concatenate([ops.reshape(outputs["sequence_output"], (-1,)), ops.reshape(outputs["pooled_output"], (-1,))])


def _hf_sequence(module, tokens):
    return module(_torch_in(tokens)).last_hidden_state


def _hf_sequence_and_pooled(module, tokens):
    import torch

    tokens = np.asarray(tokens)
    out = module(input_ids=_torch_in(tokens), token_type_ids=_torch_in(_segments(tokens)))
    return torch.cat([out.last_hidden_state.flatten(), out.pooler_output.flatten()])


# ---------------------------------------------------------------------------- keras-hub's converter


class _TreeLoader:
    """keras-hub's `SafetensorLoader` over a weight tree in memory.

    keras-hub asks for names of the task model (`roberta.embeddings...`, `model.layers...`);
    a base model's state dict holds them without that prefix, so a key that ends the asked-for
    name (on a dot) answers it, as `SafetensorLoader.get_prefixed_key` does the other way round.
    """

    # As the loader of a checkpoint in one file, without a shard index.
    safetensor_config = None

    def __init__(self, tree):
        self.tree = {name: np.asarray(value.detach().numpy()) for name, value in tree.items()}

    def get_tensor(self, hf_weight_key: str) -> np.ndarray:
        if hf_weight_key in self.tree:
            return self.tree[hf_weight_key]
        for name, value in self.tree.items():
            if hf_weight_key.endswith("." + name) or name.endswith("." + hf_weight_key):
                return value
        raise KeyError(hf_weight_key)

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None) -> None:
        tensor = self.get_tensor(hf_weight_key)
        if hook_fn:
            tensor = hook_fn(tensor, list(keras_variable.shape))
        keras_variable.assign(tensor)


@dataclass(frozen=True)
class _Family:
    """One row of the table: a transformers model, the keras-hub converter that reads it, how both run."""

    name: str
    hf_config: str
    hf_model: str
    hf_settings: dict
    converter: str
    notes: str
    hf_forward: Callable = _hf_logits
    keras_forward: Callable = _keras_logits
    make_input: Callable = _tokens(_VOCABULARY, _TEXT_LENGTH)
    # keras-hub arguments its config converter does not set; each says why in `notes`.
    keras_settings: dict = field(default_factory=dict)
    # Keyword arguments of the transformers model's constructor (BERT's pooler).
    hf_model_settings: dict = field(default_factory=dict)
    # What the released checkpoints hold and keras-hub's converter relies on, applied to the random
    # values (RoBERTa's zero token type table); each says why in `notes`.
    released: Callable | None = None
    # transformers fuses weights at load (stacked experts) that keras-hub reads one by one, by the names
    # a checkpoint file holds. Not for every family: for ESM the revert writes legacy gamma/beta names.
    reads_checkpoint_names: bool = False


def _hf_config(family: _Family):
    import transformers

    return getattr(transformers, family.hf_config)(**family.hf_settings)


def _hf_config_file(family: _Family) -> dict:
    """The config as a checkpoint's config.json holds it: with the aliases (BART's num_hidden_layers)."""
    config = _hf_config(family)
    return {**config.to_dict(), **{alias: getattr(config, alias) for alias in config.attribute_map}}


def _converter(family: _Family):
    return importlib.import_module(f"keras_hub.src.utils.transformers.convert_{family.converter}")


class _ReleasedSide(TorchSide):
    """A transformers model whose random values keep what the released checkpoints hold (`_Family.released`)."""

    def __init__(self, module, forward: Callable, released: Callable):
        super().__init__(module, forward)
        self.released = released

    def randomize(self, seed: int) -> None:
        import torch

        super().randomize(seed)
        with torch.no_grad():
            self.released(self.module.state_dict())


def _transformers_model(family: _Family):
    import transformers

    return getattr(transformers, family.hf_model)(_hf_config(family), **family.hf_model_settings)


def _transformers_side(family: _Family) -> Callable[[], TorchSide]:
    def build() -> TorchSide:
        if family.released is None:
            return TorchSide(_transformers_model(family), family.hf_forward)
        return _ReleasedSide(_transformers_model(family), family.hf_forward, family.released)

    return build


def _checkpoint(family: _Family, their) -> dict:
    """`their` as `save_pretrained` writes it: transformers fuses some weights at load (Mixtral's experts
    stack into one tensor) and its own `revert_weight_conversion` undoes that, so that keras-hub's
    converter reads the names a checkpoint file holds, as `from_preset("hf://...")` does."""
    import torch
    from transformers.core_model_loading import revert_weight_conversion

    if not family.reads_checkpoint_names:
        return their
    from transformers.conversion_mapping import get_model_conversion_mapping

    with torch.device("meta"):
        model = _transformers_model(family)  # only its conversion rules are read
    # As if loaded from a released checkpoint: then the revert also puts back a prefix the release
    # holds (Qwen3.5's model.language_model), which it leaves alone on a model built from a config.
    model._weight_conversions = get_model_conversion_mapping(model, add_legacy=False)
    return revert_weight_conversion(model, dict(their))


def _keras_model(family: _Family):
    converter = _converter(family)
    config = converter.convert_backbone_config(_hf_config_file(family))
    return converter.backbone_cls(**{**config, **family.keras_settings})


def _keras_side(family: _Family) -> Callable[[], KerasSide]:
    def build() -> KerasSide:
        return KerasSide(_keras_model(family), family.keras_forward)

    return build


def _keras_hub_converter(family: _Family) -> Callable:
    """The proof: keras-hub's own `convert_weights` fills a fresh backbone from the transformers tree.

    The fresh backbone's variables come in `my`'s order, but layers Keras names by a counter
    (`mixtral_sparse_moe_block_1`) carry other paths, so the values are handed over in order.
    """

    def prove(their, my):
        model = _keras_model(family)
        _converter(family).convert_weights(model, _TreeLoader(_checkpoint(family, their)), _hf_config_file(family))
        values = KerasSide(model, family.keras_forward).weights().values()
        return dict(zip(my, values, strict=True))

    return prove


# ---------------------------------------------------------------------------- what released checkpoints hold


def _zero_token_types(state) -> None:
    # RoBERTa has no segments: transformers' conversion of the fairseq release zeroes this table.
    state["embeddings.token_type_embeddings.weight"].zero_()


def _half_precision(state) -> None:
    # The release is 16-bit; a float32 value would be rounded by keras-hub's cast to float16.
    for tensor in state.values():
        if tensor.is_floating_point():
            tensor.copy_(tensor.half())


def _rotary_frequencies(state) -> None:
    # ESM keeps its rotary frequencies in the state dict; keras-hub computes them (base 1e4, as here).
    import torch

    frequencies = state["rotary_embeddings.inv_freq"]
    dim = 2 * frequencies.shape[0]
    frequencies.copy_(1.0 / 10000.0 ** (torch.arange(0, dim, 2) / dim))


def _tokens_after_padding(vocabulary: int, length: int, padding: int) -> Callable[[int], np.ndarray]:
    """Token ids above the padding id: RoBERTa's positions count from it and skip padding tokens."""

    def make(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).integers(padding + 1, vocabulary, (1, length), dtype=np.int64)

    return make


# ---------------------------------------------------------------------------- the table

_ENCODER = dict(
    vocab_size=_VOCABULARY,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    max_position_embeddings=_CONTEXT,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    # The random weights keep their init's scale; at std 0.02 bidirectional attention is nearly
    # uniform and a swapped query and key move the output by less than the tolerance.
    initializer_range=0.1,
)
_DECODER = dict(
    vocab_size=_VOCABULARY,
    hidden_size=64,
    intermediate_size=112,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=_CONTEXT,
    rms_norm_eps=1e-6,
    # As for the encoders: a sharp causal attention tells a wrong query, key or rotation apart.
    initializer_range=0.1,
)

# RoBERTa's and XLM-RoBERTa's: positions counted after the padding id 1, one token type.
_ROBERTA = dict(_ENCODER, max_position_embeddings=_CONTEXT + 2, type_vocab_size=1, layer_norm_eps=1e-5, hidden_act="gelu")
# Encoders whose padding id 1 counts (RoBERTa's positions, ESM's mask): tokens above it, the last hidden
# state compared, no pooler.
_AFTER_PADDING = dict(
    hf_forward=_hf_sequence,
    make_input=_tokens_after_padding(_VOCABULARY, _TEXT_LENGTH, 1),
    hf_model_settings=dict(add_pooling_layer=False),
)

# One stack of T5Gemma, its encoder and its decoder alike.
_T5GEMMA_STACK = dict(
    _DECODER,
    head_dim=16,
    query_pre_attn_scalar=16,
    hidden_activation="gelu_pytorch_tanh",
    layer_types=["sliding_attention", "full_attention"],
    dropout_rate=0.0,
)

# Qwen3.5's two kinds of layer, small: a gated delta-net (linear attention) layer and a full-attention one.
_QWEN3_5 = dict(
    _DECODER,
    head_dim=16,
    layer_types=["linear_attention", "full_attention"],
    linear_conv_kernel_dim=4,
    linear_key_head_dim=16,
    linear_value_head_dim=16,
    linear_num_key_heads=2,
    linear_num_value_heads=4,
    tie_word_embeddings=False,
)
_QWEN3_5_NOTES = (
    "hybrid: a gated delta-net (linear attention, causal conv kernel 4) layer, then a gated full-attention "
    "layer with query and key norms and rotary positions on a quarter of each head; untied output. "
    "The release is multimodal (model.language_model.*), as keras-hub reads it"
)

FAMILIES = (
    _Family(
        "bert-pooled",
        "BertConfig",
        "BertModel",
        dict(_ENCODER, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu_pytorch_tanh"),
        "bert",
        "keras-hub's BERT uses tanh GELU (transformers' default is exact: set to gelu_pytorch_tanh) and "
        "LayerNorm eps 1e-12 (transformers' default); two segments; "
        "compares the sequence and the pooled output.",
        hf_forward=_hf_sequence_and_pooled,
        keras_forward=_keras_sequence_and_pooled,
        keras_settings=dict(dropout=0.0, num_segments=2),
    ),
    _Family(
        "distilbert",
        "DistilBertConfig",
        "DistilBertModel",
        dict(
            vocab_size=_VOCABULARY,
            dim=64,
            n_layers=2,
            n_heads=4,
            hidden_dim=128,
            max_position_embeddings=_CONTEXT,
            dropout=0.0,
            attention_dropout=0.0,
            activation="gelu",
            initializer_range=0.1,
        ),
        "distilbert",
        "exact GELU on both sides (transformers' default); LayerNorm eps 1e-12 on both.",
        hf_forward=_hf_sequence,
        keras_forward=_keras_sequence,
    ),
    _Family(
        "albert",
        "AlbertConfig",
        "AlbertModel",
        dict(
            _ENCODER,
            embedding_size=32,
            num_hidden_groups=1,
            inner_group_num=1,
            type_vocab_size=2,
            hidden_act="gelu_new",
            classifier_dropout_prob=0.0,
        ),
        "albert",
        "one group of one layer shared by both layers; embedding width 32 projected to 64; "
        "gelu_new (tanh) as keras-hub's ALBERT; compares the sequence and the pooled output.",
        hf_forward=_hf_sequence_and_pooled,
        keras_forward=_keras_sequence_and_pooled,
    ),
    _Family(
        "gpt2-lm",
        "GPT2Config",
        "GPT2LMHeadModel",
        dict(
            vocab_size=_VOCABULARY,
            n_positions=_CONTEXT,
            n_embd=64,
            n_layer=2,
            n_head=4,
            activation_function="gelu_new",
            layer_norm_epsilon=1e-5,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        ),
        "gpt2",
        "gelu_new (tanh) and LayerNorm eps 1e-5 on both sides; transformers ties lm_head to wte "
        "(one tensor, two names), keras-hub reads its token embedding in reverse.",
    ),
    _Family(
        "llama-lm",
        "LlamaConfig",
        "LlamaForCausalLM",
        dict(_DECODER, tie_word_embeddings=False),
        "llama3",
        "rms eps 1e-6: keras-hub's config converter does not pass it, so it is set on the keras side to "
        "transformers' value; grouped-query attention (4 query, 2 key/value heads); untied output.",
        keras_settings=dict(layer_norm_epsilon=1e-6),
    ),
    _Family(
        "llama-lm-tied",
        "LlamaConfig",
        "LlamaForCausalLM",
        dict(_DECODER, tie_word_embeddings=True),
        "llama3",
        "As llama-lm, with tied embeddings: transformers holds embed_tokens and lm_head as one tensor.",
        keras_settings=dict(layer_norm_epsilon=1e-6),
    ),
    _Family(
        "gemma",
        "GemmaConfig",
        "GemmaForCausalLM",
        dict(_DECODER, head_dim=16, hidden_activation="gelu_pytorch_tanh"),
        "gemma",
        "keras-hub's intermediate_dim is twice transformers' intermediate_size (its converter doubles it); "
        "tanh GELU and rms eps 1e-6 on both sides (keras-hub's default eps); tied output.",
    ),
    _Family(
        "qwen2",
        "Qwen2Config",
        "Qwen2ForCausalLM",
        dict(_DECODER, tie_word_embeddings=False, use_sliding_window=False),
        "qwen",
        "query, key and value biases; rms eps 1e-6 on both sides; untied output.",
    ),
    _Family(
        "bart",
        "BartConfig",
        "BartModel",
        dict(
            vocab_size=_VOCABULARY,
            d_model=64,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            max_position_embeddings=_CONTEXT,
            dropout=0.0,
            attention_dropout=0.0,
            activation_dropout=0.0,
            activation_function="gelu",
            scale_embedding=False,
            init_std=0.1,
        ),
        "bart",
        "transformers' learned positions start at offset 2 (two rows more than keras-hub's tables, "
        "which the converter drops: no one-to-one mapping exists for them); exact GELU; "
        "compares the decoder's last hidden state.",
        hf_forward=_hf_t5,
        keras_forward=_keras_t5,
        make_input=_encoder_decoder_tokens(_VOCABULARY),
        keras_settings=dict(dropout=0.0),
    ),
    _Family(
        "roberta",
        "RobertaConfig",
        "RobertaModel",
        _ROBERTA,
        "roberta",
        "positions start after the padding id 1 (two rows more than keras-hub's table, which the converter "
        "drops) and tokens avoid it; the token type table is zero, as transformers' conversion of the release "
        "leaves it, since keras-hub has none and its converter drops it; exact GELU, LayerNorm eps 1e-5.",
        keras_forward=_keras_sequence,
        **_AFTER_PADDING,
        released=_zero_token_types,
    ),
    _Family(
        "xlm-roberta",
        "XLMRobertaConfig",
        "XLMRobertaModel",
        _ROBERTA,
        "xlm_roberta",
        "as roberta, but the token type row is random: keras-hub's converter adds it to every position row; "
        "exact GELU, LayerNorm eps 1e-5.",
        keras_forward=_keras_sequence,
        **_AFTER_PADDING,
    ),
    _Family(
        "mistral",
        "MistralConfig",
        "MistralForCausalLM",
        dict(_DECODER, head_dim=16, tie_word_embeddings=False),
        "mistral",
        "keras-hub's convert_mistral casts every tensor to float16, so the random values are float16 "
        "numbers (the release is 16-bit); grouped-query attention; untied output.",
        released=_half_precision,
    ),
    _Family(
        "mixtral",
        "MixtralConfig",
        "MixtralForCausalLM",
        dict(_DECODER, num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=False),
        "mixtral",
        "four experts, two per token; transformers holds the experts stacked (mlp.experts.gate_up_proj), "
        "the checkpoint one module per expert (block_sparse_moe.experts.i.w1): keras-hub reads the latter, "
        "transformers' revert_weight_conversion writes it; untied output.",
        reads_checkpoint_names=True,
    ),
    _Family(
        "qwen2-moe",
        "Qwen2MoeConfig",
        "Qwen2MoeForCausalLM",
        dict(
            _DECODER,
            num_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=32,
            shared_expert_intermediate_size=48,
            use_sliding_window=False,
            tie_word_embeddings=False,
        ),
        "qwen_moe",
        "four experts, two per token, and a gated shared expert; query, key and value biases; experts stacked "
        "in transformers and one module each in the checkpoint, as for mixtral; untied output.",
        reads_checkpoint_names=True,
    ),
    _Family(
        "gemma2",
        "Gemma2Config",
        "Gemma2ForCausalLM",
        dict(_DECODER, head_dim=16, query_pre_attn_scalar=16, hidden_activation="gelu_pytorch_tanh"),
        "gemma",
        "norms before and after attention and the feed-forward; logit soft caps 50 (attention) and 30 (final); "
        "alternating sliding (window 4096) and full attention; tied output.",
    ),
    _Family(
        "gemma3",
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        dict(_DECODER, head_dim=16, query_pre_attn_scalar=16, hidden_activation="gelu_pytorch_tanh"),
        "gemma3",
        "text-only Gemma 3: query and key norms, four norms per layer, sliding attention, rope theta 1e4 "
        "(sliding) and 1e6 (full); tied output.",
    ),
    _Family(
        "qwen3",
        "Qwen3Config",
        "Qwen3ForCausalLM",
        dict(_DECODER, head_dim=16, rms_norm_eps=1e-5, use_sliding_window=False, tie_word_embeddings=False),
        "qwen3",
        "query and key RMS norms per head; rms eps 1e-5: keras-hub's Qwen3 attention keeps its default 1e-5 for "
        "the query and key norms whatever the config says; no biases; untied output.",
    ),
    _Family(
        "qwen3-moe",
        "Qwen3MoeConfig",
        "Qwen3MoeForCausalLM",
        dict(
            _DECODER,
            head_dim=16,
            num_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=32,
            norm_topk_prob=True,
            use_sliding_window=False,
            tie_word_embeddings=False,
        ),
        "qwen3_moe",
        "four experts, two per token, routing weights renormalised over the two; query and key norms; experts "
        "stacked in transformers and one module each in the checkpoint, as for mixtral; untied output.",
        reads_checkpoint_names=True,
    ),
    _Family(
        "smollm3",
        "SmolLM3Config",
        "SmolLM3ForCausalLM",
        dict(_DECODER, no_rope_layers=[1, 0], pad_token_id=0, tie_word_embeddings=True),
        "smollm3",
        "rotary positions in the first layer only (no_rope_layers [1, 0]); tied output.",
    ),
    _Family(
        "esm2",
        "EsmConfig",
        "EsmModel",
        dict(
            _ENCODER,
            position_embedding_type="rotary",
            pad_token_id=1,
            emb_layer_norm_before=False,
            token_dropout=False,
            layer_norm_eps=1e-5,
        ),
        "esm",
        "ESM-2: pre-norm layers, rotary positions, LayerNorm eps 1e-5, exact GELU; keras-hub masks the padding "
        "id 1, so tokens avoid it; transformers' state dict holds the rotary frequencies (rotary_embeddings.inv_freq), "
        "which keep their values rather than random ones.",
        keras_forward=_keras_tokens_only,
        **_AFTER_PADDING,
        released=_rotary_frequencies,
    ),
    _Family(
        "qwen3.5",
        "Qwen3_5TextConfig",
        "Qwen3_5ForCausalLM",
        _QWEN3_5,
        "qwen3_5",
        _QWEN3_5_NOTES + ".",
        reads_checkpoint_names=True,
    ),
    _Family(
        "qwen3.5-moe",
        "Qwen3_5MoeTextConfig",
        "Qwen3_5MoeForCausalLM",
        dict(_QWEN3_5, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, shared_expert_intermediate_size=48),
        "qwen3_5_moe",
        _QWEN3_5_NOTES + "; four experts, two per token, and a gated shared expert, stacked in transformers "
        "and one module each in the checkpoint, as for mixtral.",
        reads_checkpoint_names=True,
    ),
    _Family(
        "gemma4",
        "Gemma4TextConfig",
        "Gemma4ForCausalLM",
        dict(
            _DECODER,
            head_dim=16,
            hidden_activation="gelu_pytorch_tanh",
            layer_types=["sliding_attention", "full_attention"],
            sliding_window=32,
            vocab_size_per_layer_input=_VOCABULARY,
            hidden_size_per_layer_input=16,
            per_layer_config={},
        ),
        "gemma4",
        "text-only Gemma 4: a sliding and a full attention layer, per-layer input embeddings, tied output.",
        keras_forward=_keras_logits_at_positions,
    ),
    _Family(
        "t5gemma",
        "T5GemmaConfig",
        "T5GemmaModel",
        dict(
            encoder=_T5GEMMA_STACK,
            decoder=_T5GEMMA_STACK,
            vocab_size=_VOCABULARY,
            dropout_rate=0.0,
            attention_dropout=0.0,
            tie_word_embeddings=True,
        ),
        "t5gemma",
        "Gemma 2 encoder and decoder (four norms per layer, and two more around cross-attention), tanh GELU, "
        "logit soft cap 50 in attention; the encoder and decoder keep their own token tables; compares the "
        "decoder's last hidden state.",
        hf_forward=_hf_t5,
        keras_forward=_keras_t5,
        make_input=_encoder_decoder_tokens(_VOCABULARY),
    ),
)


def pairs() -> list[ZooPair]:
    return [
        ZooPair(
            name=f"{family.name}: transformers -> keras-hub",
            family=family.name,
            source="transformers",
            target="keras-hub",
            fast=False,
            notes=family.notes + " Proof: keras-hub's convert_" + family.converter + ".",
            build_source=_transformers_side(family),
            build_target=_keras_side(family),
            make_input=family.make_input,
            prove=_keras_hub_converter(family),
        )
        for family in FAMILIES
    ]
