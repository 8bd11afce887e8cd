"""Baseline: a small denoising diffusion model (DDPM) on 2D point clouds.

Writes ``final_info.json`` in ``--out_dir``: per data set, the final training loss,
the held-out denoising loss and the Chamfer distance between generated and real points.
The data come from ``--data`` or ``$REVIEW_BENCH_DATA/templates_data/2d_diffusion``.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)

DATASETS = ["dino", "circle"]


def load_points(tsv: Path, name: str) -> torch.Tensor:
    rows = [line.split("\t") for line in tsv.read_text().splitlines()[1:]]
    points = np.array([[float(x), float(y)] for d, x, y in rows if d == name], dtype=np.float32)
    points = (points - points.mean(0)) / points.std(0)
    return torch.from_numpy(points)


class Denoiser(nn.Module):
    def __init__(self, hidden: int = 64, steps: int = 50):
        super().__init__()
        self.time_embedding = nn.Embedding(steps, hidden)
        self.input = nn.Linear(2, hidden)
        self.body = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x, t):
        return self.body(self.input(x) + self.time_embedding(t))


def noise_schedule(steps: int):
    betas = torch.linspace(1e-4, 0.2, steps)
    alphas = 1.0 - betas
    return betas, alphas, torch.cumprod(alphas, 0)


def denoising_loss(model, x0, alpha_bar, steps):
    t = torch.randint(0, steps, (x0.shape[0],))
    noise = torch.randn_like(x0)
    a = alpha_bar[t].unsqueeze(1)
    noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return ((model(noisy, t) - noise) ** 2).mean()


@torch.no_grad()
def sample(model, n, betas, alphas, alpha_bar):
    x = torch.randn(n, 2)
    for step in reversed(range(len(betas))):
        t = torch.full((n,), step, dtype=torch.long)
        eps = model(x, t)
        x = (x - betas[step] / (1 - alpha_bar[step]).sqrt() * eps) / alphas[step].sqrt()
        if step > 0:
            x = x + betas[step].sqrt() * torch.randn_like(x)
    return x


def chamfer(a: torch.Tensor, b: torch.Tensor) -> float:
    d = torch.cdist(a, b)
    return float(d.min(1).values.mean() + d.min(0).values.mean())


def train(points, steps=50, train_steps=1500, lr=3e-3, seed=0):
    torch.manual_seed(seed)
    betas, alphas, alpha_bar = noise_schedule(steps)
    model = Denoiser(steps=steps)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(train_steps):
        batch = points[torch.randint(0, len(points), (128,))]
        loss = denoising_loss(model, batch, alpha_bar, steps)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        eval_loss = float(np.mean([denoising_loss(model, points, alpha_bar, steps).item() for _ in range(20)]))
    generated = sample(model, 500, betas, alphas, alpha_bar)
    return model, losses, eval_loss, generated


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out_dir", default="run_0")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    data_root = Path(os.environ.get("REVIEW_BENCH_DATA", "../shared/datasets"))
    tsv = Path(args.data) if args.data else data_root / "templates_data" / "2d_diffusion" / "DatasaurusDozen.tsv"
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final_info, curves = {}, {}
    for name in DATASETS:
        points = load_points(tsv, name)
        start = time.time()
        _, losses, eval_loss, generated = train(points)
        final_info[name] = {
            "means": {
                "training_time": time.time() - start,
                "final_train_loss": float(np.mean(losses[-100:])),
                "eval_loss": eval_loss,
                "chamfer_distance": chamfer(generated, points),
            }
        }
        curves[name] = {"train_losses": losses[::10], "samples": generated.tolist()}
    (out / "final_info.json").write_text(json.dumps(final_info, indent=2))
    (out / "curves.json").write_text(json.dumps(curves))


if __name__ == "__main__":
    main()
