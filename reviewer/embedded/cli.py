"""Commands of the offline reviewer: ``embedded train``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from reviewer.cli_errors import fail

out = Console()


def register(app: typer.Typer) -> None:
    embedded = typer.Typer(help="The offline reviewer (model 'embedded').", no_args_is_help=True)
    embedded.command("train")(train)
    app.add_typer(embedded, name="embedded")


def train(data_dir: Optional[Path] = typer.Option(None, help="Data root (default: $REVIEW_BENCH_DATA).")) -> None:
    """(Re)train the offline model on the iclr2022 train split and cache it."""
    from reviewer.embedded.cache import get_model, model_dir
    from reviewer.embedded.model import ModelError

    try:
        model = get_model(data_dir, retrain=True)
    except ModelError as exc:
        raise fail(str(exc)) from None
    card = model.card
    out.print(f"trained on {card.data['n_papers']} papers in {card.train_seconds:.1f} s -> {model_dir()}")
    out.print(f"{card.cv.folds}-fold CV: AUC {card.cv.auc:.3f}, balanced accuracy {card.cv.balanced_accuracy:.3f} "
              f"(P >= {card.cv.decision_threshold:.2f}), {card.cv.balanced_accuracy_overall_ge_6:.3f} "
              f"(Overall >= 6), Pearson {card.cv.pearson:.3f}")
