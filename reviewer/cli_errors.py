"""How every command ends on a user's mistake: one line on stderr and exit code 2, no traceback."""

from __future__ import annotations

from contextlib import contextmanager

import typer

#: Exit codes of a run that stopped before its end and can be resumed (besides 2, a user's
#: mistake, and 130, an interrupt): the --max-cost budget was reached, or the provider's quota.
EXIT_BUDGET = 3
EXIT_QUOTA = 4


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr; the caller raises the returned Exit."""
    typer.echo(f"review-bench: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def exit_on(*errors: type[Exception]):
    """Turn the given exceptions into one line on stderr and exit code 2."""
    try:
        yield
    except errors as exc:
        raise fail(str(exc)) from None


def user_errors() -> tuple[type[Exception], ...]:
    """Exceptions whose message is all the user needs: printed as one line, exit 2."""
    from corpus.dataset import DatasetError
    from corpus.paper import PaperInputError
    from reviewer.errors import ConfigurationError
    from reviewer.models.base import FatalError, MissingDependencyError
    from reviewer.prompts import PromptError

    return (ConfigurationError, DatasetError, FatalError, MissingDependencyError, PaperInputError, PromptError)
