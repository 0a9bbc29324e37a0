#!/usr/bin/env python3
"""HF PEFT prompt tuning on the CPU, on the work `cargo xtask bench configs/sst2.toml` times
(crates/train/src/bench.rs), in examples per second.

  .stage/peft-venv/bin/python bench/peft_cpu.py [--threads 2] [--k 20] [--steps 20] ...
  (bash bench/peft_cpu.sh runs it and the project's bench, and prints both)

Model: SmolLM2-135M-Instruct from the project's GGUF file, through transformers' GGUF loader
(dequantised to float32), with PEFT's PromptTuningConfig(CAUSAL_LM, k virtual tokens) on top.
Inputs: configs/sst2.toml's template, "{sentence} The sentiment of this review is", tokenized
as the tokenizer does by default (SmolLM2's GGUF tokenizer adds no BOS/EOS, as in the
project); token counts exclude the prompt. Classes: the logits of " negative" (3524) and
" positive" (2731) at each row's last real token (batches right-padded with an attention
mask), cross-entropy over the two, AdamW (lr 0.03, weight decay 0.01) on the prompt.

Training: 2 untimed warm-up steps, then --steps timed ones, on the batches the project draws
(its seed-0 order: SST-2 train shuffled, pools of 8 batches sorted by length, batch order
shuffled, ported below). A timed step is building the batch tensors, the forward (PEFT's: full
vocabulary logits at every position), the backward and the optimizer step. Evaluation: the
first --eval-examples dev sentences sorted by length, in batches of --eval-batch, under
torch.no_grad() and model.eval(). The last line printed is JSON.
"""

import argparse
import csv
import os
import json
import resource
import time

import peft
import torch
import torch.nn.functional as F
import transformers
from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("PROMPT_TUNING_CACHE", os.path.expanduser("~/.cache/prompt-tuning"))
TEMPLATE = "{sentence} The sentiment of this review is"
LABEL_WORDS = (" negative", " positive")
MASK64 = (1 << 64) - 1


class SplitMix64:
    """crates/data/src/rng.rs, so that the batches are the project's."""

    def __init__(self, seed):
        self.state = seed

    def below(self, bound):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return (z ^ (z >> 31)) % bound

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def training_batches(lengths, batch_size, pool_batches, seed):
    """The project's training order (crates/train/src/order.rs, crates/data/src/bucket.rs)."""
    epoch = 0
    while True:
        rng = SplitMix64(seed ^ (((epoch + 1) * 0xD1B54A32D192ED03) & MASK64))
        order = list(range(len(lengths)))
        rng.shuffle(order)
        batches, pool = [], batch_size * pool_batches
        for start in range(0, len(order), pool):
            chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
            batches += [chunk[b:b + batch_size] for b in range(0, len(chunk), batch_size)]
        rng.shuffle(batches)
        yield from batches
        epoch += 1


def read_tsv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [row["sentence"] for row in rows], [int(row["label"]) for row in rows]


def tensors(ids, labels, indices, pad_id):
    width = max(len(ids[i]) for i in indices)
    input_ids = torch.tensor([ids[i] + [pad_id] * (width - len(ids[i])) for i in indices])
    mask = torch.tensor([[1] * len(ids[i]) + [0] * (width - len(ids[i])) for i in indices])
    last = torch.tensor([len(ids[i]) - 1 for i in indices])
    return input_ids, mask, last, torch.tensor([labels[i] for i in indices])


def cpu_info():
    keep = ("CPU capability", "Math Kernel Library", "MKL-DNN", "OpenMP")
    lines = [line.strip(" -") for line in torch.__config__.show().splitlines()]
    return "; ".join(line for line in lines if any(word in line for word in keep))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", default=os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "assets", "sst2"),
                        help="folder with train.tsv and dev.tsv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--k", type=int, default=20, help="prompt length")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--eval-batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps, after 2 warm-up ones")
    parser.add_argument("--eval-examples", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not os.path.isfile(args.gguf):
        raise SystemExit(f"{args.gguf} is missing: run `cargo xtask fetch smollm2-135m-instruct`")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    folder, name = os.path.dirname(args.gguf), os.path.basename(args.gguf)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    base = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model = get_peft_model(base, PromptTuningConfig(
        task_type=TaskType.CAUSAL_LM, num_virtual_tokens=args.k,
        prompt_tuning_init=PromptTuningInit.RANDOM))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=0.03, weight_decay=0.01)
    label_ids = [tokenizer(w, add_special_tokens=False)["input_ids"] for w in LABEL_WORDS]
    assert all(len(ids) == 1 for ids in label_ids), label_ids
    label_ids = [ids[0] for ids in label_ids]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    render = lambda sentences: [TEMPLATE.format(sentence=s) for s in sentences]
    specials = tokenizer("x")["input_ids"] != tokenizer("x", add_special_tokens=False)["input_ids"]

    sentences, train_labels = read_tsv(os.path.join(args.data, "train.tsv"))
    train_ids = tokenizer(render(sentences))["input_ids"]
    warmup = 2
    order = training_batches([len(ids) for ids in train_ids], args.batch, 8, args.seed)
    train_seconds, train_examples, train_tokens = 0.0, 0, 0
    model.train()
    for step in range(warmup + args.steps):
        indices = next(order)
        start = time.perf_counter()
        input_ids, mask, last, labels = tensors(train_ids, train_labels, indices, pad_id)
        logits = model(input_ids=input_ids, attention_mask=mask).logits
        # PEFT puts the k prompt rows first: row i's last real token is at k + len_i - 1.
        scores = logits[torch.arange(len(indices)), args.k + last][:, label_ids]
        loss = F.cross_entropy(scores, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step >= warmup:
            train_seconds += time.perf_counter() - start
            train_examples += len(indices)
            train_tokens += sum(len(train_ids[i]) for i in indices)

    sentences, dev_labels = read_tsv(os.path.join(args.data, "dev.tsv"))
    dev_ids = tokenizer(render(sentences[:args.eval_examples]))["input_ids"]
    by_length = sorted(range(len(dev_ids)), key=lambda i: len(dev_ids[i]))
    model.eval()
    correct = 0
    start = time.perf_counter()
    with torch.no_grad():
        for b in range(0, len(by_length), args.eval_batch):
            indices = by_length[b:b + args.eval_batch]
            input_ids, mask, last, labels = tensors(dev_ids, dev_labels, indices, pad_id)
            logits = model(input_ids=input_ids, attention_mask=mask).logits
            scores = logits[torch.arange(len(indices)), args.k + last][:, label_ids]
            correct += int((scores.argmax(1) == labels).sum())
    eval_seconds = time.perf_counter() - start

    report = dict(
        torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
        threads=torch.get_num_threads(), cpu=cpu_info(), prompt_len=args.k,
        tokenizer_adds_special_tokens=specials, batch_size=args.batch, train_steps=args.steps,
        train_examples=train_examples, train_mean_tokens=train_tokens / max(train_examples, 1),
        train_seconds=train_seconds, train_examples_per_s=train_examples / train_seconds,
        eval_batch_size=args.eval_batch, eval_examples=len(dev_ids),
        eval_mean_tokens=sum(map(len, dev_ids)) / len(dev_ids), eval_seconds=eval_seconds,
        eval_examples_per_s=len(dev_ids) / eval_seconds,
        eval_accuracy=correct / len(dev_ids),  # of an almost untrained random prompt
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"PEFT {peft.__version__}, transformers {transformers.__version__}, torch {torch.__version__}, "
          f"float32, {report['threads']} thread(s); {report['cpu']}")
    print(f"train: {train_examples} examples, {report['train_mean_tokens']:.1f} tokens each, "
          f"{train_seconds:.1f} s, {report['train_examples_per_s']:.2f} examples/s")
    print(f"eval:  {len(dev_ids)} examples, {report['eval_mean_tokens']:.1f} tokens each, "
          f"{eval_seconds:.1f} s, {report['eval_examples_per_s']:.2f} examples/s")
    print(f"peak RSS {report['peak_rss_mb']:.0f} MB")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
