"""Dynamic int8 quantization of the built-in GPT: sampling speed and held-out loss, against float32.

Uses the demo's healthy model (trained into ``demo-out/models/gpt-healthy`` if the demo has not
run yet), samples it in one process with and without ``--quantize int8`` under the same seed, and
prints the speed-up and the change in held-out loss.

    .venv/bin/python benchmarks/bench_gpt_quantize.py [--n 200] [--model demo-out/models/gpt-healthy]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from aigc_audit.demo.run import HEALTHY_TRAINING
from aigc_audit.generators.gpt.config import SampleConfig, is_trained, load_training_data
from aigc_audit.generators.gpt.sample import load_model, quantize_int8, sample_texts
from aigc_audit.generators.gpt.train import held_out_loss, token_stream, train
from aigc_audit.threads import torch_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("demo-out/models/gpt-healthy"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timed runs")
    args = parser.parse_args()
    if not is_trained(HEALTHY_TRAINING, args.model):
        train(HEALTHY_TRAINING, args.model)
    held_out = load_training_data(HEALTHY_TRAINING.data).held_out

    fp32 = load_model(args.model)
    int8 = load_model(args.model)
    int8.model = quantize_int8(int8.model)
    stream = token_stream(fp32.tokenizer, held_out)
    config = SampleConfig(n=args.n, seed=0, temperature=0.8)
    results = {}
    for name, loaded in (("float32", fp32), ("int8", int8)):
        sample_texts(loaded, SampleConfig(n=config.batch_size, seed=1))  # warm-up
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            texts = sample_texts(loaded, config)
            seconds.append(time.perf_counter() - started)
        with torch.no_grad(), torch_threads():
            loss = held_out_loss(loaded.model, stream, loaded.model.config.n_positions)
        tokens = sum(len(loaded.tokenizer(t)["input_ids"]) for t in texts)
        results[name] = (min(seconds), loss, tokens)
        print(f"{name:>8}: {args.n} samples ({tokens} tokens) in {min(seconds):.2f} s "
              f"({tokens / min(seconds):,.0f} tokens/s), held-out loss {loss:.4f} nats/token")
    size = sum(p.numel() for p in fp32.model.parameters())
    print(f"model: {size:,} parameters, {torch.get_num_threads()} torch threads available, sampling on 1")
    speedup = results["float32"][0] / results["int8"][0]
    print(f"int8 / float32: sampling {speedup:.2f}x as fast; held-out loss "
          f"{results['int8'][1] - results['float32'][1]:+.4f} nats/token")


if __name__ == "__main__":
    main()
