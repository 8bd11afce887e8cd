"""Plots every run folder (``run_*`` next to ``--runs_dir``): loss curves and samples."""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs_dir", default=".")
    parser.add_argument("--out_dir", default=".")
    args = parser.parse_args()
    runs = sorted(p for p in Path(args.runs_dir).glob("run_*") if (p / "curves.json").exists())
    curves = {run.name: json.loads((run / "curves.json").read_text()) for run in runs}
    datasets = sorted({name for per_run in curves.values() for name in per_run})
    out = Path(args.out_dir)

    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        for run, per_run in curves.items():
            if name in per_run:
                ax.plot(per_run[name]["train_losses"], label=run)
        ax.set_title(f"Training loss: {name}")
        ax.set_xlabel("step / 10")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "train_loss.png", dpi=100)

    fig, axes = plt.subplots(len(curves), len(datasets), figsize=(4 * len(datasets), 4 * len(curves)), squeeze=False)
    for row, (run, per_run) in zip(axes, curves.items()):
        for ax, name in zip(row, datasets):
            points = per_run.get(name, {}).get("samples", [])
            if points:
                xs, ys = zip(*points)
                ax.scatter(xs, ys, s=3)
            ax.set_title(f"{run}: {name}")
    fig.tight_layout()
    fig.savefig(out / "generated_samples.png", dpi=100)


if __name__ == "__main__":
    main()
