#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (scripts/fuzz.sh), made from the real files of ../shared/data.

usage: fuzz_seeds.py SHARED_DATA OUT_DIR

Writes OUT_DIR/<target>/<name> for each target. Small files are used as they are; a safetensors
file is cut down to a valid file of its small tensors (4 KiB of data at most, metadata kept), and a
task file to its first lines, so that the fuzzer mutates small inputs of the real shapes."""
import glob
import json
import os
import struct
import sys
import bz2

data, out = sys.argv[1], sys.argv[2]


def put(target, name, payload):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name.replace("/", "_")), "wb") as f:
        f.write(payload)


def small_safetensors(path, limit=4096):
    """The file's small tensors (1 KiB at most each, 4 KiB in all), repacked with new offsets."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None)
    keep, body = {}, b""
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, end = e["data_offsets"]
        if end - b > 1024 or len(body) + end - b > limit:
            continue
        keep[name] = dict(e, data_offsets=[len(body), len(body) + end - b])
        body += raw[8 + n + b:8 + n + end]
    if meta is not None:
        keep["__metadata__"] = meta
    h = json.dumps(keep, separators=(",", ":")).encode()
    h += b" " * (-(len(h) + 8) % 8)
    return struct.pack("<Q", len(h)) + h + body


rel = lambda p: os.path.relpath(p, data)

for p in sorted(glob.glob(f"{data}/models/*/hf/*.safetensors") + glob.glob(f"{data}/fixtures/*/*.safetensors"))[:24]:
    put("fuzz_safetensors", rel(p), small_safetensors(p))
for p in glob.glob(f"{data}/fixtures/*/model.safetensors.index.json"):
    put("fuzz_safetensors_index", rel(p), open(p, "rb").read())
configs = glob.glob(f"{data}/configs/*.json") + glob.glob(f"{data}/fixtures/*/config.json") + \
    glob.glob(f"{data}/models/*/hf/config.json")
for p in configs:
    put("fuzz_config", rel(p), open(p, "rb").read())
    put("fuzz_json", rel(p), open(p, "rb").read())
for p in glob.glob(f"{data}/models/*/hf/tokenizer.json"):
    if os.path.getsize(p) <= 65536:
        put("fuzz_tokenizer", rel(p), open(p, "rb").read())
for p in glob.glob(f"{data}/tokenizers/*/tokenizer_config.json") + glob.glob(f"{data}/models/*/hf/tokenizer_config.json"):
    if os.path.getsize(p) <= 65536:
        put("fuzz_tokenizer_config", rel(p), open(p, "rb").read())
        put("fuzz_json", rel(p), open(p, "rb").read())
# fuzz_task_jsonl: the first byte picks the task (fuzz_task_jsonl.cpp), so every file's first
# lines go in once per choice of the first 16 (the built-ins and the generic format).
for p in sorted(glob.glob(f"{data}/tasks/*/*.jsonl")):
    head = b"".join(open(p, "rb").readlines()[:4])
    for pick in range(16):
        put("fuzz_task_jsonl", f"{rel(p)}.{pick}", bytes([pick]) + head)
for p in glob.glob(f"{data}/tasks/*/*_llamacpp_format.txt.bz2"):
    head = b"".join(bz2.open(p).readlines()[:12])
    for pick in range(16):
        put("fuzz_task_jsonl", f"{rel(p)}.{pick}", bytes([0x80 | pick]) + head)
