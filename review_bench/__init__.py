"""review-bench: an automated reviewer of ML papers, measured against real decisions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("review-bench")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0+local"
