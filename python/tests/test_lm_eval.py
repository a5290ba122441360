# lm-evaluation-harness on an exported stories260K hybrid, against `hybridize eval` on three tasks:
#  - the harness's own HF model class (HFLM, as `lm_eval --model hf --model_args
#    pretrained=DIR,trust_remote_code=True` builds it) scores every (context, continuation) request
#    of hybridize eval with the same log-likelihood (within 1e-4) and the same is_greedy;
#  - the harness's whole pipeline (simple_evaluate: its task YAMLs, templates, request building,
#    metrics) on the same documents, read from ../shared/data/tasks instead of the Hugging Face hub
#    (which CI cannot reach): a task config that includes the installed harness's own YAML and
#    replaces only where the dataset comes from. Same requests, log-likelihoods within 1e-4, the
#    same per-document acc / acc_norm and the same task scores.
import json
import pathlib

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


# The harness's task (its YAML in lm_eval/tasks), the split hybridize eval scores, and our name.
HARNESS_TASKS = [("arc_easy", "arc/arc_easy.yaml", "test"), ("piqa", "piqa/piqa.yaml", "validation"),
                 ("winogrande", "winogrande/default.yaml", "validation")]


def local_task_yaml(dir, name, harness_yaml, split, data):
    """A task named NAME_local: the harness's own YAML (`include`), with its documents read from
    `data` (a JSONL file in the hub dataset's field names) as split `split`, and no other split."""
    import lm_eval
    yaml = pathlib.Path(lm_eval.__file__).parent / "tasks" / harness_yaml
    splits = {s: (split if s == split else None) for s in ("test", "validation")}
    (dir / f"{name}_local.yaml").write_text(
        f"task: {name}_local\ninclude: {yaml}\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    {split}: {data}\n"
        f"training_split: null\nvalidation_split: {splits['validation'] or 'null'}\n"
        f"test_split: {splits['test'] or 'null'}\n")


def test_harness_pipeline_matches_hybridize_eval(binary, hybrids, tmp_path, monkeypatch):
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    d = hybrids("stories260K", "gdn")
    limit = 15
    for name, yaml, split in HARNESS_TASKS:
        local_task_yaml(tmp_path, name, yaml, split, shared(f"data/tasks/{name}/{split}.jsonl"))
    lm = HFLM(pretrained=str(d), trust_remote_code=True, device="cpu", dtype="float32", batch_size=16)
    r = lm_eval.simple_evaluate(model=lm, tasks=[f"{n}_local" for n, _, _ in HARNESS_TASKS], limit=limit,
                                log_samples=True, task_manager=TaskManager(include_path=str(tmp_path)))

    run(binary, "eval", "--model", d, "--task", ",".join(n for n, _, _ in HARNESS_TASKS), "--limit", limit,
        "--tasks-dir", shared("data/tasks"), "--device", "cpu", "--no-progress",
        "--samples", tmp_path / "samples.jsonl", "--out", tmp_path / "r.json")
    ours = {}
    for line in open(tmp_path / "samples.jsonl"):
        doc = json.loads(line)
        ours[(doc["task"], doc["doc_id"])] = doc
    results = json.loads((tmp_path / "r.json").read_text())["results"]

    worst, compared = 0.0, 0
    for name, _, _ in HARNESS_TASKS:
        theirs = r["samples"][f"{name}_local"]
        assert len(theirs) == limit
        for sample in theirs:
            doc = ours[(name, sample["doc_id"])]
            assert [tuple(a) for a in sample["arguments"]] == [(q["context"], q["continuation"]) for q in doc["requests"]]
            for (ll, greedy), q in zip(sample["filtered_resps"], doc["requests"]):
                worst = max(worst, abs(ll - q["loglikelihood"]))
                assert bool(greedy) == q["is_greedy"], (name, sample["doc_id"])
                compared += 1
            for metric in ("acc", "acc_norm"):
                if metric in sample:
                    assert sample[metric] == doc[metric], (name, sample["doc_id"], metric)
        for metric in ("acc", "acc_norm"):
            key = f"{metric},none"
            if key in r["results"][f"{name}_local"]:
                assert abs(r["results"][f"{name}_local"][key] - results[name][key]) < 1e-12, (name, metric)
    print(f"harness pipeline: {compared} requests, max |harness - hybridize eval| = {worst:.2e}")
    assert worst < 1e-4, f"max |harness - hybridize eval| log-likelihood = {worst}"
