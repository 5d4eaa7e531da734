"""The success rule and the failure taxonomy (observability/outcomes.py)."""

from __future__ import annotations

import pytest

from pilothouse.observability.outcomes import classify, is_budget_hit, outcome_of, rejects
from pilothouse.storage.outcomes import StoredFeedback


def _fb(
    score: float | None, label: str | None = None, at: float = 1.0, n: str = "a"
) -> StoredFeedback:
    return StoredFeedback(f"fb_{n}", "t", "resp_1", "client", score, label, None, None, at)


@pytest.mark.parametrize(
    ("status", "reason", "code", "expected"),
    [
        ("completed", None, None, "success"),
        ("cancelled", "cancelled", None, "cancelled"),
        ("incomplete", "deadline_s", None, "timeout"),
        ("incomplete", "content_filter", None, "policy_block"),
        ("incomplete", "policy_denied", None, "policy_block"),
        ("incomplete", "tool_error", None, "tool_error"),
        ("incomplete", "max_steps", None, "limit_hit"),
        ("incomplete", "max_cost_usd", None, "limit_hit"),
        ("incomplete", "max_output_tokens", None, "limit_hit"),
        ("failed", "rate_limit_exceeded", "rate_limit_exceeded", "throttled"),
        ("failed", None, "budget_usd_per_day", "throttled"),
        ("failed", "upstream_timeout", "upstream_timeout", "timeout"),
        ("failed", "upstream_unreachable", "upstream_unreachable", "upstream_error"),
        ("failed", None, None, "upstream_error"),
    ],
)
def test_taxonomy(status: str, reason: str | None, code: str | None, expected: str) -> None:
    assert classify(status, reason, code, rejected=False) == expected


def test_feedback_rejects_only_a_success() -> None:
    assert classify("completed", None, None, rejected=True) == "rejected"
    assert classify("incomplete", "max_steps", None, rejected=True) == "limit_hit"


def test_the_newest_feedback_decides() -> None:
    assert not rejects([])
    assert rejects([_fb(0.9, at=1, n="a"), _fb(-0.1, at=2, n="b")])
    assert not rejects([_fb(-1, at=1, n="a"), _fb(0.0, at=2, n="b")])  # 0 is neutral
    assert rejects([_fb(None, "Wrong")])
    assert not rejects([_fb(None, "great")])
    assert not rejects([_fb(0.2, "wrong")])  # a score, when given, decides


def test_outcome_of_a_run_finished_payload() -> None:
    assert outcome_of(None, []) == "in_progress"
    failed = {"status": "failed", "reason": "x", "error_code": "rate_limit_exceeded"}
    assert outcome_of(failed, []) == "throttled"
    assert outcome_of({"status": "failed", "reason": "upstream_timeout"}, []) == "timeout"
    assert outcome_of({"status": "completed", "reason": None}, [_fb(-1)]) == "rejected"


def test_budget_hits() -> None:
    assert is_budget_hit("max_cost_usd") and is_budget_hit("budget_tokens_per_minute")
    assert not is_budget_hit("max_steps") and not is_budget_hit(None)
