# modeling_hybridize: a hybrid exported by `hybridize export`, for transformers' remote-code loading
# (AutoModelForCausalLM.from_pretrained(dir, trust_remote_code=True)). The parent decoder (Llama or
# Qwen2: RMSNorm, RoPE with default or llama3 scaling, GQA attention with the parent's q/k/v
# biases, SwiGLU MLP) around per-layer token mixers: full attention, or one of hybridize's linear
# modules (linear_hybridize) where config.layer_types says "linear_attention". A port of
# src/model/ (the C++ decoder is the truth):
#   h_0 = E[ids];  h_l = h_{l-1} + mixer_l(RMSNorm(h_{l-1}));  h_l += MLP_l(RMSNorm(h_l))
#   logits = RMSNorm(h_L) W_head^T   (fp32; W_head = E when embeddings are tied)
# Padding (attention_mask 0, e.g. left-padded batches) is hidden from attention and leaves the
# linear layers' states untouched; positions count the real tokens of each row only.
import math

import torch
from torch import nn
import torch.nn.functional as F
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

from .cache_hybridize import HybridizeCache
from .configuration_hybridize import HybridizeConfig
from .linear_hybridize import make_linear_mixer


class RMSNorm(nn.Module):
    """HF LlamaRMSNorm: variance in fp32, x * rsqrt(var + eps) cast back, times the weight."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)


def inv_frequencies(config, device):
    """inv_freq_i = theta^(-2i/d), with Llama 3.1's scaling when config says llama3 (as
    src/model/blocks.cpp and transformers' _compute_llama3_parameters compute it)."""
    theta, scaling = config.rope()
    d = config.head_dim
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64, device=device).float() / d))
    if scaling is not None:
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_ctx = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old_ctx / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv = torch.where(medium, smoothed, scaled)
    return inv.float()


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    c, s = cos.unsqueeze(1).to(x.dtype), sin.unsqueeze(1).to(x.dtype)
    return x * c + rot * s


class Attention(nn.Module):
    """Causal GQA attention with RoPE; query head h reads kv head h // (H / Hkv)."""

    def __init__(self, config, layer_idx):
        super().__init__()
        D, self.H, self.Hkv, self.d = (config.hidden_size, config.num_attention_heads,
                                       config.num_key_value_heads, config.head_dim)
        bias = config.attention_bias
        self.q_proj = nn.Linear(D, self.H * self.d, bias=bias)
        self.k_proj = nn.Linear(D, self.Hkv * self.d, bias=bias)
        self.v_proj = nn.Linear(D, self.Hkv * self.d, bias=bias)
        self.o_proj = nn.Linear(self.H * self.d, D, bias=False)
        self.layer_idx = layer_idx

    def forward(self, x, cos, sin, cache, key_mask):
        B, T, _ = x.shape
        q = rotate(self.q_proj(x).view(B, T, self.H, self.d).transpose(1, 2), cos, sin)
        k = rotate(self.k_proj(x).view(B, T, self.Hkv, self.d).transpose(1, 2), cos, sin)
        v = self.v_proj(x).view(B, T, self.Hkv, self.d).transpose(1, 2)
        if cache is not None:
            k, v = cache.update_kv(self.layer_idx, k, v)
        L = k.shape[2]
        rep = self.H // self.Hkv
        if rep > 1:
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        # Query t (index L - T + t) sees keys j <= L - T + t that are not padding.
        allowed = (torch.arange(L, device=x.device).view(1, L)
                   <= torch.arange(L - T, L, device=x.device).view(T, 1)).view(1, 1, T, L)
        if key_mask is not None:
            allowed = allowed & key_mask[:, -L:].bool().view(B, 1, 1, L)
        scores = (q @ k.transpose(-1, -2)).float() * (1.0 / math.sqrt(self.d))
        scores = scores.masked_fill(~allowed, torch.finfo(torch.float32).min)
        o = torch.softmax(scores, -1).to(x.dtype) @ v
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.H * self.d))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        D, I = config.hidden_size, config.intermediate_size
        self.gate_proj = nn.Linear(D, I, bias=False)
        self.up_proj = nn.Linear(D, I, bias=False)
        self.down_proj = nn.Linear(I, D, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config, layer_idx):
        super().__init__()
        self.layer_idx = layer_idx
        self.linear = config.layer_types[layer_idx] == "linear_attention"
        if self.linear:
            self.linear_attn = make_linear_mixer(config.linear_attention)
        else:
            self.self_attn = Attention(config, layer_idx)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, h, cos, sin, cache, mask):
        x = self.input_layernorm(h)
        if self.linear:
            state = cache.linear[self.layer_idx] if cache is not None else None
            token_mask = mask[:, -h.shape[1]:].bool() if mask is not None else None
            h = h + self.linear_attn(x, state, token_mask)
        else:
            h = h + self.self_attn(x, cos, sin, cache, mask)
        return h + self.mlp(self.post_attention_layernorm(h))


class HybridizePreTrainedModel(PreTrainedModel):
    config_class = HybridizeConfig
    base_model_prefix = "model"
    _no_split_modules = ["DecoderLayer"]
    # generate() must not make a transformers cache for this model: it carries its own
    # (HybridizeCache), which forward creates and returns. Stateful: no assisted generation.
    _is_stateful = True

    @classmethod
    def _supports_default_dynamic_cache(cls):
        return False

    def _init_weights(self, module):
        # Every parameter comes from the checkpoint; fresh ones (a model built from a config) are
        # drawn as hybridize's random models are: N(0, 0.02), norms 1, biases 0.
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)


class HybridizeModel(HybridizePreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, l) for l in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def new_cache(self):
        convs = [len(layer.linear_attn.conv_channels()) if layer.linear else 0 for layer in self.layers]
        return HybridizeCache(self.config.layer_types, convs)

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                inputs_embeds=None, use_cache=None, **kwargs):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        h = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        B, T = h.shape[:2]
        use_cache = self.config.use_cache if use_cache is None else use_cache
        cache = past_key_values
        if cache is not None and not isinstance(cache, HybridizeCache):
            raise TypeError(f"past_key_values must be a HybridizeCache (got {type(cache).__name__})")
        if cache is None and use_cache:
            cache = self.new_cache()
        past = cache.get_seq_length() if cache is not None else 0
        if attention_mask is not None and attention_mask.shape[1] != past + T:
            raise ValueError(f"attention_mask covers {attention_mask.shape[1]} tokens, expected {past + T}")
        if position_ids is None:
            if attention_mask is not None:  # count real tokens only (left padding)
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -T:]
            else:
                position_ids = torch.arange(past, past + T, device=h.device).expand(B, T)
        freqs = position_ids.float().unsqueeze(-1) * inv_frequencies(self.config, h.device)
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos(), emb.sin()
        for layer in self.layers:
            h = layer(h, cos, sin, cache, attention_mask)
        if cache is not None:
            cache.seen_tokens += T
        return BaseModelOutputWithPast(last_hidden_state=self.norm(h), past_key_values=cache)


class HybridizeForCausalLM(HybridizePreTrainedModel, GenerationMixin):
    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config):
        super().__init__(config)
        self.model = HybridizeModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                inputs_embeds=None, labels=None, use_cache=None, logits_to_keep=0, **kwargs):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=past_key_values, inputs_embeds=inputs_embeds, use_cache=use_cache)
        h = out.last_hidden_state
        if isinstance(logits_to_keep, int) and logits_to_keep > 0:
            h = h[:, -logits_to_keep:]
        logits = self.lm_head(h).float()
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                   ignore_index=-100)
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=out.past_key_values)

    def prepare_inputs_for_generation(self, input_ids, past_key_values=None, attention_mask=None,
                                      inputs_embeds=None, use_cache=True, **kwargs):
        # With a cache only the tokens it has not seen are fed (one per step after the prompt).
        if past_key_values is not None and past_key_values.get_seq_length() > 0:
            input_ids = input_ids[:, past_key_values.get_seq_length():]
            inputs_embeds = None
        inputs = {"past_key_values": past_key_values, "attention_mask": attention_mask, "use_cache": use_cache}
        if inputs_embeds is not None:
            inputs["inputs_embeds"] = inputs_embeds
        else:
            inputs["input_ids"] = input_ids
        return inputs
