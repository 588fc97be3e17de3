"""transformers <-> keras-hub: every text model both libraries implement and keras-hub converts.

keras-hub ships a hand-written converter per family (`keras_hub/src/utils/transformers/convert_*.py`):
`convert_backbone_config` turns a transformers config into the keras-hub backbone's arguments and
`convert_weights` ports each tensor. Both sides of a pair here are built from one transformers
config through keras-hub's own `convert_backbone_config`, so the configs agree by the library's
own rule; the proof is keras-hub's own `convert_weights`, reading the transformers weights from
memory instead of a safetensors file.

Decoders are compared on their logits (the keras side reads its output embedding with
`reverse=True`), so the output head counts; BERT and ALBERT compare the pooled output too.
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


def _keras_logits(model, tokens):
    return model.token_embedding(model(_keras_ids(tokens)), reverse=True)


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


def _hf_config(family: _Family):
    import transformers

    return getattr(transformers, family.hf_config)(**family.hf_settings)


def _hf_config_file(family: _Family) -> dict:
    """The config as a checkpoint's config.json holds it: with the aliases (BART's num_hidden_layers)."""
    config = _hf_config(family)
    return {**config.to_dict(), **{alias: getattr(config, alias) for alias in config.attribute_map}}


def _converter(family: _Family):
    return importlib.import_module(f"keras_hub.src.utils.transformers.convert_{family.converter}")


def _transformers_side(family: _Family) -> Callable[[], TorchSide]:
    def build() -> TorchSide:
        import transformers

        model = getattr(transformers, family.hf_model)(_hf_config(family), **family.hf_model_settings)
        return TorchSide(model, family.hf_forward)

    return build


def _keras_model(family: _Family):
    converter = _converter(family)
    config = converter.convert_backbone_config(_hf_config_file(family))
    return converter.backbone_cls(**{**config, **family.keras_settings})


def _keras_side(family: _Family) -> Callable[[], KerasSide]:
    def build() -> KerasSide:
        return KerasSide(_keras_model(family), family.keras_forward)

    return build


def _keras_hub_converter(family: _Family) -> Callable:
    """The proof: keras-hub's own `convert_weights` fills a fresh backbone from the transformers tree."""

    def prove(their, my):
        model = _keras_model(family)
        _converter(family).convert_weights(model, _TreeLoader(their), _hf_config_file(family))
        return KerasSide(model, family.keras_forward).weights()

    return prove


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
)

UNPAIRED = [
    (
        "RoBERTa (transformers -> keras-hub)",
        "transformers' RoBERTa adds row 0 of its token type table to every embedding; keras-hub's RoBERTa "
        "has no such table and its converter drops it (zero in released checkpoints), so with random "
        "weights the two differ (relative error 0.3 after keras-hub's own conversion).",
    ),
    (
        "Mistral (transformers -> keras-hub)",
        "after keras-hub's own convert_mistral the logits differ by 1.5e-3 relative error, at the first "
        "position already (configs from keras-hub's convert_backbone_config, no sliding window); not proven.",
    ),
    (
        "Qwen3 (transformers -> keras-hub)",
        "after keras-hub's own convert_qwen3 the logits differ by 1.2e-4 relative error (1e-5 with "
        "initializer_range 0.1); not proven.",
    ),
    (
        "Mixtral (transformers -> keras-hub)",
        "keras-hub's convert_mixtral reads one tensor per expert (block_sparse_moe.experts.i.w1); "
        "transformers 5 stores them stacked (mlp.experts.gate_up_proj), so keras-hub's own converter "
        "cannot prove the pair.",
    ),
    ("T5 (transformers -> keras-hub)", "keras-hub ships no converter from transformers' T5 (only T5Gemma)."),
    ("DeBERTa-v3 (transformers -> keras-hub)", "keras-hub ships no converter from transformers' DeBERTa-v3."),
    ("Phi-3 (transformers -> keras-hub)", "keras-hub ships no converter from transformers' Phi-3."),
    ("Whisper (transformers -> keras-hub)", "keras-hub ships no converter from transformers' Whisper."),
]


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
