# Exported hybrids in transformers (trust_remote_code): the same logits as hybridize on the same
# token ids, greedy generate() equal with and without the cache and equal to `hybridize generate`,
# left-padded batches equal to one sequence at a time, and no loading as a plain Llama.
import importlib.util
import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from conftest import MIXERS, MODELS, run

CASES = [(m[0], mixer) for m in MODELS for mixer in MIXERS]
NEW_TOKENS = 20


def load(d):
    model, info = AutoModelForCausalLM.from_pretrained(d, trust_remote_code=True, output_loading_info=True)
    for k in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        assert not info.get(k), f"{d}: {k} {info[k]}"
    model.eval()
    model.generation_config.eos_token_id = None  # fixed-length greedy runs, as `generate --no-stop`
    return model


def random_ids(vocab, shape, seed):
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


def ids_arg(row):
    return ",".join(str(int(t)) for t in row)


def greedy(model, ids, **kw):
    kw.setdefault("attention_mask", torch.ones_like(ids))  # never inferred from a pad id
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False, **kw)
    return out[:, ids.shape[1]:]


@pytest.mark.parametrize("model_name,mixer", CASES)
def test_config_names_the_hybrid(hybrids, model_name, mixer):
    cfg = json.loads((hybrids(model_name, mixer) / "config.json").read_text())
    assert cfg["model_type"] == "hybridize" and cfg["architectures"] == ["HybridizeForCausalLM"]
    assert cfg["parent_model_type"] == ("qwen2" if "qwen2" in model_name else "llama")
    assert cfg["linear_attention"]["kind"] == mixer
    assert cfg["linear_attention"]["norm_eps"] == 1e-6
    assert "linear_attention" in cfg["layer_types"] and "full_attention" in cfg["layer_types"]


def check_logits(binary, d, model_name, mixer, tmp_path, device, tol):
    model = load(d).to(device)
    ids = random_ids(model.config.vocab_size, (2, 80), seed=1)  # 80 tokens: two chunks of 64
    run(binary, "logits", "--model", d, "--device", "cpu", "--ids", ids_arg(ids[0]), "--ids", ids_arg(ids[1]),
        "--out", tmp_path / "logits.safetensors")
    ref = load_file(tmp_path / "logits.safetensors")
    assert torch.equal(ref["input_ids"], ids)
    ids = ids.to(device)
    with torch.no_grad():
        logits = model(ids).logits.cpu()
        # The same tokens through the cache: a prefill of 50, then one token at a time (the
        # recurrent step forms and the KV cache) must give the same logits.
        cache_out = model(ids[:, :50], use_cache=True)
        steps, past = [cache_out.logits.cpu()], cache_out.past_key_values
        for t in range(50, 80):
            o = model(ids[:, t:t + 1], past_key_values=past, use_cache=True)
            steps.append(o.logits.cpu())
            past = o.past_key_values
    err = (logits - ref["logits"]).abs().max().item()
    err_cached = (torch.cat(steps, 1) - ref["logits"]).abs().max().item()
    print(f"{model_name} {mixer} on {device}: max |transformers - hybridize| = {err:.2e}, cached {err_cached:.2e}")
    assert err < tol, f"max |transformers - hybridize| = {err}"
    assert err_cached < tol, f"max |cached transformers - hybridize| = {err_cached}"


@pytest.mark.parametrize("model_name,mixer", CASES)
def test_logits_match_hybridize(binary, hybrids, model_name, mixer, tmp_path):
    check_logits(binary, hybrids(model_name, mixer), model_name, mixer, tmp_path, "cpu", 1e-4)


# On CUDA the chunked forms run flash-linear-attention's kernels where fla is installed (the GPU
# machine's run carries it), else the same plain-torch forms as on the CPU. TF32 stays off in
# torch, but fla's chunked kernels are less precise than fp32 (test_fla_export.py): on an H100,
# stories260K (head_dim 8) gave 5.7e-3 (gla), 9.1e-3 (gdn), 9.7e-3 (jet) with logits up to ~18.
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("model_name,mixer", CASES)
def test_logits_on_cuda_match_hybridize(binary, hybrids, model_name, mixer, tmp_path):
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    print("fla installed:", importlib.util.find_spec("fla") is not None)
    check_logits(binary, hybrids(model_name, mixer), model_name, mixer, tmp_path, "cuda", 2e-2)


@pytest.mark.parametrize("model_name,mixer", CASES)
def test_greedy_generate(binary, hybrids, model_name, mixer):
    d = hybrids(model_name, mixer)
    model = load(d)
    prompt = random_ids(model.config.vocab_size, (1, 7), seed=2)
    cached = greedy(model, prompt, use_cache=True)
    uncached = greedy(model, prompt, use_cache=False)
    ours = run(binary, "generate", "--model", d, "--device", "cpu", "--prompt-ids", ids_arg(prompt[0]),
               "--print-ids", "--no-stop", "--max-new-tokens", NEW_TOKENS)
    ours = [int(x) for x in ours.split()]
    assert cached[0].tolist() == uncached[0].tolist()
    assert cached[0].tolist() == ours


@pytest.mark.parametrize("model_name,mixer", CASES)
def test_left_padded_batch_equals_one_at_a_time(hybrids, model_name, mixer):
    model = load(hybrids(model_name, mixer))
    lengths = [5, 11, 3]
    prompts = [random_ids(model.config.vocab_size, (1, n), seed=10 + n) for n in lengths]
    width = max(lengths)
    ids = torch.zeros(len(prompts), width, dtype=torch.long)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - p.shape[1]:] = p[0]
        mask[i, width - p.shape[1]:] = 1
    batched = greedy(model, ids, attention_mask=mask, pad_token_id=0)
    for i, p in enumerate(prompts):
        assert batched[i].tolist() == greedy(model, p)[0].tolist(), f"row {i}"


def test_not_loadable_as_plain_llama(hybrids, caplog):
    d = hybrids("stories260K", "gdn")
    with pytest.raises(ValueError, match="trust_remote_code"):
        AutoModelForCausalLM.from_pretrained(d, trust_remote_code=False)
    # Naming Llama's class explicitly bypasses the model type; transformers then says so (a
    # warning it cannot be kept from giving) and reports the replaced layers' attention as missing.
    from transformers import LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.enable_propagation()  # transformers' warnings reach pytest's log capture
    with caplog.at_level("WARNING"):
        _, info = LlamaForCausalLM.from_pretrained(d, output_loading_info=True)
    assert "model of type `hybridize`" in caplog.text
    assert any(".self_attn." in k for k in info["missing_keys"])
    assert any(".linear_attn." in k for k in info["unexpected_keys"])
