"""Task outcomes: whether a run was a successful task, and if not, why (issue 6, item 5).

The journal records facts (a run's status, its ``incomplete_details.reason``, the code of
the error that ended it); this module turns them into an outcome at read time, so that
the taxonomy can evolve without rewriting journals.

**The rule.** A run is a *successful task* when it ``completed`` with no limit hit, no
policy block and no error, **and** its feedback does not reject it. Otherwise it has one
failure class:

================  ==============================================================
class             when
================  ==============================================================
timeout           incomplete on ``deadline_s``; failed with a timeout code
throttled         failed with a throttling code (429 ``rate_limit_exceeded`` …)
policy_block      incomplete or failed because policy denied (``content_filter``,
                  ``policy_denied``, ``approval_denied`` …)
tool_error        incomplete because a tool failed (``tool_error``)
limit_hit         incomplete on any other bound (``max_steps``, ``max_cost_usd`` …)
upstream_error    failed with any other error (the model provider's)
rejected          completed, but feedback rejected the answer
cancelled         cancelled by the client or at shutdown
================  ==============================================================

**Feedback.** A feedback record carries ``score`` in [-1, 1] (-1 worst, 0 neutral, 1 best;
a grader on a 0..1 scale fits as is) and/or a ``label``. The newest record of a response
decides, whatever its source (``client`` or ``eval``): a negative score, or without a
score a label in :data:`NEGATIVE_LABELS`, makes a completed run ``rejected``. Feedback never
turns a failed run into a success: the success rule's other conditions are facts.

**Budget hits** are limit hits on spend: ``max_cost_usd`` or any reason or code starting
with ``budget``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pilothouse.storage.outcomes import StoredFeedback

SUCCESS = "success"
FAILURE_CLASSES = (
    "timeout",
    "throttled",
    "policy_block",
    "tool_error",
    "limit_hit",
    "upstream_error",
    "rejected",
    "cancelled",
)

NEGATIVE_LABELS = frozenset(
    {"bad", "wrong", "incorrect", "fail", "failed", "failure", "negative", "thumbs_down"}
)
POLICY_REASONS = frozenset(
    {"content_filter", "policy_denied", "policy_block", "approval_denied", "permission_denied"}
)
THROTTLE_CODES = frozenset(
    {"rate_limit_exceeded", "rate_limited", "throttled", "insufficient_quota", "quota_exceeded"}
)
TIMEOUT_CODES = frozenset({"upstream_timeout", "timeout", "deadline_exceeded", "deadline_s"})


def rejects(records: Iterable[StoredFeedback]) -> bool:
    """Whether the newest of ``records`` (in any order) rejects the answer."""
    newest: StoredFeedback | None = None
    for record in records:
        if newest is None or (record.created_at, record.id) >= (newest.created_at, newest.id):
            newest = record
    if newest is None:
        return False
    if newest.score is not None:
        return newest.score < 0
    return (newest.label or "").strip().lower() in NEGATIVE_LABELS


def classify(status: str, reason: str | None, error_code: str | None, rejected: bool) -> str:
    """The outcome of a finished run: :data:`SUCCESS` or one of :data:`FAILURE_CLASSES`."""
    if status == "completed":
        return "rejected" if rejected else SUCCESS
    if status == "cancelled":
        return "cancelled"
    if status == "incomplete":
        return _incomplete(reason or "")
    return _failed(error_code or reason or "")


def _incomplete(reason: str) -> str:
    if reason in TIMEOUT_CODES:
        return "timeout"
    if reason in POLICY_REASONS:
        return "policy_block"
    if reason == "tool_error":
        return "tool_error"
    return "limit_hit"


def _failed(code: str) -> str:
    if code in THROTTLE_CODES or code.startswith("budget"):
        return "throttled"
    if code in TIMEOUT_CODES:
        return "timeout"
    if code in POLICY_REASONS:
        return "policy_block"
    return "upstream_error"


def is_budget_hit(reason: str | None) -> bool:
    """Whether a limit reason is a spend budget."""
    return reason is not None and (reason == "max_cost_usd" or reason.startswith("budget"))


def outcome_of(finished: dict[str, Any] | None, feedback: Iterable[StoredFeedback]) -> str:
    """The outcome of a run from its ``run.finished`` payload (``in_progress`` without)."""
    if finished is None:
        return "in_progress"
    code = finished.get("error_code")
    if code is None and finished.get("status") == "failed":
        code = finished.get("reason")
    return classify(str(finished.get("status")), finished.get("reason"), code, rejects(feedback))
