# ops_hybridize: the recurrences of hybridize's linear modules as plain tensor functions, a port of
# src/linear/ops/ (the C++ code is the truth these reproduce). Two forms each:
#   *_chunk  the chunked parallel form (prefill, scoring): the state is carried from chunk to chunk
#            and every decay is a direct sum of log gates (never a difference of long prefix sums);
#   *_step   one token on a carried state (decoding).
# Inputs may be any floating dtype; states and outputs are computed in fp32 (fp64 for fp64 inputs).
# Shapes: B batch, T tokens, H heads, K key and V value dims; a state S is [B, H, K, V] (key index
# first) and o_t = S_t^T q_t reads it. When flash-linear-attention is installed and the tensors are
# on CUDA, the chunked forms run its kernels instead (same recurrence, fused).
import importlib
import importlib.util

import torch


def compute_dtype(t):
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def chunk_for(T, chunk):
    """The chunk length for T tokens: `chunk`, shrunk for short inputs to the next power of two >= T
    (at least 16), as ops/common.cpp chooses it."""
    c = 16
    while c < T:
        c *= 2
    return min(chunk, c)


def pad_time(x, Tp):
    if x.shape[1] == Tp:
        return x
    shape = list(x.shape)
    shape[1] = Tp - x.shape[1]
    return torch.cat([x, x.new_zeros(shape)], 1)


def segment_sums(g, dim):
    """[.., C(i), C(j), ..] = sum_{j<s<=i} g_s for j <= i, -inf above the diagonal."""
    dim = dim % g.dim()
    C = g.shape[dim]
    ones = torch.ones(C, C, dtype=torch.bool, device=g.device)
    mask_shape = [C, C] + [1] * (g.dim() - 1 - dim)
    below, above = ones.tril(-1).view(mask_shape), ones.triu(1).view(mask_shape)
    rows = g.unsqueeze(dim + 1).expand(*g.shape[: dim + 1], C, *g.shape[dim + 1 :])  # rows[i, j] = g_i
    sums = torch.where(below, rows, g.new_zeros(())).cumsum(dim)
    return sums.masked_fill(above, float("-inf"))


def suffix_sums(g, dim):
    """[.., C, ..] = sum_{s>j} g_s: the decay from row j to the end of the chunk."""
    dim = dim % g.dim()
    C = g.shape[dim]
    inclusive = g.flip(dim).cumsum(dim).flip(dim)
    shape = list(g.shape)
    shape[dim] = 1
    return torch.cat([inclusive.narrow(dim, 1, C - 1), g.new_zeros(shape)], dim)


def _fla(op):
    """flash-linear-attention's chunked kernel `op` ("gla.chunk_gla",
    "gated_delta_rule.chunk_gated_delta_rule") when fla is installed, else None. Imported by name,
    not by an import statement, so that transformers' remote-code loader does not require fla."""
    if importlib.util.find_spec("fla") is None:
        return None
    module, name = op.rsplit(".", 1)
    return getattr(importlib.import_module("fla.ops." + module), name)


# ---- Gated linear attention -----------------------------------------------------------------------
#   S_t = diag(exp(gk_t)) S_{t-1} + k_t^T v_t,   o_t = (scale q_t) S_t
# q [B,T,H,K] with H = G*Hk; k, gk [B,T,Hk,K]; v [B,T,Hk,V]; query head h reads kv head h // G, so
# the state is [B,Hk,K,V].


def gla_chunk(q, k, v, gk, scale, h0, chunk):
    if q.is_cuda and _fla("gla.chunk_gla") is not None:
        return _gla_chunk_fla(q, k, v, gk, scale, h0)
    ct = compute_dtype(q)
    B, T, H, K = q.shape
    Hk, V = k.shape[2], v.shape[3]
    G = H // Hk
    C = chunk_for(T, chunk)
    N = -(-T // C)
    Tp = N * C

    def chunks(t):  # [B,Hk,N,C,*]
        return pad_time(t.to(ct), Tp).view(B, N, C, Hk, t.shape[3]).permute(0, 3, 1, 2, 4)

    qc = pad_time(q.to(ct), Tp).view(B, N, C, Hk, G, K).permute(0, 3, 1, 4, 2, 5)  # [B,Hk,N,G,C,K]
    kc, vc, gc = chunks(k), chunks(v), chunks(gk)  # padded rows add log 1 = 0
    prefix = gc.cumsum(3)  # sum_{s<=i} gk_s

    # State scan over chunks; dS is what chunk n adds.
    dS = (kc * suffix_sums(gc, 3).exp()).transpose(-1, -2) @ vc  # [B,Hk,N,K,V]
    chunk_decay = prefix[:, :, :, C - 1].exp().unsqueeze(-1)  # [B,Hk,N,K,1]
    S = h0.to(ct) if h0 is not None else q.new_zeros(B, Hk, K, V, dtype=ct)
    entering = []
    for n in range(N):
        entering.append(S)
        S = S * chunk_decay[:, :, n] + dS[:, :, n]
    S_in = torch.stack(entering, 2)  # [B,Hk,N,K,V]

    # o_i = scale [ (q_i * exp(sum_{s<=i} gk_s)) S_n + sum_{j<=i} A_ij v_j ],
    # A_ij = sum_d q_id k_jd exp(sum_{j<s<=i} gk_sd).
    inter = (qc * prefix.exp().unsqueeze(3)) @ S_in.unsqueeze(3)  # [B,Hk,N,G,C,V]
    k_dec = kc.unsqueeze(3) * segment_sums(gc, 3).exp()  # [B,Hk,N,C(i),C(j),K]
    A = torch.einsum("bhngik,bhnijk->bhngij", qc, k_dec)
    o = inter + A @ vc.unsqueeze(3)
    o = (o * scale).permute(0, 2, 4, 1, 3, 5).reshape(B, Tp, H, V)
    return o[:, :T], S


def gla_step(q, k, v, gk, scale, h0):
    """One token: S = diag(exp(gk)) S + k^T v; o = scale q S."""
    ct = compute_dtype(q)
    B, _, H, K = q.shape
    Hk, V = k.shape[2], v.shape[3]
    S = h0.to(ct) if h0 is not None else q.new_zeros(B, Hk, K, V, dtype=ct)
    k_t, v_t = k[:, 0].to(ct), v[:, 0].to(ct)
    S = S * gk[:, 0].to(ct).exp().unsqueeze(-1) + k_t.unsqueeze(-1) * v_t.unsqueeze(-2)
    o = (q[:, 0].to(ct).reshape(B, Hk, H // Hk, K) @ S) * scale
    return o.reshape(B, 1, H, V), S


def _gla_chunk_fla(q, k, v, gk, scale, h0):
    # fla's kernel has one state per query head: k, v, gk are repeated per group (HF repeat_kv
    # order) and the state of a group's first head is kept (all of a group's are equal).
    ct = compute_dtype(q)
    H, Hk = q.shape[2], k.shape[2]
    G = H // Hk
    rep = lambda t: t.to(ct).repeat_interleave(G, dim=2)  # noqa: E731
    init = h0.to(ct).repeat_interleave(G, dim=1) if h0 is not None else None
    o, S = _fla("gla.chunk_gla")(q.to(ct), rep(k), rep(v), rep(gk), scale=scale, initial_state=init,
                                 output_final_state=True)
    return o, S[:, ::G].contiguous()


# ---- Gated delta rule (Gated DeltaNet, JetBlock) ----------------------------------------------------
#   S_t = a_t (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T,  a_t = exp(g_t);   o_t = S_t^T (scale q_t)
# q, k [B,T,H,K] (L2-normalised by the caller), v [B,T,H,V], g (log decay <= 0) and beta [B,T,H].


def gated_delta_chunk(q, k, v, g, beta, scale, h0, chunk):
    fused = _fla("gated_delta_rule.chunk_gated_delta_rule") if q.is_cuda else None
    if fused is not None:
        ct = compute_dtype(q)
        return fused(
            q.to(ct), k.to(ct), v.to(ct), g.to(ct), beta.to(ct), scale=scale,
            initial_state=None if h0 is None else h0.to(ct), output_final_state=True)
    ct = compute_dtype(q)
    B, T, H, K = q.shape
    V = v.shape[3]
    C = chunk_for(T, chunk)
    N = -(-T // C)
    Tp = N * C

    def chunks(t):  # [B,H,N,C,*]; padded rows have k = v = b = 0 and g = 0: no-ops
        return pad_time(t.to(ct), Tp).view(B, N, C, H, t.shape[3]).permute(0, 3, 1, 2, 4)

    def gates(t):  # [B,H,N,C]
        return pad_time(t.to(ct), Tp).view(B, N, C, H).permute(0, 3, 1, 2)

    qc, kc, vc = chunks(q), chunks(k), chunks(v)
    gc, bc = gates(g), gates(beta)
    P = gc.cumsum(-1)
    D = segment_sums(gc, -1).exp()  # [B,H,N,C,C], causal decays

    # UT transform: (I + A) [W U] = diag(b) [K * exp(P), V], A strictly lower triangular.
    A = ((kc @ kc.transpose(-1, -2)) * D * bc.unsqueeze(-1)).tril(-1)
    rhs = torch.cat([kc * (bc * P.exp()).unsqueeze(-1), vc * bc.unsqueeze(-1)], -1)
    eye = torch.eye(C, dtype=ct, device=q.device)
    WU = torch.linalg.solve_triangular(A + eye, rhs, upper=False, left=True, unitriangular=True)
    W, U = WU[..., :K], WU[..., K:]

    k_to_end = kc * suffix_sums(gc, -1).exp().unsqueeze(-1)
    chunk_decay = P[..., C - 1].exp().view(B, H, N, 1, 1)
    S = h0.to(ct) if h0 is not None else q.new_zeros(B, H, K, V, dtype=ct)
    entering, updates = [], []
    for n in range(N):
        entering.append(S)
        u = U[:, :, n] - W[:, :, n] @ S  # the chunk's delta-rule updates given S entering it
        updates.append(u)
        S = S * chunk_decay[:, :, n] + k_to_end[:, :, n].transpose(-1, -2) @ u
    S_in, Un = torch.stack(entering, 2), torch.stack(updates, 2)

    o = (qc * P.exp().unsqueeze(-1)) @ S_in + ((qc @ kc.transpose(-1, -2)) * D) @ Un
    o = (o * scale).permute(0, 2, 3, 1, 4).reshape(B, Tp, H, V)
    return o[:, :T], S


def gated_delta_step(q, k, v, g, beta, scale, h0):
    """One token: S' = a S; u = b (v - S'^T k); S = S' + k u^T; o = scale S^T q."""
    ct = compute_dtype(q)
    B, _, H, K = q.shape
    V = v.shape[3]
    S = h0.to(ct) if h0 is not None else q.new_zeros(B, H, K, V, dtype=ct)
    q_t, k_t = q[:, 0].to(ct).unsqueeze(-2), k[:, 0].to(ct).unsqueeze(-2)
    v_t = v[:, 0].to(ct)
    S = S * g[:, 0].to(ct).exp().view(B, H, 1, 1)
    u = beta[:, 0].to(ct).unsqueeze(-1) * (v_t - (k_t @ S).squeeze(-2))
    S = S + k_t.transpose(-1, -2) * u.unsqueeze(-2)
    o = (q_t @ S).squeeze(-2) * scale
    return o.unsqueeze(1), S


# ---- Causal depthwise convolution -----------------------------------------------------------------
#   y_t[c] = sum_{w<W} x_{t-W+1+w}[c] * taps_t[c, w]     (x before the input from `cache`, else 0)
# x [B,T,C]; taps [C,W] (static) or [B,T,C,W] (one kernel per token); cache [B,W-1,C] or None.
# Returns y (x's dtype) and the new cache (the last W-1 inputs).


def causal_conv(x, taps, cache):
    B, T, C = x.shape
    W = taps.shape[-1]
    past = cache.to(x.dtype) if cache is not None else x.new_zeros(B, W - 1, C)
    xp = torch.cat([past, x], 1)
    y = xp[:, 0:T] * taps[..., 0]
    for w in range(1, W):
        y = y + xp[:, w : w + T] * taps[..., w]
    return y.to(x.dtype), xp[:, T:].clone()
