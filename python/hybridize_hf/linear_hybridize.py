# linear_hybridize: hybridize's linear-attention token mixers, a port of src/linear/gla.cpp and
# src/linear/gated_delta.cpp (the C++ modules are the truth; parameter names are theirs, so the
# exported model.layers.{l}.linear_attn.* tensors load as they are). Every setting comes from
# config.json's `linear_attention` object:
#   GLA:  q = W_q x, k = W_k x, v = W_v x (GQA-native, + biases with qkv_bias);
#         gk = logsigmoid(W_2 W_1 x + b_2) / gate_logit_normalizer;
#         S_t = diag(exp(gk_t)) S_{t-1} + k_t^T v_t,  o_t = d^-1/2 q_t S_t
#   GDN:  q, k, v = SiLU(conv(W x)) (causal depthwise short convolutions of conv_size taps)
#   Jet:  q, k = SiLU(W x);  v = SiLU(dconv(W_v x; kernels(x))), kernels_t = W_2 SiLU(W_1 x_t) + b_2
#   GDN / Jet: q, k L2-normalised per head; b = sigmoid(W_b x); g = -exp(A_log) softplus(W_a x + dt_bias)
#         S_t = exp(g_t) (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T,  o_t = d^-1/2 S_t^T q_t
#   all:  y = W_o [ RMSNorm_d(o; norm_eps) * w * silu(W_g x) ]
# Padding (attention_mask 0) leaves the state untouched: padded tokens enter the convolutions as
# zeros and the recurrence with k = 0 and log decay 0 (GLA) or beta = 0 and log decay 0 (GDN, Jet),
# so a left-padded row computes what the row alone computes.
import math

import torch
from torch import nn
import torch.nn.functional as F

from .ops_hybridize import (causal_conv, compute_dtype, gated_delta_chunk, gated_delta_step,
                            gla_chunk, gla_step)

GENERATOR_REDUCTION = 8  # JetBlock: kernel generator width value_dim / 8


class OutputNorm(nn.Module):
    """y = o / sqrt(mean(o^2) + eps) * w * silu(gate), per head, in o's (the compute) dtype."""

    def __init__(self, head_dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(head_dim))
        self.eps = eps

    def forward(self, o, gate):
        g = gate.to(o.dtype)
        return o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.to(o.dtype) * F.silu(g)


def l2_normalize(x):
    return x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + 1e-6)


def _keep(mask, t, fill=0.0):
    """t with the padded positions (mask [B,T] False) set to `fill`."""
    if mask is None:
        return t
    m = mask.view(*mask.shape, *([1] * (t.dim() - 2)))
    return torch.where(m, t, torch.full((), fill, dtype=t.dtype, device=t.device))


class LinearMixer(nn.Module):
    """The common face of GLA, GDN and JetBlock: forward(x [B,T,D], state, mask) -> y, state.
    `state` is the layer's LinearState (cache_hybridize) or None for a zero start."""

    def __init__(self, s):
        super().__init__()
        self.kind = s["kind"]
        self.D, self.H, self.d = s["hidden_size"], s["num_heads"], s["head_dim"]
        self.Hk = s.get("num_kv_heads", self.H)
        self.chunk_size = s["chunk_size"]
        self.scale = 1.0 / math.sqrt(self.d)

    def recurrence(self, chunked, step, state, args, T):
        h0 = state.recurrent if state is not None else None
        if state is not None and T == 1:
            o, S = step(*args, h0)
        else:
            o, S = chunked(*args, h0)
        if state is not None:
            state.recurrent = S
        return o


class GLA(LinearMixer):
    def __init__(self, s):
        super().__init__(s)
        bias = s["qkv_bias"]
        q_dim, kv_dim = self.H * self.d, self.Hk * self.d
        self.q_proj = nn.Linear(self.D, q_dim, bias=bias)
        self.k_proj = nn.Linear(self.D, kv_dim, bias=bias)
        self.v_proj = nn.Linear(self.D, kv_dim, bias=bias)
        self.gk_proj = nn.Sequential(nn.Linear(self.D, s["gate_low_rank"], bias=False),
                                     nn.Linear(s["gate_low_rank"], kv_dim, bias=True))
        self.g_proj = nn.Linear(self.D, q_dim, bias=False)
        self.o_norm = OutputNorm(self.d, s["norm_eps"])
        self.o_proj = nn.Linear(q_dim, self.D, bias=False)
        self.gate_logit_normalizer = s["gate_logit_normalizer"]

    def conv_channels(self):
        return []

    def forward(self, x, state=None, mask=None):
        B, T, _ = x.shape
        ct = compute_dtype(x)
        q = self.q_proj(x).view(B, T, self.H, self.d)
        k = _keep(mask, self.k_proj(x)).view(B, T, self.Hk, self.d)
        v = self.v_proj(x).view(B, T, self.Hk, self.d)
        gk = F.logsigmoid(self.gk_proj(x).to(ct)) / self.gate_logit_normalizer
        gk = _keep(mask, gk).view(B, T, self.Hk, self.d)
        o = self.recurrence(lambda *a: gla_chunk(*a, self.chunk_size), gla_step, state,
                            (q, k, v, gk, self.scale), T)
        gate = self.g_proj(x).view(B, T, self.H, self.d)
        o = self.o_norm(o, gate).to(x.dtype)
        return self.o_proj(o.reshape(B, T, self.H * self.d))


class _Generator(nn.Module):
    def __init__(self, D, width, out):
        super().__init__()
        self.w1 = nn.Linear(D, width, bias=False)
        self.w2 = nn.Linear(width, out, bias=True)


class _DynamicConv(nn.Module):
    def __init__(self, D, dim, W):
        super().__init__()
        self.generator = _Generator(D, dim // GENERATOR_REDUCTION, dim * W)


class GatedDelta(LinearMixer):
    """Gated DeltaNet ("gdn") and JetBlock ("jet")."""

    def __init__(self, s):
        super().__init__(s)
        self.jet = self.kind == "jet"
        self.W = s["conv_size"]
        bias = s["qkv_bias"]
        dim = self.H * self.d
        self.q_proj = nn.Linear(self.D, dim, bias=bias)
        self.k_proj = nn.Linear(self.D, dim, bias=bias)
        self.v_proj = nn.Linear(self.D, dim, bias=bias)
        if self.jet:
            self.v_conv = _DynamicConv(self.D, dim, self.W)
        else:
            for name in ("q_conv", "k_conv", "v_conv"):
                setattr(self, name, nn.Conv1d(dim, dim, self.W, groups=dim, bias=False))
        self.a_proj = nn.Linear(self.D, self.H, bias=False)
        self.b_proj = nn.Linear(self.D, self.H, bias=False)
        self.A_log = nn.Parameter(torch.zeros(self.H))
        self.dt_bias = nn.Parameter(torch.zeros(self.H))
        self.g_proj = nn.Linear(self.D, dim, bias=False)
        self.o_norm = OutputNorm(self.d, s["norm_eps"])
        self.o_proj = nn.Linear(dim, self.D, bias=False)

    def conv_channels(self):
        dim = self.H * self.d
        return [dim] if self.jet else [dim, dim, dim]

    def forward(self, x, state=None, mask=None):
        B, T, _ = x.shape
        ct = compute_dtype(x)
        dim = self.H * self.d

        def conv(i, inp, taps):  # causal convolution i of the state (GDN: q, k, v; Jet: v), SiLU
            past = state.conv[i] if state is not None else None
            y, new = causal_conv(_keep(mask, inp), taps, past)
            if state is not None:
                state.conv[i] = new
            return F.silu(y)

        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.jet:
            q, k = F.silu(q), F.silu(k)
            g = self.v_conv.generator
            kernels = g.w2(F.silu(g.w1(x)))
            v = conv(0, v, kernels.view(B, T, dim, self.W))  # flat index c*W + w
        else:
            q = conv(0, q, self.q_conv.weight.view(dim, self.W))
            k = conv(1, k, self.k_conv.weight.view(dim, self.W))
            v = conv(2, v, self.v_conv.weight.view(dim, self.W))
        q = l2_normalize(q.view(B, T, self.H, self.d).to(ct))
        k = l2_normalize(k.view(B, T, self.H, self.d).to(ct))
        v = v.view(B, T, self.H, self.d)

        beta = _keep(mask, torch.sigmoid(self.b_proj(x).to(ct)))
        g = -self.A_log.to(ct).exp() * F.softplus(self.a_proj(x).to(ct) + self.dt_bias.to(ct))
        g = _keep(mask, g)
        o = self.recurrence(lambda *a: gated_delta_chunk(*a, self.chunk_size), gated_delta_step, state,
                            (q, k, v, g, beta, self.scale), T)
        gate = self.g_proj(x).view(B, T, self.H, self.d)
        o = self.o_norm(o, gate).to(x.dtype)
        return self.o_proj(o.reshape(B, T, dim))


KINDS = {"gla": GLA, "gdn": GatedDelta, "jet": GatedDelta}


def make_linear_mixer(settings):
    kind = settings.get("kind")
    if kind not in KINDS:
        raise ValueError(f"config.json: unknown linear_attention kind {kind!r} (expected one of {sorted(KINDS)})")
    return KINDS[kind](settings)
