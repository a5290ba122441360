# Loads a model directory written by `hybridize export --to fla` with flash-linear-attention's own
# model classes and, unless --load-only, writes its logits for the input_ids of --ids (a safetensors
# file, as `hybridize logits` writes) to --out. Run as its own process by test_fla_export.py, so that
# fla's imports and the flash-attn stand-in below stay out of the other tests.
#
# fla's Attention layer (the hybrid's kept attention layers) calls flash-attn's flash_attn_func, and
# flash-attn has no wheel for this torch on PyPI. The stand-in computes the same causal softmax
# attention with torch's SDPA, so what is checked is fla's model classes and layers with our
# weights and config: every part but that one attention kernel.
import argparse
import importlib.machinery
import json
import sys
import types

import torch
import torch.nn.functional as F


def flash_attn_func(q, k, v, causal=False, window_size=(-1, -1), softmax_scale=None, **_):
    """flash-attn's layout, [B, T, H, d] with Hk <= H key/value heads; a causal mask aligned to the
    bottom right (query i sees keys up to i + S - T), as flash-attn does."""
    if window_size != (-1, -1):
        raise NotImplementedError("the flash-attn stand-in has no sliding window")
    T, S = q.shape[1], k.shape[1]
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    groups = qt.shape[1] // kt.shape[1]
    kt, vt = kt.repeat_interleave(groups, 1), vt.repeat_interleave(groups, 1)
    mask = None
    if causal:
        i = torch.arange(T, device=q.device)[:, None]
        j = torch.arange(S, device=q.device)[None, :]
        mask = j <= i + (S - T)
    o = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, scale=softmax_scale)
    return o.transpose(1, 2)


def flash_attn_varlen_func(*_, **__):
    raise NotImplementedError("the flash-attn stand-in covers unpadded batches only")


def install_flash_attn_stand_in():
    m = types.ModuleType("flash_attn")
    m.__spec__ = importlib.machinery.ModuleSpec("flash_attn", loader=None)
    m.flash_attn_func, m.flash_attn_varlen_func = flash_attn_func, flash_attn_varlen_func
    sys.modules["flash_attn"] = m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--ids", help="safetensors file with input_ids [B,T]")
    ap.add_argument("--out", help="safetensors file for logits [B,T,V] (fp32)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--load-only", action="store_true")
    a = ap.parse_args()

    install_flash_attn_stand_in()
    import fla  # noqa: F401  (registers fla's configs and models with transformers' Auto classes)
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM

    model, info = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, output_loading_info=True)
    report = {"class": type(model).__name__,
              **{k: sorted(info.get(k) or []) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}}
    if not a.load_only:
        model = model.to(a.device).eval()
        ids = load_file(a.ids)["input_ids"].to(a.device)
        with torch.no_grad():
            logits = model(ids).logits.float().cpu()
        save_file({"logits": logits.contiguous()}, a.out)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
