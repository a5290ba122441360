# The Python side's tests: hybrids exported by the `hybridize` binary, run by transformers through
# the modeling code they ship, against what hybridize computes. Data comes from ../shared/data
# beside the checkout (or $HYB_SHARED); without it the tests skip, except under CI=true where a
# missing file is a failure. The binary is $HYB_BIN, else build/hybridize.
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
UNDER_CI = os.environ.get("CI") == "true"

# (name, model directory, tokenizer directory for distillation, layers to replace). The fixtures
# have no tokenizer of their own; their 512-row vocabulary is stories260K's size, so its tokenizer
# feeds them text.
MODELS = [
    ("stories260K", "data/models/stories260K/hf", "data/models/stories260K/hf", "1,3"),
    ("tiny-qwen2", "data/fixtures/tiny-qwen2", "data/models/stories260K/hf", "0,2"),
    ("tiny-llama3", "data/fixtures/tiny-llama3", "data/models/stories260K/hf", "0,2"),
]
MIXERS = ["gla", "gdn", "jet"]
CORPUS = "data/corpora/tinystories/tinystories_val.txt"


def missing(what):
    if UNDER_CI:
        pytest.fail(f"missing {what} under CI=true")
    pytest.skip(f"missing {what}")


def shared(rel):
    base = pathlib.Path(os.environ["HYB_SHARED"]) if "HYB_SHARED" in os.environ else ROOT.parent / "shared"
    p = base / rel
    if not p.exists():
        missing(p)
    return p


@pytest.fixture(scope="session")
def binary():
    b = pathlib.Path(os.environ.get("HYB_BIN", ROOT / "build" / "hybridize"))
    if not b.exists():
        missing(f"the hybridize binary ({b}; build it first)")
    return b


def run(binary, *args):
    r = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"hybridize {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r.stdout


@pytest.fixture(scope="session")
def distilled(binary, tmp_path_factory):
    """Builds on first use, then reuses, the distilled modules (linear.safetensors) of (model, mixer):
    a few distillation steps (the modules' values only need to be their own, not the parent's).
    `layers`: which layers (default: the model's in MODELS); `norm_eps`: distill's --norm-eps."""
    made = {}

    def get(model, mixer, layers=None, norm_eps=None):
        key = (model, mixer, layers, norm_eps)
        if key not in made:
            _, model_rel, tok_rel, default_layers = next(m for m in MODELS if m[0] == model)
            out = tmp_path_factory.mktemp(f"{model}-{mixer}") / "distill"
            eps = ["--norm-eps", norm_eps] if norm_eps else []
            run(binary, "distill", "--model", shared(model_rel), "--tokenizer", shared(tok_rel), "--data",
                shared(CORPUS), "--mixer", mixer, "--layers", layers or default_layers, "--tokens", 4 * 4 * 32,
                "--seq-len", 32, "--batch-size", 4, "--eval-sequences", 1, "--lr", 1e-2, "--device", "cpu",
                "--no-progress", *eps, "--out", out)
            made[key] = out / "linear.safetensors"
        return made[key]

    return get


@pytest.fixture(scope="session")
def hybrids(binary, distilled, tmp_path_factory):
    """Builds on first use, then reuses, the hybrid of (model, mixer): the distilled modules exported
    `to` a format (hybridize, or fla), replacing `layers` (default: the model's in MODELS)."""
    made = {}

    def get(model, mixer, to="hybridize", layers=None, norm_eps=None):
        key = (model, mixer, to, layers, norm_eps)
        if key not in made:
            _, model_rel, _, default_layers = next(m for m in MODELS if m[0] == model)
            out = tmp_path_factory.mktemp(f"{model}-{mixer}-{to}") / "hybrid"
            run(binary, "export", "--model", shared(model_rel), "--linear", distilled(model, mixer, layers, norm_eps),
                "--layers", layers or default_layers, "--to", to, "--out", out)
            made[key] = out
        return made[key]

    return get
