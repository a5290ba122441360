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

  tasks TASKS_DIR DUMP.jsonl [RESULTS.json SAMPLES.jsonl]
                                   the harness's own task definitions (its YAML, templates and
                                   utils.py, ConfigurableTask.build_all_requests) over our task
                                   files: every (context, continuation) of a `--dump-requests` file
                                   must be the harness's. With a results file and its samples file,
                                   also the harness's metrics (process_results, aggregation, stderr)
                                   on our log-likelihoods against ours. Needs `datasets`, `sacrebleu`.

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


def hellaswag_jsonl(text_file, out):
    """llama.cpp's HellaSwag text -> Hugging Face fields, by the rule of src/eval/docs.cpp."""
    import bz2

    lines = (bz2.open(text_file, "rt") if text_file.endswith(".bz2") else open(text_file)).read().split("\n")
    with open(out, "w") as f:
        for i in range(0, len(lines) - 5, 6):
            label, ctx = lines[i].split(": ", 1)
            ctx_a, ctx_b = ctx, ""
            dot = ctx.rfind(". ")
            if dot >= 0 and dot + 2 < len(ctx) and "a" <= ctx[dot + 2] <= "z":
                ctx_a, ctx_b = ctx[:dot + 1], ctx[dot + 2:]
            f.write(json.dumps({"activity_label": label, "ctx_a": ctx_a, "ctx_b": ctx_b,
                                "endings": lines[i + 2:i + 6], "label": lines[i + 1].strip()}) + "\n")


def harness_task(name, tasks_dir, num_fewshot):
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(TaskManager().task_index[name].yaml_path, resolve_func=True)
    split = cfg.get("test_split") or cfg.get("validation_split")
    files = {}
    for s in {split, cfg.get("fewshot_split")} - {None}:
        path = os.path.join(tasks_dir, name, s + ".jsonl")
        if name == "hellaswag" and not os.path.exists(path):
            path = f"/tmp/hellaswag_{s}.jsonl"
            hellaswag_jsonl(os.path.join(tasks_dir, name, s + "_llamacpp_format.txt.bz2"), path)
        files[s] = path
    for key in ("training_split", "validation_split", "test_split"):
        if cfg.get(key) != split:
            cfg[key] = None
    cfg.update(dataset_path="json", dataset_name=None, dataset_kwargs={"data_files": files},
               num_fewshot=num_fewshot)
    cfg.pop("include", None)
    return ConfigurableTask(config=cfg)


def check_tasks(tasks_dir, dump, results=None, samples=None):
    mine = {}
    for line in open(dump):
        r = json.loads(line)
        mine.setdefault(r["task"], []).append(r)
    config = json.load(open(results)) if results else None
    lls = {}
    if samples:
        for line in open(samples):
            d = json.loads(line)
            lls[(d["task"], d["doc_id"])] = [(r["loglikelihood"], r["is_greedy"]) for r in d["requests"]]
    for name, rows in mine.items():
        n_docs = max(r["doc_id"] for r in rows) + 1
        shots = config["config"].get("num_fewshot", 0) if config else int(os.environ.get("FEWSHOT", "0"))
        task = harness_task(name, tasks_dir, shots)
        task.build_all_requests(limit=n_docs, rank=0, world_size=1)
        theirs = sorted(task.instances, key=lambda x: (x.doc_id, x.idx))
        bad = sum(tuple(i.args) != (r["context"], r["continuation"]) for i, r in zip(theirs, rows))
        bad += abs(len(theirs) - len(rows))
        line = f"{name:20s} docs {n_docs:5d} requests {len(rows):6d} differ {bad}"
        if bad:
            i, r = next((i, r) for i, r in zip(theirs, rows) if tuple(i.args) != (r["context"], r["continuation"]))
            line += f"\n   first: harness {i.args!r:.300}\n          ours    {(r['context'], r['continuation'])!r:.300}"
        if config and name in config["results"]:
            from lm_eval.api.metrics import stderr_for_metric

            docs = list(task.eval_docs)
            per_metric = {}
            for doc_id in range(n_docs):
                for k, v in task.process_results(docs[doc_id], lls[(name, doc_id)]).items():
                    per_metric.setdefault(k, []).append(v)
            agg = task.aggregation()
            for k, items in per_metric.items():
                if k not in agg:
                    continue
                value = agg[k](items)
                fn = stderr_for_metric(agg[k], bootstrap_iters=100000)  # the harness default
                err = fn(items) if fn else float("nan")
                ours = config["results"][name]
                line += (f"\n   {k:10s} harness {value:.6f} ± {err:.6f}   ours {ours[k + ',none']:.6f} ± "
                         f"{ours[k + '_stderr,none']}")
        print(line)


if __name__ == "__main__":
    if sys.argv[1] == "tasks":
        check_tasks(*sys.argv[2:])
        sys.exit()
    if sys.argv[1] == "ll":
        check_ll(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "tok":
        check_tok(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
