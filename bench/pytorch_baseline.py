#!/usr/bin/env python3
"""PyTorch baselines for `cargo xtask bench`: prompt-tuning training examples/s of the
SmolLM2-135M shape, measured the two ways the comparison in the README uses.

  peft      HF transformers LlamaForCausalLM + PEFT PromptTuning, eager, full-vocabulary logits
            (what people run today)
  compiled  a hand-written llama forward with the prompt as a shared causal prefix, the loss on
            the two label rows only, the whole step (forward, backward, AdamW) under
            torch.compile(mode="max-autotune") with CUDA graphs

Weights are random with the real shape (speed does not depend on their values); inputs are
random tokens of a fixed length. Both train a k x 576 prompt with AdamW (lr 0.03), frozen
backbone in bf16, prompt and loss in f32.

  python3 bench/pytorch_baseline.py --device cuda --k 20 --length 48 --batch 32 256

Prints one line per (variant, batch) and, with --json, a JSON list.
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

# SmolLM2-135M-Instruct (its config.json / GGUF metadata).
SHAPE = dict(vocab=49152, d=576, ffn=1536, layers=30, heads=9, kv_heads=3, head_dim=64,
             eps=1e-5, theta=100000.0)
LABEL_IDS = (3524, 2731)  # " negative", " positive"


def peft_step_fn(args, batch, device):
    from peft import PromptTuningConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=SHAPE["vocab"], hidden_size=SHAPE["d"], intermediate_size=SHAPE["ffn"],
        num_hidden_layers=args.layers, num_attention_heads=SHAPE["heads"],
        num_key_value_heads=SHAPE["kv_heads"], head_dim=SHAPE["head_dim"],
        rms_norm_eps=SHAPE["eps"], rope_theta=SHAPE["theta"], tie_word_embeddings=True,
        max_position_embeddings=8192)
    model = LlamaForCausalLM(config).to(device=device, dtype=args.dtype)
    model = get_peft_model(model, PromptTuningConfig(task_type="CAUSAL_LM",
                                                     num_virtual_tokens=args.k))
    prompt = model.prompt_encoder["default"].embedding
    prompt.to(torch.float32)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.03)
    labels = torch.tensor(LABEL_IDS, device=device)

    def step(ids, mask, target):
        with torch.autocast(device_type=device.type, dtype=args.dtype):
            logits = model(input_ids=ids, attention_mask=mask).logits
        scores = logits[:, -1, labels].float()
        loss = F.cross_entropy(scores, target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return step


class Llama(torch.nn.Module):
    """The forward pass the project's burn model computes: the prompt runs once as a batch of
    one and every row attends to its keys and values."""

    def __init__(self, layers, dtype, device):
        super().__init__()
        d, h, kv, hd = SHAPE["d"], SHAPE["heads"], SHAPE["kv_heads"], SHAPE["head_dim"]

        def weight(*shape):
            return torch.nn.Parameter(
                torch.randn(*shape, device=device, dtype=dtype) / math.sqrt(shape[-1]),
                requires_grad=False)

        self.embed = weight(SHAPE["vocab"], d)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            block = torch.nn.Module()
            block.q, block.k, block.v = weight(h * hd, d), weight(kv * hd, d), weight(kv * hd, d)
            block.o = weight(d, h * hd)
            block.gate, block.up, block.down = (weight(SHAPE["ffn"], d), weight(SHAPE["ffn"], d),
                                                weight(d, SHAPE["ffn"]))
            block.norm1 = torch.nn.Parameter(torch.ones(d, device=device, dtype=dtype),
                                             requires_grad=False)
            block.norm2 = torch.nn.Parameter(torch.ones(d, device=device, dtype=dtype),
                                             requires_grad=False)
            self.blocks.append(block)
        self.norm = torch.nn.Parameter(torch.ones(d, device=device, dtype=dtype),
                                       requires_grad=False)
        inv = 1.0 / SHAPE["theta"] ** (torch.arange(0, hd, 2, device=device).float() / hd)
        angles = torch.outer(torch.arange(8192, device=device).float(), inv)
        self.register_buffer("cos", torch.cat([angles.cos()] * 2, -1).to(dtype))
        self.register_buffer("sin", torch.cat([angles.sin()] * 2, -1).to(dtype))

    @staticmethod
    def rms(x, w):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + SHAPE["eps"])).to(x.dtype) * w

    def rope(self, x, start):
        cos = self.cos[start:start + x.shape[2]]
        sin = self.sin[start:start + x.shape[2]]
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rotated * sin

    def mlp(self, y, blk):
        yn = self.rms(y, blk.norm2)
        return y + (F.silu(yn @ blk.gate.T) * (yn @ blk.up.T)) @ blk.down.T

    def heads(self, x, w, n):
        b, t, _ = x.shape
        return (x @ w.T).view(b, t, n, SHAPE["head_dim"]).transpose(1, 2)

    def forward(self, prompt, ids):
        b, l = ids.shape
        k = prompt.shape[0]
        h, kv = SHAPE["heads"], SHAPE["kv_heads"]
        p = prompt.to(self.embed.dtype).unsqueeze(0)
        x = F.embedding(ids, self.embed)
        for blk in self.blocks:
            pn, xn = self.rms(p, blk.norm1), self.rms(x, blk.norm1)
            qp, kp, vp = (self.heads(pn, blk.q, h), self.heads(pn, blk.k, kv),
                          self.heads(pn, blk.v, kv))
            qx, kx, vx = (self.heads(xn, blk.q, h), self.heads(xn, blk.k, kv),
                          self.heads(xn, blk.v, kv))
            qp, kp = self.rope(qp, 0), self.rope(kp, 0)
            qx, kx = self.rope(qx, k), self.rope(kx, k)
            ap = F.scaled_dot_product_attention(qp, kp, vp, is_causal=True, enable_gqa=True)
            keys = torch.cat([kp.expand(b, -1, -1, -1), kx], 2)
            values = torch.cat([vp.expand(b, -1, -1, -1), vx], 2)
            # Rows see the whole prompt and the tokens up to their own position.
            mask = torch.ones(l, k + l, dtype=torch.bool, device=ids.device).tril(k)
            ax = F.scaled_dot_product_attention(qx, keys, values, attn_mask=mask, enable_gqa=True)
            p = p + ap.transpose(1, 2).reshape(1, k, -1) @ blk.o.T
            x = x + ax.transpose(1, 2).reshape(b, l, -1) @ blk.o.T
            p, x = self.mlp(p, blk), self.mlp(x, blk)
        last = self.rms(x[:, -1], self.norm)
        return (last @ self.embed[list(LABEL_IDS)].T).float()


def compiled_step_fn(args, batch, device):
    model = Llama(args.layers, args.dtype, device)
    prompt = torch.nn.Parameter(torch.randn(args.k, SHAPE["d"], device=device) * 0.5)
    # A tensor learning rate and capturable state let CUDA graphs replay the update.
    on_gpu = device.type == "cuda"
    lr = torch.tensor(0.03, device=device) if on_gpu else 0.03
    optimizer = torch.optim.AdamW([prompt], lr=lr, capturable=on_gpu)

    def step(ids, mask, target):
        loss = F.cross_entropy(model(prompt, ids), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        return loss

    mode = "max-autotune" if device.type == "cuda" else "default"
    return torch.compile(step, mode=mode, fullgraph=False)


def measure(variant, args, batch, device):
    make = peft_step_fn if variant == "peft" else compiled_step_fn
    step = make(args, batch, device)
    gen = torch.Generator(device="cpu").manual_seed(0)
    ids = torch.randint(0, SHAPE["vocab"], (batch, args.length), generator=gen).to(device)
    mask = torch.ones_like(ids)
    target = torch.randint(0, 2, (batch,), generator=gen).to(device)
    for _ in range(args.warmup):
        step(ids, mask, target)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step(ids, mask, target)
    float(loss)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return dict(variant=variant, k=args.k, length=args.length, batch=batch,
                layers=args.layers, dtype=str(args.dtype).removeprefix("torch."),
                steps=args.steps, seconds=seconds,
                train_examples_per_s=batch * args.steps / seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--variants", nargs="+", default=["peft", "compiled"],
                        choices=["peft", "compiled"])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--length", type=int, default=48)
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--layers", type=int, default=SHAPE["layers"],
                        help="fewer layers for a quick check on a CPU")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    results = []
    for variant in args.variants:
        for batch in args.batch:
            r = measure(variant, args, batch, device)
            results.append(r)
            print(f"{r['variant']:<9} k={r['k']:<4} length={r['length']:<4} batch={r['batch']:<5}"
                  f" {r['train_examples_per_s']:10.1f} training examples/s"
                  f" ({r['dtype']}, {r['layers']} layers, random weights)", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
