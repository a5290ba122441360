#!/usr/bin/env python3
"""Decode throughput of Hugging Face transformers' `generate` on a shape-true random model, for
comparison with `hybridize bench` on the same (context, batch) shapes. A throwaway reference run on
the GPU machine (transformers is installed there); not a dependency of the build or the tests.

  python3 tools/hf_generate_bench.py --config llama-3.2-3b-instruct.json --shapes 512x64,2048x32 --out hf.json

Protocol as bench's: bf16, random prompt ids, greedy, `--new-tokens` new tokens (EOS disabled),
prefill timed as a generate of one token, decode = (B * (N - 1)) / (t_N - t_1), one warm-up first.
Two configurations (`--modes`): `eager` (the dynamic cache, no compilation) and `static-compile`,
transformers' documented fast path: a static KV cache (`cache_implementation="static"`) and the
forward compiled with `torch.compile(mode="reduce-overhead", fullgraph=True)` (CUDA graphs). A
static cache has the length of the whole generation, so both timed generates (1 and N new tokens)
are run once untimed first at every shape: their compilations are not counted.
"""
import argparse, json, time

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def timed_generate(model, ids, n):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                         do_sample=False, eos_token_id=None, pad_token_id=0)
    torch.cuda.synchronize()
    assert out.shape[1] == ids.shape[1] + n
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--shapes", default="512x64,2048x32,16384x8,65536x2", help="CONTEXTxBATCH,...")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--modes", default="eager,static-compile", help="eager and/or static-compile")
    ap.add_argument("--out")
    a = ap.parse_args()
    cfg = AutoConfig.from_pretrained(a.config)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16, attn_implementation="sdpa")
    model.eval()
    rows = []
    for mode in a.modes.split(","):
        if mode == "static-compile":
            model.generation_config.cache_implementation = "static"
            model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
        elif mode != "eager":
            raise SystemExit(f"--modes: unknown mode {mode!r} (eager, static-compile)")
        gen = torch.Generator(device="cuda").manual_seed(0)
        timed_generate(model, torch.randint(0, cfg.vocab_size, (1, 64), device="cuda", generator=gen), 8)  # warm-up
        for shape in a.shapes.split(","):
            ctx, batch = (int(x) for x in shape.split("x"))
            ids = torch.randint(0, cfg.vocab_size, (batch, ctx), device="cuda", generator=gen)
            with torch.no_grad():
                if mode == "static-compile":  # compile both cache lengths first
                    timed_generate(model, ids, 1)
                    timed_generate(model, ids, a.new_tokens)
                t1 = timed_generate(model, ids, 1)
                torch.cuda.reset_peak_memory_stats()
                tn = timed_generate(model, ids, a.new_tokens)
            row = {"mode": mode, "context": ctx, "batch": batch, "prefill_tok_s": batch * ctx / t1,
                   "decode_tok_s": batch * (a.new_tokens - 1) / (tn - t1),
                   "peak_memory_bytes": torch.cuda.max_memory_allocated(),
                   "transformers": __import__("transformers").__version__, "torch": torch.__version__}
            print(json.dumps(row), flush=True)
            rows.append(row)
            if a.out:
                json.dump(rows, open(a.out, "w"), indent=2)


if __name__ == "__main__":
    main()
