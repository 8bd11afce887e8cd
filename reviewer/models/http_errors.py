"""Mapping an HTTP status (as the vendor SDKs report it) to the wrapper's error kinds."""

from __future__ import annotations

import email.utils
import time

from reviewer.models.base import FatalError, ProviderError, QuotaExhausted, RateLimitError, TransientError

#: Error types and codes that say the account cannot pay: OpenAI's ``insufficient_quota`` (a 429
#: like a rate limit, told apart only by the body), Anthropic's ``billing_error`` and spend limits.
QUOTA_ERRORS = {"insufficient_quota", "billing_error", "contract_spend_limit_reached",
                "enforced_spend_limit_reached", "linked_organization_spend_limit_reached"}


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


def quota_exhausted(body) -> bool:
    """Whether an error body (the whole JSON, or its ``error`` object) says the quota is spent."""
    error = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    details = error.get("details")
    names = {error.get("type"), error.get("code"), details.get("error_code") if isinstance(details, dict) else None}
    return not QUOTA_ERRORS.isdisjoint(names)


def error_for_status(status: int, message: str, headers=None, body=None) -> ProviderError | QuotaExhausted:
    if quota_exhausted(body):
        return QuotaExhausted(message)
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

