"""The process's data boundary: serialised JSON redaction, log filters on handlers, the
secret sources fed to its registry, and the redacting store wrapper."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pilothouse.control.tool_contract import ToolContract
from pilothouse.observability.redaction import (
    RedactingFilter,
    RedactionMode,
    RedactionPolicy,
    Redactor,
    SecretsRegistry,
)
from pilothouse.observability.redaction.boundary import DataBoundary
from pilothouse.observability.redaction.sources import provider_secrets, tool_secrets
from pilothouse.settings import ProviderConfig
from pilothouse.storage.base import JournalEntry, StoredResponse, StoredRun
from pilothouse.storage.redacting import RedactingStore


def test_json_text_walks_parsed_json_and_keeps_clean_text_as_is() -> None:
    boundary = DataBoundary()
    clean = '{"a": "nothing here", "n": 12}'
    assert boundary.json_text(clean) is clean
    dirty = orjson.dumps({"args": '{"to": "ada@example.org"}', "password": "plain"}).decode()
    redacted = orjson.loads(boundary.json_text(dirty))
    assert redacted == {"args": '{"to": "[REDACTED:email]"}', "password": "[REDACTED:api_key]"}
    assert boundary.json_text("not json ada@example.org") == "not json [REDACTED:email]"


def test_the_policy_in_force_can_change(monkeypatch: pytest.MonkeyPatch) -> None:
    boundary = DataBoundary()
    boundary.register(["provider-key-123456"], "test")
    monkeypatch.setenv("HASH_KEY_FOR_TEST", "k" * 20)
    boundary.use_policy(
        RedactionPolicy(modes={"email": RedactionMode.HASH}, hash_key="env:HASH_KEY_FOR_TEST")
    )
    assert boundary.text("a@b.example").startswith("[email:")
    assert boundary.text("provider-key-123456") == "[REDACTED:secret]"  # the registry stays
    assert boundary.text("k" * 20) == "[REDACTED:secret]"  # the hash key is a secret too


def test_short_values_are_not_registered_and_say_so(caplog: pytest.LogCaptureFixture) -> None:
    boundary = DataBoundary()
    boundary.register(["abc", ""], "a model provider")
    assert len(boundary.secrets) == 0
    assert "a secret of a model provider is too short" in caplog.text


def test_log_filters_are_installed_on_handlers_and_removed() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test_boundary.isolated")  # its own handler, no propagation
    logger.propagate = False
    logger.addHandler(handler)
    boundary = DataBoundary()
    boundary.register(["tok-very-secret-value"], "test")
    try:
        boundary.install_log_filter(["test_boundary.isolated"])
        boundary.install_log_filter(["test_boundary.isolated"])  # idempotent
        logger.warning("sending %s to %s", "tok-very-secret-value", "ada@example.org")
        boundary.remove_log_filter()
        logger.warning("after: ada@example.org")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == ["sending [REDACTED:secret] to [REDACTED:email]", "after: ada@example.org"]


def test_secret_sources() -> None:
    providers = [
        ProviderConfig(name="a", kind="openai", api_key=SecretStr("sk-literal-key-0001")),
        ProviderConfig(
            name="b",
            kind="openai",
            headers={"OpenAI-Organization": "org-1", "X-Api-Key": "xk-123456"},
        ),
    ]
    assert list(provider_secrets(providers)) == ["sk-literal-key-0001", "xk-123456"]
    tool = ToolContract.model_validate(
        {
            "name": "t",
            "adapter": {
                "type": "http",
                "url": "https://x.example/",
                "headers": {"Authorization": "Bearer abcdef123456", "X-Trace": "plain"},
            },
        }
    )
    assert list(tool_secrets([tool])) == ["Bearer abcdef123456"]


@dataclass
class MemoryStore:
    """Keeps what it is given, to see what a wrapped store would write."""

    responses: list[StoredResponse] = field(default_factory=list)
    entries: list[JournalEntry] = field(default_factory=list)
    runs: list[StoredRun] = field(default_factory=list)
    journal: Any = None

    async def insert_response(self, record: StoredResponse, items: Any = None) -> None:
        self.responses.append(record)

    async def create_run(self, run: StoredRun, entries: list[JournalEntry]) -> None:
        self.runs.append(run)
        self.entries += entries


async def test_the_store_wrapper_writes_redacted_copies() -> None:
    inner = MemoryStore()
    inner.journal = inner
    store = RedactingStore(inner, DataBoundary())  # type: ignore[arg-type]
    record = StoredResponse("resp_1", "t", 0, "completed", "m", '{"o": "ada@example.org"}', "[]")
    await store.insert_response(record)
    assert inner.responses[0].resource == '{"o":"[REDACTED:email]"}'
    assert record.resource == '{"o": "ada@example.org"}'  # the caller's record is untouched
    assert inner.responses[0].input_items is record.input_items
    assert store.journal is not None
    entry = JournalEntry("resp_1", 1, "tool.intent", 0, 0.0, {"arguments": "ada@example.org"})
    run = StoredRun("resp_1", "t", "a", "1", "in_progress", 0, 0, '{"history": "ada@example.org"}')
    await store.journal.create_run(run, [entry])
    assert inner.runs[0].spec == '{"history":"[REDACTED:email]"}'
    assert inner.entries[0].payload == {"arguments": "[REDACTED:email]"}
    assert entry.payload == {"arguments": "ada@example.org"}
    assert store.responses is inner.responses  # anything else is the inner store's


def test_the_boundary_filter_takes_the_place_of_a_handlers_own_redacting_filter() -> None:
    """A record is redacted once: the handler's own filter (provider keys only) steps
    aside while the boundary's (every secret, the release policy) is installed."""
    own = RedactingFilter(Redactor(secrets=SecretsRegistry(["tok-provider-key-1"])))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(own)
    logger = logging.getLogger("test_boundary.own_filter")
    logger.propagate = False
    logger.addHandler(handler)
    boundary = DataBoundary()
    boundary.register(["tok-provider-key-1", "tok-tool-credential-2"], "test")
    try:
        boundary.install_log_filter(["test_boundary.own_filter"])
        assert own not in handler.filters and len(handler.filters) == 1
        logger.warning("%s %s", "tok-provider-key-1", "tok-tool-credential-2")
        boundary.remove_log_filter()
        assert handler.filters == [own]
        logger.warning("after: %s", "tok-provider-key-1")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == ["[REDACTED:secret] [REDACTED:secret]", "after: [REDACTED:secret]"]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.sampled_from(
        ["ada@example.org", "4111 1111 1111 1111", "sk-proj-canary0123456789abcdef", "plain"]
    )
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["password", "email", "note", "ada@example.org"]) | st.text(max_size=8),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(resource=_JSON, input_items=_JSON, spec=_JSON)
async def test_walking_the_writers_values_stores_what_parsing_the_text_stores(
    resource: Any, input_items: Any, spec: Any
) -> None:
    """A writer that hands over the values its JSON serialises (``sources``,
    ``spec_source``) gets exactly the redacted text a writer of text alone gets."""
    stored: dict[bool, tuple[str, str, str]] = {}
    for with_sources in (False, True):
        inner = MemoryStore()
        inner.journal = inner
        store = RedactingStore(inner, DataBoundary())  # type: ignore[arg-type]
        texts = [orjson.dumps(v).decode() for v in (resource, input_items, spec)]
        record = StoredResponse(
            "resp_1", "t", 0, "completed", "m", texts[0], texts[1],
            sources=(resource, input_items) if with_sources else None,
        )  # fmt: skip
        run = StoredRun(
            "resp_1", "t", "a", "1", "in_progress", 0, 0, texts[2],
            spec_source=spec if with_sources else None,
        )  # fmt: skip
        await store.insert_response(record)
        assert store.journal is not None
        await store.journal.create_run(run, [])
        written, created = inner.responses[0], inner.runs[0]
        stored[with_sources] = (written.resource, written.input_items, created.spec)
        if written is not record:  # a redacted copy holds no clear value
            assert written.sources is None
        if created is not run:
            assert created.spec_source is None
    assert stored[True] == stored[False]


async def test_a_writes_entries_are_redacted_in_one_walk_and_clean_ones_kept() -> None:
    inner = MemoryStore()
    inner.journal = inner
    store = RedactingStore(inner, DataBoundary())  # type: ignore[arg-type]
    assert store.journal is not None
    clean = [JournalEntry("resp_1", n, "model.started", 1, 0.0, {"n": n}) for n in (1, 2)]
    dirty = JournalEntry("resp_1", 3, "tool.intent", 1, 0.0, {"to": "ada@example.org"})
    run = StoredRun("resp_1", "t", "a", "1", "in_progress", 0, 0, "{}")
    await store.journal.create_run(run, [clean[0], dirty, clean[1]])
    first, redacted, last = inner.entries
    assert first is clean[0] and last is clean[1]  # nothing found: the same objects
    assert redacted.payload == {"to": "[REDACTED:email]"} and redacted.seq == 3
    await store.journal.create_run(run, clean)
    assert inner.entries[3:] == clean and inner.entries[3] is clean[0]
