# configuration_hybridize: the config of a hybrid exported by `hybridize export`. Its model_type,
# "hybridize", is one no library knows, so nothing loads a hybrid as its parent (Llama / Qwen2) by
# mistake; transformers loads it only with trust_remote_code=True, through config.json's auto_map.
# The file is the parent's config.json plus:
#   parent_model_type  "llama" | "qwen2" (the decoder around the mixers; qwen2: q/k/v biases)
#   layer_types        per layer "full_attention" | "linear_attention"
#   linear_attention   the linear modules' settings, as hybridize writes them: kind (gla | gdn |
#                      jet), hidden_size, num_heads, num_kv_heads, head_dim, qkv_bias, conv_size,
#                      gate_low_rank, gate_logit_normalizer, norm_eps (the modules' output norm:
#                      1e-6, written out because flash-linear-attention's layers default to 1e-5),
#                      chunk_size
try:
    from transformers import PreTrainedConfig as _Base
except ImportError:  # transformers 4
    from transformers import PretrainedConfig as _Base

PARENTS = ("llama", "qwen2")
LINEAR_KEYS = ("kind", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "qkv_bias", "conv_size",
               "gate_low_rank", "gate_logit_normalizer", "norm_eps", "chunk_size")


class HybridizeConfig(_Base):
    model_type = "hybridize"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(self, parent_model_type="llama", vocab_size=32000, hidden_size=4096, intermediate_size=11008,
                 num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=None, head_dim=None,
                 max_position_embeddings=2048, rms_norm_eps=1e-6, attention_bias=None, mlp_bias=False,
                 hidden_act="silu", tie_word_embeddings=False, layer_types=None, linear_attention=None,
                 rope_theta=None, rope_scaling=None, rope_parameters=None, use_cache=True, **kwargs):
        if parent_model_type not in PARENTS:
            raise ValueError(f"config.json: parent_model_type {parent_model_type!r} is not one of {PARENTS}")
        if hidden_act != "silu":
            raise ValueError(f"config.json: hidden_act {hidden_act!r} is not supported (only silu)")
        if mlp_bias:
            raise ValueError("config.json: mlp_bias is not supported (hybridize's decoder has no MLP biases)")
        self.parent_model_type = parent_model_type
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.head_dim = head_dim or hidden_size // num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        # Qwen2 always has q/k/v biases; Llama has them when attention_bias says so.
        self.attention_bias = True if parent_model_type == "qwen2" else bool(attention_bias)
        self.mlp_bias = False
        self.hidden_act = hidden_act
        self.use_cache = use_cache
        self.layer_types = list(layer_types) if layer_types else ["full_attention"] * num_hidden_layers
        if len(self.layer_types) != num_hidden_layers:
            raise ValueError(f"config.json: layer_types has {len(self.layer_types)} entries for "
                             f"{num_hidden_layers} layers")
        for i, t in enumerate(self.layer_types):
            if t not in ("full_attention", "linear_attention"):
                raise ValueError(f"config.json: layer_types[{i}] = {t!r} (expected full_attention or linear_attention)")
        self.linear_attention = linear_attention
        if "linear_attention" in self.layer_types:
            if not isinstance(linear_attention, dict):
                raise ValueError("config.json: linear_attention layers but no 'linear_attention' settings")
            missing = [k for k in LINEAR_KEYS if k not in linear_attention]
            if missing:
                raise ValueError(f"config.json: linear_attention lacks {missing}")
        # RoPE read as hybridize reads it (src/io/config.cpp): transformers 5's rope_parameters, or
        # top-level rope_theta plus an optional rope_scaling; kept in the transformers-5 form (which
        # hybridize reads back), never as the rope_scaling alias transformers 5 maps onto it.
        params = dict(rope_parameters if isinstance(rope_parameters, dict) else (
            rope_scaling if isinstance(rope_scaling, dict) else {}))
        params.setdefault("rope_theta", rope_theta if rope_theta is not None else 10000.0)
        params["rope_type"] = params.pop("type", params.get("rope_type", "default"))
        if params["rope_type"] not in ("default", "llama3"):
            raise ValueError(f"config.json: unsupported rope type {params['rope_type']!r} (supported: default, llama3)")
        if params["rope_type"] == "llama3":
            needed = ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
            if any(k not in params for k in needed):
                raise ValueError(f"config.json: llama3 rope scaling needs {needed}")
        self.rope_parameters = params
        super().__init__(tie_word_embeddings=tie_word_embeddings, **kwargs)

    def rope(self):
        """(theta, the llama3 scaling parameters or None)."""
        p = self.rope_parameters
        return float(p["rope_theta"]), (p if p["rope_type"] == "llama3" else None)
