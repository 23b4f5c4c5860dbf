#!/usr/bin/env python3
"""Check the C/C++ examples' output (scripts/test-capi.sh), standard library only.

  capi-compare.py golden OUTPUT LOGITS.npy CASE.json
      each "FILE#i: id:logit:label ..." line of OUTPUT has PaddlePaddle's top-5 (CASE.json's
      "top5", else the deploy json's) and logits within 1e-3 x max |logit| of LOGITS.npy
  capi-compare.py predict OUTPUT PREDICT.json
      each "FILE: id:score:label ..." line has `gpu-resnet predict --format json`'s classes,
      in order, and scores within 1e-5
"""
import array
import ast
import json
import re
import sys

ENTRY = re.compile(r" (\d+):(-?[0-9.eE+-]+)(?=[:\s]|$)")


def entries(line):
    return [(int(i), float(v)) for i, v in ENTRY.findall(line)]


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[6] == 1:
        hlen, start = int.from_bytes(data[8:10], "little"), 10
    else:
        hlen, start = int.from_bytes(data[8:12], "little"), 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"], path
    values = array.array("f")
    values.frombytes(data[start + hlen:])
    return header["shape"], values


def golden(output, logits_npy, case_json):
    shape, logits = read_npy(logits_npy)
    case = json.load(open(case_json))
    classes = shape[1]
    bound = 1e-3 * max(abs(v) for v in logits)
    lines = [l for l in open(output) if "#" in l.split(":")[0]]
    assert len(lines) == shape[0], f"{output}: {len(lines)} images, want {shape[0]}"
    worst = 0.0
    for i, line in enumerate(lines):
        got = entries(line)
        ids = [c for c, _ in got]
        assert ids == case["top5"][i], f"image {i}: top-5 {ids}, paddle's {case['top5'][i]}"
        for c, v in got:
            want = logits[i * classes + c]
            assert abs(v - want) <= bound, f"image {i} class {c}: {v} vs paddle's {want}"
            worst = max(worst, abs(v - want))
    print(f"  {output}: {len(lines)} images, top-5 equal, top-5 logits within {worst:.2g} of "
          f"paddle's (bound {bound:.3g}, printed to 6 decimals)")


def predict(output, predict_json):
    want = {r["file"]: r["topk"] for r in json.load(open(predict_json))}
    lines = [l for l in open(output) if l.split(":")[0] in want]
    assert len(lines) == len(want), f"{output}: {len(lines)} images, predict has {len(want)}"
    for line in lines:
        f = line.split(":")[0]
        got = entries(line)
        ids = [c for c, _ in got]
        assert ids == [p["class_id"] for p in want[f]], f"{f}: {ids} vs predict's {want[f]}"
        for (c, s), p in zip(got, want[f]):
            assert abs(s - p["score"]) <= 1e-5, f"{f} class {c}: {s} vs predict's {p['score']}"
    print(f"  {output}: {len(lines)} images as `gpu-resnet predict` classifies them")


if __name__ == "__main__":
    {"golden": golden, "predict": predict}[sys.argv[1]](*sys.argv[2:])
