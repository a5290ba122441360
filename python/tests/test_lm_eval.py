# lm-evaluation-harness's own HF model class (HFLM, as `lm_eval --model hf --model_args
# pretrained=DIR,trust_remote_code=True` builds it) on an exported stories260K hybrid: every
# (context, continuation) request that `hybridize eval` scored on three tasks gets the same
# log-likelihood (within 1e-4) and the same is_greedy, so every document gets the same decision
# (acc and acc_norm). The harness's task pipeline itself needs its datasets from the Hugging Face
# hub, which CI cannot reach; hybridize eval's requests are checked against the harness's own
# templates by tools/harness_xcheck.py (docs/eval.md).
import json

import pytest

from conftest import run, shared

TASKS = "arc_easy,piqa,winogrande"


class Request:  # HFLM.loglikelihood reads only .args
    def __init__(self, args):
        self.args = args


def test_harness_loglikelihoods_match_hybridize_eval(binary, hybrids, tmp_path):
    from lm_eval.models.huggingface import HFLM

    d = hybrids("stories260K", "gdn")
    run(binary, "eval", "--model", d, "--task", TASKS, "--limit", 15, "--tasks-dir", shared("data/tasks"),
        "--device", "cpu", "--no-progress", "--samples", tmp_path / "samples.jsonl", "--out", tmp_path / "r.json")
    docs = [json.loads(line) for line in open(tmp_path / "samples.jsonl")]
    assert {doc["task"] for doc in docs} == set(TASKS.split(","))

    lm = HFLM(pretrained=str(d), trust_remote_code=True, device="cpu", dtype="float32", batch_size=16)
    requests = [(r["context"], r["continuation"]) for doc in docs for r in doc["requests"]]
    theirs = iter(lm.loglikelihood([Request(a) for a in requests], disable_tqdm=True))
    worst = 0.0
    for doc in docs:
        lls = []
        for r in doc["requests"]:
            ll, greedy = next(theirs)
            worst = max(worst, abs(ll - r["loglikelihood"]))
            assert bool(greedy) == r["is_greedy"], (doc["task"], doc["doc_id"], r["continuation"])
            lls.append(ll)
        # The harness's decisions: argmax of the log-likelihoods, and of them per code point of
        # the choice: the continuation less the target delimiter " ", or for a task whose choices
        # are contexts (winogrande: one continuation after each filled-in sentence) the context.
        reqs = doc["requests"]
        contexts_are_choices = len({r["continuation"] for r in reqs}) == 1 and len({r["context"] for r in reqs}) > 1
        choices = [r["context"] if contexts_are_choices else r["continuation"].removeprefix(" ") for r in reqs]
        norm = [ll / len(c) for ll, c in zip(lls, choices)]
        assert max(range(len(lls)), key=lls.__getitem__) == doc["prediction"], (doc["task"], doc["doc_id"])
        if doc.get("prediction_norm") is not None:
            assert max(range(len(norm)), key=norm.__getitem__) == doc["prediction_norm"], (doc["task"], doc["doc_id"])
    print(f"{len(requests)} requests of {len(docs)} documents: max |harness - hybridize eval| = {worst:.2e}")
    assert worst < 1e-4, f"max |harness - hybridize eval| log-likelihood = {worst}"
