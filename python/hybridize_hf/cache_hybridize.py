# cache_hybridize: what a hybrid carries between forward calls, per layer (as hybridize's
# ModelCache, src/model/model.h): keys and values for the full-attention layers (growing along
# time), and for the linear layers a LinearState: the recurrent state S [B, Hs, K, V] (fp32) and
# the last conv_size-1 inputs of each causal convolution [B, W-1, C] (GDN: q, k, v; Jet: v).
# A fresh state is None everywhere, which the modules read as zeros (the state at position 0).
import torch


class LinearState:
    def __init__(self, convs):
        self.recurrent = None
        self.conv = [None] * convs

    def tensors(self):
        return [self.recurrent] + self.conv

    def map(self, fn):
        self.recurrent = None if self.recurrent is None else fn(self.recurrent)
        self.conv = [None if c is None else fn(c) for c in self.conv]


class HybridizeCache:
    """The cache of HybridizeForCausalLM: generate() receives it as past_key_values and hands it back."""

    is_compileable = False  # generate() must not compile around it
    is_croppable = False  # a linear state cannot be rewound (no assisted generation)

    def __init__(self, layer_types, conv_counts):
        self.layer_types = list(layer_types)
        self.keys = [None] * len(layer_types)
        self.values = [None] * len(layer_types)
        self.linear = [LinearState(conv_counts[l]) if t == "linear_attention" else None
                       for l, t in enumerate(layer_types)]
        self.seen_tokens = 0  # tokens consumed by every row (padding included)

    def __len__(self):
        return len(self.layer_types)

    def get_seq_length(self, layer_idx=0):
        return self.seen_tokens

    def get_max_cache_shape(self, layer_idx=0):
        return None  # grows without bound

    def update_kv(self, layer_idx, k, v):
        """Appends k, v [B,Hkv,T,d] to layer `layer_idx`; returns every key and value so far."""
        if self.keys[layer_idx] is not None:
            k = torch.cat([self.keys[layer_idx], k], 2)
            v = torch.cat([self.values[layer_idx], v], 2)
        self.keys[layer_idx], self.values[layer_idx] = k, v
        return k, v

    def _map(self, fn):
        self.keys = [None if k is None else fn(k) for k in self.keys]
        self.values = [None if v is None else fn(v) for v in self.values]
        for s in self.linear:
            if s is not None:
                s.map(fn)

    def reorder_cache(self, beam_idx):
        """Rows reordered (beam search)."""
        self._map(lambda t: t.index_select(0, beam_idx.to(t.device)))

    def batch_repeat_interleave(self, repeats):
        self._map(lambda t: t.repeat_interleave(repeats, dim=0))

    def batch_select_indices(self, indices):
        self._map(lambda t: t[indices])
