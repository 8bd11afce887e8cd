"""Mapping an HTTP status (as the vendor SDKs report it) to the wrapper's error kinds."""

from __future__ import annotations

import email.utils
import time

from reviewer.models.base import FatalError, ProviderError, RateLimitError, TransientError


def retry_after(headers) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or a date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def error_for_status(status: int, message: str, headers=None) -> ProviderError:
    wait = retry_after(headers)
    if status == 429:
        return RateLimitError(message, retry_after=wait)
    if status in (408, 409) or status >= 500:  # 529 is Anthropic's "overloaded"
        return TransientError(message, retry_after=wait)
    return FatalError(message)


def shorten(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters, for error messages."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
