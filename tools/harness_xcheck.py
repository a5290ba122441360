#!/usr/bin/env python3
"""Cross-check `hybridize eval` against EleutherAI's lm-evaluation-harness on the same requests.

It needs lm_eval (its HFLM class only: torch, transformers, accelerate, jinja2, yaml, requests)
and never downloads anything. Two checks:

  ll MODEL_DIR SAMPLES.jsonl...   every (context, continuation) of `hybridize eval --samples` files
                                   is scored by the harness's HFLM.loglikelihood; reports the largest
                                   |log-likelihood difference|, is_greedy and continuation-token
                                   mismatches, and acc / acc_norm recomputed from the harness's values.
  tok TOKENIZER_DIR REQUESTS.jsonl token ids of dumped requests ({"context", "continuation",
                                   "ctx_ids", "cont_ids"} lines) against the harness's own request
                                   splitting (TemplateLM.loglikelihood -> _encode_pair, and HFLM's
                                   tok_encode rules) over the `tokenizers` library (no torch needed).

Options come from the environment: DEVICE (cuda/cpu), BATCH (HFLM batch size, default 64).
"""
import json
import os
import sys


class Req:  # HFLM.loglikelihood reads only .args
    def __init__(self, args):
        self.args = args


def hflm(model_dir, tokenizer_dir=None):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=model_dir, tokenizer=tokenizer_dir or model_dir, device=os.environ.get("DEVICE", "cuda"),
                dtype="float32", batch_size=int(os.environ.get("BATCH", "64")))


def harness_encoding(lm, context, continuation):
    # The same split HFLM.loglikelihood makes (lm_eval/api/model.py TemplateLM.loglikelihood).
    if context == "":
        cont = lm.tok_encode(continuation, add_special_tokens=False)
        return ([lm.prefix_token_id], cont) if lm.prefix_token_id != cont[0] else (cont[:1], cont[1:])
    return lm._encode_pair(context, continuation)


def check_ll(model_dir, files):
    lm = hflm(model_dir)
    worst_all = 0.0
    for path in files:
        docs = [json.loads(line) for line in open(path)]
        reqs = [(r["context"], r["continuation"]) for d in docs for r in d["requests"]]
        theirs = lm.loglikelihood([Req(a) for a in reqs], disable_tqdm=True)
        ours = [r for d in docs for r in d["requests"]]
        worst, greedy_diff, tok_diff = 0.0, 0, 0
        for (ll, greedy), mine, (c, t) in zip(theirs, ours, reqs):
            worst = max(worst, abs(ll - mine["loglikelihood"]))
            greedy_diff += bool(greedy) != mine["is_greedy"]
            tok_diff += list(harness_encoding(lm, c, t)[1]) != mine["continuation_ids"]
        # acc / acc_norm from the harness's log-likelihoods, by the harness's formulas.
        k, acc, acc_norm, acc_ours = 0, 0, 0, 0
        for d in docs:
            lls = [ll for ll, _ in theirs[k:k + len(d["requests"])]]
            k += len(d["requests"])
            acc_ours += d["acc"]
            if "gold" not in d:
                acc += theirs[k - 1][1]
                continue
            norm = [ll / len(r["continuation"][1:]) for ll, r in zip(lls, d["requests"])]
            acc += lls.index(max(lls)) == d["gold"]
            acc_norm += norm.index(max(norm)) == d["gold"]
        n = len(docs)
        print(f"{os.path.basename(path):28s} docs {n:4d} requests {len(reqs):5d} max|dll| {worst:.2e} "
              f"greedy-diff {greedy_diff} token-diff {tok_diff} | harness acc {acc / n:.4f} "
              f"acc_norm {acc_norm / n:.4f} | ours acc {acc_ours / n:.4f}")
        worst_all = max(worst_all, worst)
    print(f"largest |log-likelihood difference| over all files: {worst_all:.3e}")


def token_lm(tokenizer_dir):
    """The harness's TemplateLM over a tokenizers.Tokenizer, as HFLM drives a fast tokenizer."""
    from tokenizers import Tokenizer
    from lm_eval.api.model import TemplateLM

    tk = Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    cfg = json.load(open(os.path.join(tokenizer_dir, "tokenizer_config.json")))

    def token_id(key):
        t = cfg.get(key)
        t = t["content"] if isinstance(t, dict) else t
        return tk.token_to_id(t) if t else None

    bos, eos = token_id("bos_token"), token_id("eos_token")

    class TokenLM(TemplateLM):
        backend = "causal"
        eot_token_id = eos
        prefix_token_id = bos if bos is not None else eos

        def tok_encode(self, string, add_special_tokens=None, **kwargs):
            # HFLM.tok_encode: the tokenizer's default, except when the text already starts with
            # the prefix token's text (has_bos_prefix).
            if add_special_tokens is None:
                add_special_tokens = not string.startswith(tk.decode([self.prefix_token_id], skip_special_tokens=False))
            return tk.encode(string, add_special_tokens=add_special_tokens).ids

        def _loglikelihood_tokens(self, requests, **kwargs):
            return [(ctx, cont) for _, ctx, cont in requests]

        def loglikelihood_rolling(self, requests, **kwargs):
            raise NotImplementedError

        def generate_until(self, requests, **kwargs):
            raise NotImplementedError

    return TokenLM()


def check_tok(tokenizer_dir, path):
    lm = token_lm(tokenizer_dir)
    rows = [json.loads(line) for line in open(path)]
    encodings = lm.loglikelihood([Req((r["context"], r["continuation"])) for r in rows], disable_tqdm=True)
    n = bad = 0
    for r, (ctx, cont) in zip(rows, encodings):
        n += 1
        if list(ctx) != r["ctx_ids"] or list(cont) != r["cont_ids"]:
            bad += 1
            if bad <= 5:
                print("MISMATCH", r["task"], repr(r["context"][-60:]), repr(r["continuation"][:40]),
                      "harness", ctx[-8:], cont[:8], "ours", r["ctx_ids"][-8:], r["cont_ids"][:8])
    print(f"{tokenizer_dir}: {n} requests, {bad} differ")


if __name__ == "__main__":
    if sys.argv[1] == "ll":
        check_ll(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "tok":
        check_tok(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
