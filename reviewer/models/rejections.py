"""Reading a 400: does it name one request parameter as unsupported, or refuse ``n > 1``?

OpenAI answers ``{"error": {"message", "type", "param", "code"}}`` with ``code``
``unsupported_parameter`` ("Unsupported parameter: 'max_tokens' is not supported with this
model. Use 'max_completion_tokens' instead.") or ``unsupported_value`` ("Unsupported value:
'temperature' does not support 0.75 with this model. Only the default (1) value is
supported."). Anthropic answers ``{"type": "error", "error": {"type", "message"}}`` with only a
message ("`temperature` is deprecated for this model."). Other compatible servers word it
their own way; the patterns below are the ones seen in the wild.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reviewer.models.base import MultipleChoicesUnsupported, ProviderError, UnsupportedParameter
from reviewer.models.http_errors import error_for_status, shorten

PARAMETER_MESSAGES = [
    re.compile(r"Unsupported parameter: '(?P<param>[\w.]+)'"),
    re.compile(r"Unsupported value: '(?P<param>[\w.]+)' does not support .*Only the default"),
    re.compile(r"^`(?P<param>[\w.]+)` is deprecated for this model"),
    re.compile(r"Unrecognized request arguments? supplied: (?P<param>[\w.]+)"),
    re.compile(r"^(?P<param>[\w.]+): Extra inputs are not permitted"),
]
REPLACEMENT = re.compile(r"Use '(?P<param>[\w.]+)' instead")
# "n > 1 is not supported", "n must equal 1", "only n=1", "the n parameter", "'n': ..."
N_REFUSED = re.compile(
    r"(?:^|[^\w.])[`'\"]?n[`'\"]?(?:\s*(?:>|=|:|must|should|is not|not supported|parameter|only)|\s*$)"
    r"|multi(?:ple)?[- ]choices?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Refused:
    parameter: str
    replacement: str | None


def error_fields(body) -> tuple[str, str | None, str | None]:
    """(message, param, code) from an OpenAI- or Anthropic-shaped error body (or the SDK's view of it)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message", "")), inner.get("param"), inner.get("code")
        return str(inner), None, None
    return str(body or ""), None, None


def api_message(exc) -> str:
    """An SDK status error's message as the API wrote it, not the SDK's dump of the body."""
    return shorten(error_fields(exc.body)[0] or exc.message)


def unsupported_parameter(body, sent: dict) -> Refused | None:
    """The one parameter of ``sent`` that a 400 body names as unsupported, if it names one."""
    message, param, code = error_fields(body)
    if not (param and code in ("unsupported_parameter", "unsupported_value")):
        param = next((m.group("param") for p in PARAMETER_MESSAGES if (m := p.search(message))), None)
    if param is None:
        return None
    param = param.split(".")[0]
    if param == "n" or param not in sent:
        return None
    replacement = REPLACEMENT.search(message)
    return Refused(param, replacement.group("param") if replacement else None)


def refuses_n(body) -> bool:
    """Whether a 400 says the server answers one choice per request (``n`` must be 1)."""
    message, param, _ = error_fields(body)
    return param == "n" or bool(N_REFUSED.search(message))


def status_error(status: int, body, headers, message: str, sent: dict) -> ProviderError:
    """The wrapper's error for an HTTP error status, telling a refused ``n > 1`` and a refused
    parameter apart from other bad requests."""
    if status in (400, 422):
        if sent.get("n", 1) > 1 and refuses_n(body):
            return MultipleChoicesUnsupported(message)
        refused = unsupported_parameter(body, sent)
        if refused is not None:
            return UnsupportedParameter(message, parameter=refused.parameter, replacement=refused.replacement)
    return error_for_status(status, message, headers)
