"""Feedback on responses: client scores and labels, and eval grades (issue 6, item 5).

``POST /v1/responses/{id}/feedback`` takes ``{"score", "label", "comment", "source"}``:

* ``score``: a number in [-1, 1] (-1 worst, 0 neutral, 1 best; a 0..1 grade fits as is);
* ``label``: a short string (at most 64 characters), such as ``good`` or ``wrong``;
* at least one of the two; ``comment``: free text, at most 4,000 characters;
* ``source``: ``client`` (default) or ``eval`` (an evaluation's grade, same record).

Feedback is append-only and tenant-scoped: a response of another tenant is a 404, like
one that does not exist. How feedback refines a task's outcome is in
:mod:`pilothouse.observability.outcomes` (the newest record decides; negative rejects).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pilothouse.errors import InvalidRequest, NotFound
from pilothouse.protocol.ids import new_id
from pilothouse.storage.base import Store
from pilothouse.storage.outcomes import SOURCES, OutcomeStore, StoredFeedback

MAX_LABEL = 64
MAX_COMMENT = 4000


@dataclass(frozen=True, slots=True)
class FeedbackInput:
    """A validated feedback body."""

    score: float | None
    label: str | None
    comment: str | None
    source: str


def parse_feedback(body: Any) -> FeedbackInput:
    """Validate a request body; each problem is a 400 naming its ``param``."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", code="invalid_type")
    score = body.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise InvalidRequest("'score' must be a number.", param="score", code="invalid_type")
    if score is not None and not -1.0 <= float(score) <= 1.0:
        raise InvalidRequest(
            f"'score' must be between -1 and 1; got {score}.", param="score", code="invalid_value"
        )
    label = _text(body, "label", MAX_LABEL)
    if score is None and label is None:
        raise InvalidRequest(
            "Give a 'score' (from -1 to 1) or a 'label'.",
            param="score",
            code="missing_required_parameter",
        )
    source = body.get("source", "client")
    if source not in SOURCES:
        raise InvalidRequest(
            f"'source' must be one of {', '.join(SOURCES)}.", param="source", code="invalid_value"
        )
    return FeedbackInput(
        None if score is None else float(score), label, _text(body, "comment", MAX_COMMENT), source
    )


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", param=name, code="invalid_type")
    if not value.strip() or len(value) > limit:
        raise InvalidRequest(
            f"'{name}' must be 1 to {limit} characters.", param=name, code="invalid_value"
        )
    return value


class FeedbackService:
    """Records feedback on the responses of a tenant."""

    def __init__(self, responses: Store, outcomes: OutcomeStore) -> None:
        self.responses = responses
        self.outcomes = outcomes

    async def record(
        self, tenant: str, response_id: str, body: Any, principal_id: str | None
    ) -> StoredFeedback:
        """Validate, check the response exists in ``tenant``, and store the record."""
        given = parse_feedback(body)
        if await self.responses.get_response(tenant, response_id) is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        record = StoredFeedback(
            id=new_id("fb"),
            tenant=tenant,
            response_id=response_id,
            source=given.source,
            score=given.score,
            label=given.label,
            comment=given.comment,
            principal_id=principal_id,
            created_at=time.time(),
        )
        await self.outcomes.add_feedback(record)
        return record

    async def list(self, tenant: str, response_id: str) -> list[StoredFeedback]:
        """A response's feedback, oldest first (404 for an unknown response)."""
        if await self.responses.get_response(tenant, response_id) is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
        return await self.outcomes.feedback(tenant, response_id)
