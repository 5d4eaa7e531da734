"""Content filters: each rule kind, which texts each stage reads, and the provider wrapper
on both paths (blocked input never calls the model; held events are released when clean)."""

from __future__ import annotations

from typing import Any

import pytest

from pilothouse.control.guardrails import GuardrailsConfig
from pilothouse.errors import InvalidRequest
from pilothouse.protocol.items import assistant_message, function_call, user_message
from pilothouse.runtime.guardrails import ContentFilters, FilterHit, ReleaseGuardrails
from pilothouse.runtime.providers.base import ModelRequest, ModelResult
from pilothouse.runtime.providers.filtered import NOTICE, FilteredProvider
from pilothouse.runtime.providers.scripted import ScriptedProvider

CALLS: list[tuple[str, str]] = []


def strict_classifier(text: str, stage: str) -> bool:
    CALLS.append((text, stage))
    return "bad" in text


async def async_classifier(text: str, stage: str) -> str | None:
    return "flagged" if "flag" in text else None


def broken_classifier(text: str, stage: str) -> bool:
    raise RuntimeError("model server down")


def filters(**config: Any) -> ContentFilters:
    return ContentFilters(GuardrailsConfig.model_validate(config))


async def test_blocklist_matches_whole_words_case_insensitively() -> None:
    rules = filters(input=[{"type": "blocklist", "terms": ["drop table"], "name": "sql"}])
    hit = await rules.check_input([user_message("please DROP \n  TABLE x")])
    assert hit == FilterHit("input", "sql", "blocklist")
    hit = await rules.check_input([user_message("please Drop Table users")])
    assert hit == FilterHit("input", "sql", "blocklist")
    assert await rules.check_input([user_message("backdrop tables")]) is None
    sensitive = filters(input=[{"type": "blocklist", "terms": ["Acme"], "case_sensitive": True}])
    assert await sensitive.check_input([user_message("acme")]) is None


async def test_input_reads_only_what_the_client_sent() -> None:
    rules = filters(input=[{"type": "regex", "pattern": "secret"}])
    operator = {"type": "message", "role": "developer", "content": "secret instructions"}
    assert await rules.check_input([operator, assistant_message("a secret")]) is None
    output = {"type": "function_call_output", "call_id": "c", "output": {"v": "secret"}}
    assert (await rules.check_input([output])) is not None


async def test_length_and_schema_read_message_text_only() -> None:
    rules = filters(
        output=[
            {"type": "length", "max_chars": 10},
            {"type": "json_schema", "schema": {"type": "object", "required": ["a"]}},
        ]
    )
    assert await rules.check_output([function_call("t", '{"x": "' + "y" * 50 + '"}')]) is None
    too_long = await rules.check_output([assistant_message("x" * 11)])
    assert too_long is not None and too_long.rule == "output.length#1"
    not_json = await rules.check_output([assistant_message("hello")])
    assert not_json is not None and not_json.kind == "json_schema"
    wrong = await rules.check_output([assistant_message('{"b": 1}')])
    assert wrong is not None and wrong.rule == "output.json_schema#2"
    assert await rules.check_output([assistant_message('{"a": 1}')]) is None


async def test_output_rules_see_tool_call_arguments() -> None:
    rules = filters(output=[{"type": "regex", "pattern": "rm -rf"}])
    assert await rules.check_output([function_call("shell", '{"cmd": "rm -rf /"}')]) is not None


async def test_classifiers_sync_async_and_failing() -> None:
    here = "tests.unit.runtime.test_guardrails"
    CALLS.clear()
    rules = filters(
        input=[{"type": "classifier", "target": f"{here}:strict_classifier"}],
        output=[{"type": "classifier", "target": f"{here}:async_classifier"}],
    )
    assert await rules.check_input([user_message("fine")]) is None
    assert CALLS == [("fine", "input")]
    assert await rules.check_input([user_message("bad")]) is not None
    assert await rules.check_output([assistant_message("please flag")]) is not None
    failing = filters(output=[{"type": "classifier", "target": f"{here}:broken_classifier"}])
    assert await failing.check_output([assistant_message("anything")]) is not None  # closed


def test_a_classifier_that_cannot_be_imported_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="cannot import classifier"):
        filters(output=[{"type": "classifier", "target": "no_such_module:check"}])
    with pytest.raises(InvalidRequest, match="not callable"):
        filters(output=[{"type": "classifier", "target": "pilothouse.runtime.guardrails:log"}])


def test_release_and_agent_guardrails() -> None:
    release = GuardrailsConfig.model_validate(
        {"input": [{"type": "regex", "pattern": "x"}], "models": True}
    )
    own = GuardrailsConfig.model_validate({"output": [{"type": "regex", "pattern": "y"}]})
    guardrails = ReleaseGuardrails(release, {"special": own, "open": GuardrailsConfig()})
    assert guardrails.for_agent("plain-agent") is guardrails.for_models()
    special = guardrails.for_agent("special")
    assert special is not None and special.checks_output and not special.checks_input
    assert guardrails.for_agent("open") is None  # an agent may opt out with empty rules
    assert ReleaseGuardrails(GuardrailsConfig(), {}).for_models() is None


def request(text: str) -> ModelRequest:
    return ModelRequest(model="m", input=[user_message(text)])


class CountingProvider(ScriptedProvider):
    def __init__(self) -> None:
        super().__init__("offline")
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResult:
        self.calls += 1
        return await super().complete(request)


async def test_blocked_input_never_calls_the_model() -> None:
    inner = CountingProvider()
    hits: list[FilterHit] = []
    provider = FilteredProvider(
        inner, filters(input=[{"type": "blocklist", "terms": ["nope"]}]), hits.append
    )
    result = await provider.complete(request("nope"))
    assert (result.status, result.incomplete_details) == (
        "incomplete",
        {"reason": "content_filter"},
    )
    assert result.output[0]["content"][0]["text"] == NOTICE
    assert inner.calls == 0 and len(hits) == 1
    # Input is checked once per run: later steps carry the same client input.
    assert (await provider.complete(request("nope"))).status == "completed"


async def test_streams_are_released_when_clean_and_replaced_when_not() -> None:
    rules = filters(output=[{"type": "regex", "pattern": "forbidden"}])
    clean = [
        e
        async for e in FilteredProvider(ScriptedProvider("s"), rules, [].append).stream(
            request("hi")
        )
    ]
    assert isinstance(clean[-1], ModelResult) and clean[-1].status == "completed"
    assert any(e.get("type") == "response.output_text.delta" for e in clean[:-1])  # type: ignore[union-attr]
    hits: list[FilterHit] = []
    blocked = [
        e
        async for e in FilteredProvider(ScriptedProvider("s"), rules, hits.append).stream(
            request("say forbidden")
        )
    ]
    final = blocked[-1]
    assert isinstance(final, ModelResult) and final.incomplete_details == {
        "reason": "content_filter"
    }
    assert final.usage is not None  # the blocked call's tokens are still accounted
    assert "forbidden" not in str(blocked[:-1]) and NOTICE in str(blocked[:-1])
    assert hits == [FilterHit("output", "output.regex#1", "regex")]
