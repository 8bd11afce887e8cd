"""What both OpenReview APIs share: errors as one line, retries that honour Retry-After,
and a count of the requests and bytes a download costs."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

REQUEST_TIMEOUT_S = 120
#: Retries of a request answered 429 or 5xx; a Retry-After header sets the wait.
MAX_RETRIES = 6
LOGIN_HINT = "set OPENREVIEW_USERNAME and OPENREVIEW_PASSWORD"


class DownloadError(Exception):
    """The download cannot go on. The message is one line, fit for stderr."""


class Unreachable(DownloadError):
    """No answer from OpenReview (connection refused, DNS, timeout)."""


class PaperUnavailable(DownloadError):
    """The server refused one request (not found, forbidden, rate limit still hit after retries)."""


class LoginRequired(DownloadError):
    """The venue's notes are not public: the server wants a logged-in user."""


@dataclass
class Traffic:
    """Requests answered and response bytes received, counted on the client's session (a
    request retried after a 429 or 5xx counts once, with its final answer)."""

    requests: int = 0
    bytes: int = 0

    def count(self, response, *args, **kwargs):
        self.requests += 1
        self.bytes += len(response.content or b"")
        return response


class Transport:
    """Calls through an openreview-py client: errors become one-line exceptions, retries are
    bounded and quiet, and the traffic is counted."""

    def __init__(self, api_url: str, *, logged_in: bool):
        import openreview

        self.api_url = api_url.rstrip("/")
        self.logged_in = logged_in
        self.traffic = Traffic()
        self._errors = (openreview.OpenReviewException,)

    def attach(self, session) -> None:
        _mount_retrying_adapter(session)
        session.hooks["response"].append(self.traffic.count)

    def call(self, what: str, request: Callable):
        import requests

        try:
            return request()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Unreachable(f"cannot reach OpenReview at {self.api_url} ({what}): {_reason(exc)}") from None
        except self._errors as exc:
            detail = exc.args[0] if exc.args else {}
            name = detail.get("name", "") if isinstance(detail, dict) else ""
            if name in ("ForbiddenError", "ChallengeRequiredError") and not self.logged_in:
                raise LoginRequired(f"OpenReview refused to {what} without a login: {LOGIN_HINT}") from None
            raise PaperUnavailable(f"OpenReview refused to {what}: {_openreview_message(exc)}") from None


def _mount_retrying_adapter(session) -> None:
    """Bounded retries on 429/5xx honouring Retry-After, a timeout on every request, and no
    per-retry print (openreview-py's adapters print each retry, which breaks the progress bar).
    Every mounted prefix is replaced: the v2 client mounts its edits endpoints apart."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class TimeoutAdapter(HTTPAdapter):
        def send(self, request, **kwargs):
            kwargs["timeout"] = kwargs.get("timeout") or REQUEST_TIMEOUT_S
            return super().send(request, **kwargs)

    retry = Retry(
        total=MAX_RETRIES,
        connect=1,
        backoff_factor=1,
        backoff_max=60,
        status_forcelist=[429, 500, 502, 503, 504],
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = TimeoutAdapter(max_retries=retry)
    for prefix in [*session.adapters, "https://", "http://"]:
        session.mount(prefix, adapter)


def _reason(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    reason = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)|(timed out)", text)
    return (reason.group(1) or reason.group(2)) if reason else text.splitlines()[0][:200]


def _openreview_message(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, dict):
        detail = detail.get("message") or detail.get("name") or detail
    return " ".join(str(detail).split())[:300]
