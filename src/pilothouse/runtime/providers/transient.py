"""Which upstream failures are transient: the one definition the resilience wrappers share.

A failure is *transient* when another attempt — later (:mod:`.retrying`), or at another
provider (:mod:`.fallback`) — may well succeed, and when it says the provider is unwell
(:mod:`.breaker` counts only these):

* ``408`` request timeout, ``409`` conflict (OpenAI answers it for transient lock
  contention), ``429`` throttling;
* every ``5xx`` except ``501`` and ``505``, which say that the server will never do this;
  connection failures and timeouts arrive as ``502 upstream_unreachable`` and
  ``504 upstream_timeout`` (see ``responses_http.py``), an open circuit as
  ``503 provider_unavailable``.

Every other ``4xx`` (bad request, bad key, unknown model, content too long) is the
request's fault, so repeating it anywhere repeats the answer. Anything that is not an
:class:`~pilothouse.errors.UpstreamError` (a bug, a cancellation, the caller's own
deadline) is never transient here: the contract of a provider is to raise
``UpstreamError`` for everything the upstream did.

This is the same set the OpenAI SDK retries (see ``reference/responses_api.md`` §5), less
the two 5xx statuses that cannot change on a retry.
"""

from __future__ import annotations

from pilothouse.errors import UpstreamError

TRANSIENT_4XX = frozenset({408, 409, 429})
PERMANENT_5XX = frozenset({501, 505})

# The code of the error a :class:`~pilothouse.runtime.providers.breaker.BreakerProvider`
# raises while its circuit is open (status 503).
PROVIDER_UNAVAILABLE = "provider_unavailable"


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an upstream failure that another attempt may not repeat."""
    if not isinstance(exc, UpstreamError):
        return False
    status = exc.status
    return status in TRANSIENT_4XX or (status >= 500 and status not in PERMANENT_5XX)


def is_circuit_open(exc: BaseException) -> bool:
    """Whether ``exc`` is a breaker's fast refusal rather than an upstream's answer."""
    return isinstance(exc, UpstreamError) and exc.code == PROVIDER_UNAVAILABLE
