"""The one place that talks to ``cedarpy``: parsing, validation, entity graphs, evaluation.

``cedarpy`` binds the Rust Cedar engine. Its Python surface returns loosely typed
dictionaries and raises bare ``ValueError``; everything else in this package goes through
the small typed functions here instead, so an upgrade of ``cedarpy`` touches one file.

Performance notes that shape the API: parsing policies and building the entity graph
dominate a naive ``is_authorized`` call, so both are done once per release into immutable
handles (:class:`PolicySet`, :class:`Entities`); a request adds only its principal to the
shared graph (:func:`with_entities`), and it is evaluated without schema validation (the
entities are built from typed data by :mod:`.entities`, and validated against the schema
once, when the release graph is built).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cedarpy

Schema = cedarpy.Schema
PolicySet = cedarpy.PolicySet
Entities = cedarpy.Entities

_EVALUATION_ERROR = re.compile(r"^error while evaluating policy `([^`]*)`: (.*)$", re.DOTALL)


class CedarError(ValueError):
    """Cedar refused an input (policy text, schema, entities, request)."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Cedar's answer to one request.

    Attributes:
        allowed: Cedar's decision (deny when nothing permits or something forbids).
        reasons: Ids of the policies that determined it: the satisfied permits of an
            allow, the satisfied forbids of a deny (none for a default deny).
        errors: ``(policy id, message)`` for every policy whose evaluation failed; Cedar
            then treats that policy as not satisfied.
        failure: Set when Cedar could not evaluate the request at all (for example a
            malformed context); ``allowed`` is then False.
    """

    allowed: bool
    reasons: tuple[str, ...]
    errors: tuple[tuple[str, str], ...]
    failure: str | None = None


def parse_schema(text: str) -> Schema:
    """Parse a schema written in Cedar schema syntax."""
    try:
        return Schema.from_str(text)
    except ValueError as exc:
        raise CedarError(str(exc)) from exc


def parse_policies(text: str) -> dict[str, Any]:
    """Parse policy text into Cedar's JSON policy format (``staticPolicies``,
    ``templates``, ``templateLinks``); raise :class:`CedarError` with the parser's
    message on a syntax error."""
    try:
        parsed: dict[str, Any] = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        raise CedarError(str(exc)) from exc
    return parsed


def build_policy_set(policies: Mapping[str, Mapping[str, Any]]) -> PolicySet:
    """A policy-set handle from JSON-format static policies keyed by the id each policy
    should carry in decisions (ids are ours, not Cedar's positional ones)."""
    document = {"staticPolicies": dict(policies), "templates": {}, "templateLinks": []}
    try:
        return PolicySet.from_json_str(json.dumps(document))
    except ValueError as exc:
        raise CedarError(str(exc)) from exc


def validate(text: str, schema: Schema) -> list[str]:
    """Messages of every way ``text`` (one or more policies) breaks ``schema``."""
    result = cedarpy.validate_policies(text, schema)
    return [str(error.error) for error in result.errors]


def build_entities(entities: Sequence[Mapping[str, Any]], schema: Schema | None) -> Entities:
    """An entity-graph handle from Cedar JSON entities, checked against ``schema``."""
    try:
        return Entities.from_json_str(json.dumps(list(entities)), schema)
    except ValueError as exc:
        raise CedarError(str(exc)) from exc


def with_entities(base: Entities, added: Sequence[Mapping[str, Any]]) -> Entities:
    """A new handle: ``base`` plus ``added`` (``base`` is reused, not re-parsed)."""
    try:
        return base.with_added_json_str(json.dumps(list(added)))
    except ValueError as exc:
        raise CedarError(str(exc)) from exc


def evaluate(
    requests: Sequence[Mapping[str, Any]], policies: PolicySet, entities: Entities
) -> list[Evaluation]:
    """Evaluate requests (``principal``, ``action``, ``resource`` as ``{"type", "id"}``,
    ``context`` as Cedar JSON) against one policy set and graph, in one call.

    A request Cedar cannot evaluate comes back as a denial with ``failure`` set rather
    than as an exception: the caller is an authorization gate and must fail closed.
    """
    try:
        results = cedarpy.is_authorized_batch([dict(r) for r in requests], policies, entities)
    except ValueError as exc:
        return [Evaluation(False, (), (), failure=str(exc)) for _ in requests]
    return [_evaluation(result) for result in results]


def _evaluation(result: cedarpy.AuthzResult) -> Evaluation:
    diagnostics = result.diagnostics
    errors: list[tuple[str, str]] = []
    failure: str | None = None
    for error in diagnostics.errors:
        matched = _EVALUATION_ERROR.match(str(error))
        if matched:
            errors.append((matched.group(1), matched.group(2)))
        else:
            failure = str(error)
    return Evaluation(
        allowed=result.allowed and failure is None,
        reasons=tuple(sorted(str(reason) for reason in diagnostics.reasons)),
        errors=tuple(errors),
        failure=failure,
    )
