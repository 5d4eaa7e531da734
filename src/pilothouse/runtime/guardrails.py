"""Content filters at run time: the rules of a :class:`GuardrailsConfig`, compiled and applied.

:class:`ContentFilters` is built once per release (or agent) and is stateless, so every
run shares it. It reads text out of Responses items:

* input — the text of ``user`` messages and of ``function_call_output`` items (both come
  from the client); instructions and governed tool results are the operator's and the
  tools', not the caller's;
* output — the text of the model's messages and the arguments of the tool calls it asks
  for (a blocked term in the arguments of a tool call is stopped before the call runs).

``length`` and ``json_schema`` look at message text only (a step that only calls tools
has no message to measure); the other rules look at every text. A hit names its rule and
stage and never quotes the matched text: the hit is journaled, and the journal must not
become the place the blocked content ends up.

A classifier that raises blocks (fails closed): a safety check that cannot answer must not
let content through unchecked. Its error is logged by type only.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import orjson

from pilothouse.control.guardrails import (
    BlocklistRule,
    ClassifierRule,
    GuardrailsConfig,
    JsonSchemaRule,
    LengthRule,
    RegexRule,
    Rule,
)
from pilothouse.errors import InvalidRequest
from pilothouse.protocol.items import message_text

log = logging.getLogger(__name__)

Item = dict[str, Any]
Classifier = Callable[[str, str], Any]

CONTENT_FILTER = "content_filter"
"""The ``incomplete_details.reason`` of a response a filter stopped."""

POLICY_EVENT = "policy.content_filter"
"""The journal kind of a filter hit (one place, so the journal's readers find it)."""


@dataclass(frozen=True, slots=True)
class FilterHit:
    """Which rule stopped a response, at which stage; never the matched text."""

    stage: str
    rule: str
    kind: str

    def payload(self) -> dict[str, str]:
        """The journal payload of the hit."""
        return {"stage": self.stage, "rule": self.rule, "rule_type": self.kind}


@dataclass(frozen=True, slots=True)
class _Texts:
    """The texts of one stage: every text, and the message text alone."""

    all: list[str]
    message: str | None


class _Compiled:
    """One rule, ready to check text."""

    def __init__(self, rule: Rule, label: str, classifier: Classifier | None) -> None:
        self.rule = rule
        self.label = label
        self._classifier = classifier
        self._pattern: re.Pattern[str] | None = None
        self._schema: jsonschema_rs.Validator | None = None
        if isinstance(rule, BlocklistRule):
            words = "|".join(r"\s+".join(map(re.escape, term.split())) for term in rule.terms)
            flags = 0 if rule.case_sensitive else re.IGNORECASE
            self._pattern = re.compile(rf"(?<!\w)(?:{words})(?!\w)", flags)
        elif isinstance(rule, RegexRule):
            self._pattern = re.compile(rule.pattern)
        elif isinstance(rule, JsonSchemaRule):
            self._schema = jsonschema_rs.validator_for(rule.json_schema)

    async def blocks(self, texts: _Texts, stage: str) -> bool:
        rule = self.rule
        if self._pattern is not None:
            return any(self._pattern.search(text) for text in texts.all)
        if isinstance(rule, LengthRule):
            return texts.message is not None and not (
                rule.min_chars <= len(texts.message) <= (rule.max_chars or len(texts.message))
            )
        if self._schema is not None:
            return texts.message is not None and not _valid_json(self._schema, texts.message)
        return await self._classify("\n".join(texts.all), stage)

    async def _classify(self, text: str, stage: str) -> bool:
        assert self._classifier is not None
        try:
            verdict = self._classifier(text, stage)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except Exception as exc:
            log.warning(
                "content classifier failed; blocking",
                extra={"rule": self.label, "error": type(exc).__name__},
            )
            return True
        return bool(verdict)


class ContentFilters:
    """The input and output rules of one configuration. See the module docstring.

    Raises:
        InvalidRequest: A classifier's import path cannot be imported or is not callable.
    """

    def __init__(self, config: GuardrailsConfig) -> None:
        self.config = config
        self._input = _compile(config.input, "input")
        self._output = _compile(config.output, "output")

    @property
    def checks_input(self) -> bool:
        """Whether any input rule is configured."""
        return bool(self._input)

    @property
    def checks_output(self) -> bool:
        """Whether any output rule is configured."""
        return bool(self._output)

    async def check_input(self, items: Iterable[Item]) -> FilterHit | None:
        """The first input rule the client's items break, or None."""
        return await _first_hit(self._input, _input_texts(items), "input")

    async def check_output(self, items: Iterable[Item]) -> FilterHit | None:
        """The first output rule the model's items break, or None."""
        return await _first_hit(self._output, _output_texts(items), "output")


async def _first_hit(rules: list[_Compiled], texts: _Texts, stage: str) -> FilterHit | None:
    if not texts.all:
        return None
    for compiled in rules:
        if await compiled.blocks(texts, stage):
            return FilterHit(stage, compiled.label, compiled.rule.type)
    return None


def _compile(rules: list[Rule], stage: str) -> list[_Compiled]:
    compiled: list[_Compiled] = []
    for index, rule in enumerate(rules):
        label = rule.name or f"{stage}.{rule.type}#{index + 1}"
        classifier = _import(rule.target, label) if isinstance(rule, ClassifierRule) else None
        compiled.append(_Compiled(rule, label, classifier))
    return compiled


def _import(target: str, label: str) -> Classifier:
    module_name, _, attribute = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidRequest(
            f"Content filter '{label}': cannot import classifier '{target}': {exc}.",
            code="invalid_guardrail",
        ) from None
    if not callable(found):
        raise InvalidRequest(
            f"Content filter '{label}': '{target}' is not callable.", code="invalid_guardrail"
        )
    classifier: Classifier = found
    return classifier


def _input_texts(items: Iterable[Item]) -> _Texts:
    texts: list[str] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") == "user":
            texts.append(message_text(item))
        elif kind == "function_call_output":
            output = item.get("output")
            texts.append(output if isinstance(output, str) else orjson.dumps(output).decode())
    texts = [text for text in texts if text]
    return _Texts(texts, "\n".join(texts) if texts else None)


def _output_texts(items: Iterable[Item]) -> _Texts:
    messages: list[str] = []
    arguments: list[str] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            messages.append(message_text(item))
        elif kind == "function_call":
            arguments.append(str(item.get("arguments") or ""))
    message = "".join(messages) if messages else None
    return _Texts([text for text in (*messages, *arguments) if text], message)


def _valid_json(validator: jsonschema_rs.Validator, text: str) -> bool:
    try:
        return bool(validator.is_valid(orjson.loads(text)))
    except orjson.JSONDecodeError:
        return False


class ReleaseGuardrails:
    """The content filters of one release: its own, and any an agent declares instead.

    Compiled once when the release is loaded (a classifier that cannot be imported makes
    the release unservable here, like a tool module that cannot be imported).
    """

    def __init__(self, release: GuardrailsConfig, agents: dict[str, GuardrailsConfig]) -> None:
        self._release = None if release.empty else ContentFilters(release)
        self._models = self._release if release.models else None
        self._agents = {
            name: (None if config.empty else ContentFilters(config))
            for name, config in agents.items()
        }

    def for_agent(self, name: str) -> ContentFilters | None:
        """The filters of agent ``name``: its own when it declares any, else the release's."""
        if name in self._agents:
            return self._agents[name]
        return self._release

    def for_models(self) -> ContentFilters | None:
        """The filters of plain model requests (the release's, when ``models: true``)."""
        return self._models
