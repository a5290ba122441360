#!/usr/bin/env python3
"""The fused CUDA kernels of src/linear/ops/cuda, outside the C++ build, beside their peer.

Builds each op's .cu file alone into a shared library (nvcc, seconds, no LibTorch), calls it
through ctypes on torch tensors, and
  --check  compares outputs, final states and every gradient with the fp64 token-by-token
           recurrence (torch autograd through the loop) on the same bf16-rounded inputs;
  --time   times forward and forward+backward against flash-linear-attention's Triton kernels
           (fla.ops.gla.chunk_gla, fla.ops.gated_delta_rule.chunk_gated_delta_rule) in the same
           process on the same inputs: medians of CUDA-event timings (triton.testing.do_bench).
The GoogleTest suite (tests/linear/fused_kernels_test.cpp) checks the same kernels through the
LibTorch glue; this script is the quick loop for kernel work and the peer comparison.

  python3 bench/fused_kernels.py --check --time --json out.json
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUDA_DIR = os.path.join(ROOT, "src", "linear", "ops", "cuda")

# ---- building ----------------------------------------------------------------------------------
# One extern "C" shim per op, so that ctypes finds unmangled names.
SHIMS = {
    "gla": """
#include "linear/ops/cuda/gla_kernels.h"
using namespace hyb::ops::cuda;
extern "C" {
int c_supported(int K, int V) { return gla_fused_supported(K, V); }
size_t c_saved(int B, int T, int H, int Hk, int K, int V) { return gla_fwd_saved_bytes(B, T, H, Hk, K, V); }
size_t c_work(int B, int T, int H, int Hk, int K, int V) { return gla_bwd_workspace_bytes(B, T, H, Hk, K, V); }
int c_fwd(const void* q, const void* k, const void* v, const float* g, const float* h0, float scale,
          int B, int T, int H, int Hk, int K, int V, void* o, float* ht, void* saved, void* s) {
  return gla_fwd(q, k, v, g, h0, scale, B, T, H, Hk, K, V, o, ht, saved, s); }
int c_bwd(const void* q, const void* k, const void* v, const float* g, const float* h0, const void* saved,
          const void* d_o, const float* dht, float scale, int B, int T, int H, int Hk, int K, int V,
          void* dq, void* dk, void* dv, float* dg, float* dh0, void* w, void* s) {
  return gla_bwd(q, k, v, g, h0, saved, d_o, dht, scale, B, T, H, Hk, K, V, dq, dk, dv, dg, dh0, w, s); }
}
""",
    "gated_delta": """
#include "linear/ops/cuda/gated_delta_kernels.h"
using namespace hyb::ops::cuda;
extern "C" {
int c_supported(int K, int V) { return gated_delta_fused_supported(K, V); }
size_t c_saved(int B, int T, int H, int K, int V) { return gated_delta_fwd_saved_bytes(B, T, H, K, V); }
size_t c_work(int B, int T, int H, int K, int V) { return gated_delta_bwd_workspace_bytes(B, T, H, K, V); }
int c_fwd(const void* q, const void* k, const void* v, const float* g, const float* beta, const float* h0,
          float scale, int B, int T, int H, int K, int V, void* o, float* ht, void* saved, void* s) {
  return gated_delta_fwd(q, k, v, g, beta, h0, scale, B, T, H, K, V, o, ht, saved, s); }
int c_bwd(const void* q, const void* k, const void* v, const float* g, const float* beta, const float* h0,
          const void* saved, const void* d_o, const float* dht, float scale, int B, int T, int H, int K, int V,
          void* dq, void* dk, void* dv, float* dg, float* dbeta, float* dh0, void* w, void* s) {
  return gated_delta_bwd(q, k, v, g, beta, h0, saved, d_o, dht, scale, B, T, H, K, V, dq, dk, dv, dg, dbeta, dh0, w, s); }
}
""",
}


def build(op, build_dir):
    src = os.path.join(CUDA_DIR, f"{op}_kernels.cu")
    shim = os.path.join(build_dir, f"{op}_shim.cu")
    lib = os.path.join(build_dir, f"lib{op}.so")
    with open(shim, "w") as f:
        f.write(SHIMS[op])
    cmd = ["nvcc", "-std=c++17", "-O3", "-gencode=arch=compute_90a,code=sm_90a", "-Xptxas", "-v",
           "--shared", "-Xcompiler", "-fPIC", "-I", os.path.join(ROOT, "src"), src, shim, "-o", lib]
    r = subprocess.run(cmd, capture_output=True, text=True)
    with open(os.path.join(build_dir, f"{op}_build.log"), "w") as f:
        f.write(r.stdout + r.stderr)
    if r.returncode != 0:
        print(r.stderr[-4000:])
        raise SystemExit(f"{op}: nvcc failed")
    L = ctypes.CDLL(lib)
    L.c_saved.restype = L.c_work.restype = ctypes.c_size_t
    return L


def P(t):  # a tensor (or None) as a pointer argument
    return ctypes.c_void_p(0 if t is None else t.data_ptr())


def stream():
    return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)


def call(rc, what):
    if rc != 0:
        raise RuntimeError(f"{what}: CUDA error {rc}")


# ---- the ops through ctypes --------------------------------------------------------------------
class Op:
    """One op's library (self.L) and how to draw inputs for it."""

    def __init__(self, L):
        self.L = L

    @staticmethod
    def randn(gen, *shape):
        return torch.randn(*shape, device="cuda", generator=gen)


class Gla(Op):
    name = "gla"

    def inputs(self, B, T, H, Hk, D, h0, gen):
        bf = torch.bfloat16
        q, k, v = (self.randn(gen, B, T, h, D).to(bf) for h in (H, Hk, Hk))
        # the module's gates: logsigmoid(x) / 16, here with x spread wide (some gates near -1)
        g = torch.nn.functional.logsigmoid(4 * self.randn(gen, B, T, Hk, D)) / 16
        s0 = self.randn(gen, B, Hk, D, D) if h0 else None
        return dict(q=q, k=k, v=v, g=g.float(), h0=s0)

    def fwd(self, x, scale):
        q, k, v, g, h0 = x["q"], x["k"], x["v"], x["g"], x["h0"]
        B, T, H, K = q.shape
        Hk, V = k.shape[2], v.shape[3]
        o = torch.empty(B, T, H, V, device="cuda", dtype=torch.bfloat16)
        ht = torch.empty(B, Hk, K, V, device="cuda")
        saved = torch.empty(self.L.c_saved(B, T, H, Hk, K, V), device="cuda", dtype=torch.uint8)
        call(self.L.c_fwd(P(q), P(k), P(v), P(g), P(h0), ctypes.c_float(scale), B, T, H, Hk, K, V,
                          P(o), P(ht), P(saved), stream()), "gla_fwd")
        return o, ht, saved

    def bwd(self, x, saved, do, dht, scale):
        q, k, v, g, h0 = x["q"], x["k"], x["v"], x["g"], x["h0"]
        B, T, H, K = q.shape
        Hk, V = k.shape[2], v.shape[3]
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        dg = torch.empty_like(g)
        dh0 = torch.empty_like(h0) if h0 is not None else None
        work = torch.empty(self.L.c_work(B, T, H, Hk, K, V), device="cuda", dtype=torch.uint8)
        call(self.L.c_bwd(P(q), P(k), P(v), P(g), P(h0), P(saved), P(do), P(dht), ctypes.c_float(scale),
                          B, T, H, Hk, K, V, P(dq), P(dk), P(dv), P(dg), P(dh0), P(work), stream()), "gla_bwd")
        return dict(q=dq, k=dk, v=dv, g=dg, h0=dh0)

    @staticmethod
    def naive(x, scale):  # fp64, the recurrence token by token (ops/gla_naive.cpp)
        q, k, v, g, h0 = x["q"], x["k"], x["v"], x["g"], x["h0"]
        B, T, H, K = q.shape
        Hk, V = k.shape[2], v.shape[3]
        G = H // Hk
        S = h0 if h0 is not None else torch.zeros(B, Hk, K, V, dtype=q.dtype, device=q.device)
        out = []
        for t in range(T):
            S = S * g[:, t].exp().unsqueeze(-1) + k[:, t].unsqueeze(-1) * v[:, t].unsqueeze(-2)
            qt = q[:, t].reshape(B, Hk, G, K) * scale
            out.append(torch.einsum("bhgk,bhkv->bhgv", qt, S).reshape(B, H, V))
        return torch.stack(out, 1), S

    @staticmethod
    def fla(x, scale):
        from fla.ops.gla import chunk_gla
        q, k, v, g = x["q"], x["k"], x["v"], x["g"]
        G = q.shape[2] // k.shape[2]
        if G > 1:  # fla has no grouped queries: repeat k, v and the gates per query head
            k, v, g = (t.repeat_interleave(G, 2) for t in (k, v, g))
        return chunk_gla(q, k, v, g, scale=scale, initial_state=x["h0"], output_final_state=True)[0]


class GatedDelta(Op):
    name = "gated_delta"

    def inputs(self, B, T, H, Hk, D, h0, gen):
        bf = torch.bfloat16
        q, k = (torch.nn.functional.normalize(self.randn(gen, B, T, H, D), dim=-1).to(bf) for _ in range(2))
        v = self.randn(gen, B, T, H, D).to(bf)
        # the module's decay: -exp(A_log) softplus(a + dt_bias), here spread from ~0 to ~-3
        g = -torch.rand(B, T, H, device="cuda", generator=gen).mul(4).exp().sub(1).mul(0.06)
        beta = torch.sigmoid(self.randn(gen, B, T, H))
        s0 = self.randn(gen, B, H, D, D) if h0 else None
        return dict(q=q, k=k, v=v, g=g.float(), beta=beta.float(), h0=s0)

    def fwd(self, x, scale):
        q, k, v, g, b, h0 = x["q"], x["k"], x["v"], x["g"], x["beta"], x["h0"]
        B, T, H, K = q.shape
        V = v.shape[3]
        o = torch.empty(B, T, H, V, device="cuda", dtype=torch.bfloat16)
        ht = torch.empty(B, H, K, V, device="cuda")
        saved = torch.empty(self.L.c_saved(B, T, H, K, V), device="cuda", dtype=torch.uint8)
        call(self.L.c_fwd(P(q), P(k), P(v), P(g), P(b), P(h0), ctypes.c_float(scale), B, T, H, K, V,
                          P(o), P(ht), P(saved), stream()), "gated_delta_fwd")
        return o, ht, saved

    def bwd(self, x, saved, do, dht, scale):
        q, k, v, g, b, h0 = x["q"], x["k"], x["v"], x["g"], x["beta"], x["h0"]
        B, T, H, K = q.shape
        V = v.shape[3]
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        dg, db = torch.empty_like(g), torch.empty_like(b)
        dh0 = torch.empty_like(h0) if h0 is not None else None
        work = torch.empty(self.L.c_work(B, T, H, K, V), device="cuda", dtype=torch.uint8)
        call(self.L.c_bwd(P(q), P(k), P(v), P(g), P(b), P(h0), P(saved), P(do), P(dht), ctypes.c_float(scale),
                          B, T, H, K, V, P(dq), P(dk), P(dv), P(dg), P(db), P(dh0), P(work), stream()),
             "gated_delta_bwd")
        return dict(q=dq, k=dk, v=dv, g=dg, beta=db, h0=dh0)

    @staticmethod
    def naive(x, scale):  # fp64 (ops/gated_delta_naive.cpp)
        q, k, v, g, b, h0 = x["q"], x["k"], x["v"], x["g"], x["beta"], x["h0"]
        B, T, H, K = q.shape
        V = v.shape[3]
        S = h0 if h0 is not None else torch.zeros(B, H, K, V, dtype=q.dtype, device=q.device)
        out = []
        for t in range(T):
            S = S * g[:, t].exp()[..., None, None]
            kt = k[:, t]
            u = b[:, t, :, None] * (v[:, t] - torch.einsum("bhk,bhkv->bhv", kt, S))
            S = S + kt.unsqueeze(-1) * u.unsqueeze(-2)
            out.append(torch.einsum("bhk,bhkv->bhv", q[:, t] * scale, S))
        return torch.stack(out, 1), S

    @staticmethod
    def fla(x, scale):
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule
        return chunk_gated_delta_rule(x["q"], x["k"], x["v"], x["g"], x["beta"], scale=scale,
                                      initial_state=x["h0"], output_final_state=True)[0]


# ---- checks ------------------------------------------------------------------------------------
def rel(a, b):
    """||a - b|| / ||b||, or ||a - b|| where b is exactly zero (dg at T = 1 with no state)."""
    a, b = a.double(), b.double()
    if not torch.isfinite(a).all():
        return float("nan")
    n = b.norm().item()
    return ((a - b).norm() / n).item() if n > 0 else (a - b).norm().item()


def check(op, B, T, H, Hk, D, h0, grads, seed):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    x = op.inputs(B, T, H, Hk, D, h0, gen)
    scale = D ** -0.5
    o, ht, saved = op.fwd(x, scale)
    # fp64 reference on the same (bf16-rounded) inputs
    xr = {n: (t.double().requires_grad_(grads) if t is not None else None) for n, t in x.items()}
    o_ref, ht_ref = op.naive(xr, scale)
    res = dict(o=rel(o, o_ref), ht=rel(ht, ht_ref))
    if grads:
        do = torch.randn(o.shape, device="cuda", generator=gen).to(torch.bfloat16)
        dht = torch.randn(ht.shape, device="cuda", generator=gen) if h0 else None
        ours = op.bwd(x, saved, do, dht, scale)
        loss = (o_ref * do.double()).sum() + ((ht_ref * dht.double()).sum() if dht is not None else 0)
        loss.backward()
        for n, t in xr.items():
            if t is not None:
                res["d" + n] = rel(ours[n], t.grad)
    return res


def run_checks(ops, grads_up_to):
    rows, worst = [], 0.0
    shapes = [(2, T, 4, hk, 128, h0) for T in (1, 63, 64, 65, 1000) for hk in (4, 2) for h0 in (False, True)]
    shapes += [(2, 65, 4, 2, 64, True), (1, 4096, 2, 1, 128, True)]
    for op in ops:
        for i, (B, T, H, Hk, D, h0) in enumerate(shapes):
            if op.name == "gated_delta":
                if Hk != H and B == 2 and D == 128:
                    continue  # no grouped queries in the gated delta rule: the Hk == H twin covers it
                Hk = H
            grads = T <= grads_up_to
            try:
                r = check(op, B, T, H, Hk, D, h0, grads, seed=1000 + i)
            except RuntimeError as e:
                r = dict(error=str(e))
            row = dict(op=op.name, B=B, T=T, H=H, Hk=Hk, D=D, h0=h0, **r)
            rows.append(row)
            errs = [v for k, v in r.items() if k != "error"]
            bad = "error" in r or any(not (e <= 2e-2) for e in errs)
            worst = max([worst] + [e for e in errs if e == e])
            print(("FAIL " if bad else "ok   ") + " ".join(f"{k}={v:.2e}" if isinstance(v, float) else f"{k}={v}"
                                                        for k, v in row.items()), flush=True)
    return rows


# ---- timing ------------------------------------------------------------------------------------
def time_ops(ops, shapes):
    """Medians in ms, in three passes so that the cheap numbers land first: ours (forward, then
    forward+backward) on every shape, then fla's forward, then fla's forward+backward (fla's Triton
    kernels autotune and compile on first use: minutes for the backward). Every number is printed as
    soon as it is measured, so that a run stopped at its time limit keeps what it had."""
    from triton.testing import do_bench
    cases = []
    for op in ops:
        for (B, T, H, Hk) in shapes:
            if op.name == "gated_delta" and Hk != H:
                continue
            gen = torch.Generator(device="cuda").manual_seed(7)
            x = op.inputs(B, T, H, Hk, 128, False, gen)
            do = torch.randn(B, T, H, 128, device="cuda", generator=gen).to(torch.bfloat16)
            xf = {n: (t.clone().requires_grad_(True) if t is not None and t.is_floating_point() else t)
                  for n, t in x.items()}
            cases.append((op, dict(op=op.name, B=B, T=T, H=H, Hk=Hk, D=128), x, xf, do))
    scale = 128 ** -0.5

    def measure(row, name, fn):
        try:
            row[name] = do_bench(fn, warmup=50, rep=300, return_mode="median")
        except Exception as e:  # noqa: BLE001 (a missing backward, or fla refusing a shape, says so)
            row[name] = f"error: {type(e).__name__}: {str(e)[:200]}"
        v = row[name]
        print(" ".join(f"{k}={row[k]}" for k in ("op", "B", "T", "H", "Hk")), name,
              f"{v:.3f}" if isinstance(v, float) else v, flush=True)

    for op, row, x, xf, do in cases:
        def ours_fwdbwd(op=op, x=x, do=do):
            o, ht, saved = op.fwd(x, scale)
            op.bwd(x, saved, do, None, scale)
        measure(row, "ours_fwd_ms", lambda op=op, x=x: op.fwd(x, scale))
        measure(row, "ours_fwdbwd_ms", ours_fwdbwd)
    for op, row, x, xf, do in cases:
        def fla_fwd(op=op, xf=xf):
            with torch.no_grad():
                return op.fla(xf, scale)
        measure(row, "fla_fwd_ms", fla_fwd)
    for op, row, x, xf, do in cases:
        def fla_fwdbwd(op=op, xf=xf, do=do):
            op.fla(xf, scale).backward(do)
        measure(row, "fla_fwdbwd_ms", fla_fwdbwd)
    return [row for _, row, _, _, _ in cases]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", default="gla,gated_delta")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--grads-up-to", type=int, default=4096, help="check gradients for T up to this")
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--shapes", default="4x2048x12x12,4x2048x12x2,1x16384x12x12,1x16384x12x2",
                    help="timed shapes, BxTxHxHk (head dim 128)")
    ap.add_argument("--json", help="write every row here")
    ap.add_argument("--build-dir", default=None)
    a = ap.parse_args()
    build_dir = a.build_dir or tempfile.mkdtemp(prefix="hyb-kernels-")
    os.makedirs(build_dir, exist_ok=True)
    ops = []
    for name in a.ops.split(","):
        try:
            L = build(name, build_dir)
        except SystemExit as e:
            print(e)
            continue
        ops.append({"gla": Gla, "gated_delta": GatedDelta}[name](L))
    print("device:", torch.cuda.get_device_name(), "torch", torch.__version__, flush=True)
    out = dict(device=torch.cuda.get_device_name())
    if a.time:
        shapes = [tuple(int(x) for x in sh.split("x")) for sh in a.shapes.split(",")]
        out["times"] = time_ops(ops, shapes)
    if a.check:
        out["checks"] = run_checks(ops, a.grads_up_to)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
