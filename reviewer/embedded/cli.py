"""Commands of the offline reviewer: ``embedded train``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from reviewer.cli_errors import fail, user_errors

out = Console()


def register(app: typer.Typer) -> None:
    embedded = typer.Typer(help="The offline reviewer (model 'embedded').", no_args_is_help=True)
    embedded.command("train")(train)
    app.add_typer(embedded, name="embedded")


def train(
    dataset: Optional[Path] = typer.Option(
        None, help="A dataset folder (ratings_<split>.tsv + texts/ or pdfs/) of any venue; default: the "
        "iclr2022 benchmark under the data root."),
    split: str = typer.Option("train", help="The split of --dataset to train on."),
    data_dir: Optional[Path] = typer.Option(None, help="Data root (default: $REVIEW_BENCH_DATA)."),
) -> None:
    """(Re)train the offline model on a train split and cache it."""
    from corpus.dataset import default_train_split, load_folder
    from reviewer.embedded.cache import get_model, model_dir

    try:
        data = load_folder(dataset, split) if dataset else default_train_split(data_dir)
        if data is None:
            raise fail("nothing to train on: pass --dataset DIR, or --data-dir DIR (or set REVIEW_BENCH_DATA)")
        model = get_model(data, retrain=True)
    except user_errors() as exc:
        raise fail(str(exc)) from None
    card = model.card
    out.print(f"trained on {card.data['n_papers']} papers of {data.folder} ({data.split}) in "
              f"{card.train_seconds:.1f} s -> {model_dir(card.fingerprint)}", highlight=False)
    out.print(f"{card.cv.folds}-fold CV: AUC {card.cv.auc:.3f}, balanced accuracy {card.cv.balanced_accuracy:.3f} "
              f"(P >= {card.cv.decision_threshold:.2f}), {card.cv.balanced_accuracy_overall_ge_6:.3f} "
              f"(Overall >= 6), Pearson {card.cv.pearson:.3f}", highlight=False)
