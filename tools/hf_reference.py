#!/usr/bin/env python3
"""Writes a reference file for `cargo xtask check-reference` from HF transformers: the inputs,
prompts and quantities of ../shared/fixtures/smollm2_reference.json, recomputed in float32 on
the CPU by transformers' own SmolLM2 (loaded from the same GGUF).

  python3 tools/hf_reference.py ~/.cache/prompt-tuning/models/SmolLM2-135M-Instruct.Q4_1.gguf \
      ../shared/fixtures/smollm2_reference.json crates/model/tests/fixtures/smollm2_hf.json

Needs torch, transformers and gguf (pip install torch transformers gguf).
"""

import json
import math
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM


def prompt_rows(k, width, case_index):
    # The fixture's formula: P[i][j] = 0.05 * sin(0.37 * (i + 1) * (j + 1) + case_index).
    return torch.tensor([[0.05 * math.sin(0.37 * (i + 1) * (j + 1) + case_index)
                          for j in range(width)] for i in range(k)], dtype=torch.float32)


def main(gguf, template_path, output):
    torch.set_num_threads(os.cpu_count() or 1)
    template = json.load(open(template_path))
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(gguf), gguf_file=os.path.basename(gguf), dtype=torch.float32)
    model.eval()
    embed = model.get_input_embeddings().weight.detach()
    labels = template["label_ids"]
    out = {key: value for key, value in template.items() if key != "cases"}
    out["generator"] = (f"tools/hf_reference.py: transformers {transformers.__version__}, "
                        f"torch {torch.__version__}, float32, CPU")
    out["cases"] = []
    for index, case in enumerate(template["cases"]):
        ids = torch.tensor([case["ids"]])
        with torch.no_grad():
            last = model(input_ids=ids).logits[0, -1]
        top = torch.topk(last, 10)
        result = {
            "text": case["text"],
            "ids": case["ids"],
            "last_logits_first16": last[:16].tolist(),
            "last_top10_ids": top.indices.tolist(),
            "last_top10_logits": top.values.tolist(),
            "label_logits": last[labels].tolist(),
        }
        for key in (k for k in case if k.startswith("prompt")):
            k = int(key.removeprefix("prompt"))
            prompt = prompt_rows(k, embed.shape[1], index).requires_grad_(True)
            inputs = torch.cat([prompt.unsqueeze(0), embed[ids]], 1)
            scores = model(inputs_embeds=inputs).logits[0, -1, labels]
            loss = torch.nn.functional.cross_entropy(scores.unsqueeze(0), torch.tensor([1]))
            loss.backward()
            result[key] = {
                "label_logits": scores.tolist(),
                "loss": loss.item(),
                "grad_norm": prompt.grad.norm().item(),
                "grad_row0_first8": prompt.grad[0, :8].tolist(),
            }
        out["cases"].append(result)
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
