"""The ``review-bench`` command. Each part of the project registers its own commands."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="review-bench",
    help="Review ML papers with LLMs or an offline model, and measure the reviewer honestly.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module defines ``register(app)`` and adds its commands or sub-apps.
COMMAND_MODULES = [
    "reviewer.cli",
    "reviewer.models.cli",
    "benchmarks.run_cli",
    "benchmarks.score_cli",
    "benchmarks.probe_cli",
    "benchmarks.data_cli",
    "benchmarks.download_cli",
    "finetune.cli",
    "reviewer.embedded.cli",
    "benchmarks.stack_cli",
    "scientist.cli",
]


def build_app() -> typer.Typer:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def configure_logging() -> None:
    """Our own progress notes (retries, training) on stderr; other libraries only warn."""
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    # On stderr: stdout carries the commands' output (a review as JSON).
    logging.basicConfig(level=logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_time=False, show_path=False)])
    for package in ("reviewer", "benchmarks", "scientist", "finetune"):
        logging.getLogger(package).setLevel(logging.INFO)


def main() -> None:
    configure_logging()
    build_app()()


if __name__ == "__main__":
    main()
