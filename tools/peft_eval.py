#!/usr/bin/env python3
"""Loads a prompt folder in HF PEFT exactly as a PEFT user would, scores a labelled TSV there,
and compares the result with `cargo xtask eval` on the same folder and file.

  python3 tools/peft_eval.py baselines/sst2-k20 --config configs/sst2.toml \
      --data ../shared/assets/sst2/dev.tsv

PEFT reads the folder with no extra arguments (`PeftConfig.from_pretrained(DIR)`,
`PeftModel.from_pretrained(base, DIR)`); the frozen base model comes from the same GGUF file
the project uses (transformers' GGUF loader, float32, CPU), since this machine cannot reach
the Hub. The template and label words come from the folder's prompt_task.json. A causal
model's answer is the next token after the rendered template; a class's score is the logit of
its first label word's first token, as `cargo xtask eval` scores it.

Needs torch, transformers, peft and gguf (pip install torch transformers peft gguf). Exits
non-zero when accuracy or the confusion matrix differ.
"""

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys

import peft
import torch
import transformers
from peft import PeftConfig, PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

DEFAULT_GGUF = os.path.expanduser("~/.cache/prompt-tuning/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def render(template, fields):
    # `{name}` slots take the example's fields; the answer slot `{mask}` renders as nothing
    # for a causal model (the answer is the next token).
    def slot(match):
        name = match.group(1)
        return "" if name == "mask" else fields[name]
    return re.sub(r"\{(\w+)\}", slot, template)


def read_tsv(path, label_column):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows, [int(row[label_column]) for row in rows]


def peft_predictions(artifact, gguf, rows, batch_size):
    config = PeftConfig.from_pretrained(artifact)
    task = json.load(open(os.path.join(artifact, "prompt_task.json")))
    folder, name = os.path.dirname(gguf), os.path.basename(gguf)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    base = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, artifact)
    model.eval()
    k = config.num_virtual_tokens
    words = [class_words[0] for class_words in task["verbalizer"]["label_words"]]
    label_ids = [tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in words]
    encoded = [tokenizer(render(task["template"], row), add_special_tokens=False)["input_ids"]
               for row in rows]
    predictions, log_probs = [], []
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start:start + batch_size]
        width = max(len(ids) for ids in batch)
        # Right padding: the answer position of row i is k + len_i - 1 (PEFT puts the prompt first).
        ids = torch.tensor([ids + [0] * (width - len(ids)) for ids in batch])
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in batch])
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits
        for row, row_ids in enumerate(batch):
            scores = logits[row, k + len(row_ids) - 1, label_ids]
            predictions.append(int(scores.argmax()))
            log_probs.append(torch.log_softmax(scores, 0))
    return config, predictions, log_probs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact", help="prompt folder (adapter_config.json, adapter_model.safetensors, prompt_task.json)")
    parser.add_argument("--config", required=True, help="experiment config for `cargo xtask eval --config`")
    parser.add_argument("--data", required=True, help="labelled TSV with the template's fields and a `label` column")
    parser.add_argument("--gguf", default=DEFAULT_GGUF, help="the base model's GGUF file")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows, gold = read_tsv(args.data, args.label_column)
    config, predictions, log_probs = peft_predictions(args.artifact, args.gguf, rows, args.batch_size)
    classes = len(log_probs[0])
    peft_confusion = [[0] * classes for _ in range(classes)]
    for g, p in zip(gold, predictions):
        peft_confusion[g][p] += 1
    peft_accuracy = sum(g == p for g, p in zip(gold, predictions)) / len(gold)
    peft_loss = -sum(float(lp[g]) for lp, g in zip(log_probs, gold)) / len(gold)

    command = ["cargo", "xtask", "eval", "--artifact", args.artifact, "--config", args.config,
               "--data", args.data, "--json"]
    ours = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    our_confusion = ours["metrics"]["confusion"]
    our_accuracy = ours["metrics"]["accuracy"]

    name = lambda value: getattr(value, "value", value)  # PEFT's enums, or plain strings
    print(f"PEFT {peft.__version__}, transformers {transformers.__version__}, torch {torch.__version__}, "
          f"float32 CPU; PeftConfig: peft_type {name(config.peft_type)}, "
          f"base_model_name_or_path {config.base_model_name_or_path}, "
          f"init {name(config.prompt_tuning_init)}, {config.num_virtual_tokens} x {config.token_dim}")
    print(f"{'':<16}{'examples':>9}{'accuracy':>10}{'loss':>9}  confusion (gold rows)")
    print(f"{'HF PEFT':<16}{len(gold):>9}{100 * peft_accuracy:>9.2f}%{peft_loss:>9.4f}  {peft_confusion}")
    print(f"{'cargo xtask':<16}{ours['metrics']['examples']:>9}{100 * our_accuracy:>9.2f}%"
          f"{ours['loss']:>9.4f}  {our_confusion}")
    same = (ours["metrics"]["examples"] == len(gold) and our_confusion == peft_confusion
            and math.isclose(our_accuracy, peft_accuracy))
    print("same predictions per class" if same else "DIFFERENT results")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
