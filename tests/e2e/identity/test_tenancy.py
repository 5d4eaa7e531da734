"""Tenant isolation: what one tenant creates, another cannot see, change or delete (404)."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from tests.e2e.identity.conftest import MakeKey


def test_responses_and_conversations_are_invisible_across_tenants(
    make_key: MakeKey, sdk_for: Callable[[str], openai.OpenAI]
) -> None:
    acme = sdk_for(make_key("acme", "invoke")["key"])
    globex = sdk_for(make_key("globex", "invoke")["key"])
    response = acme.responses.create(model="gpt-4o-mini", input="secret plan")
    conversation = acme.conversations.create(
        items=[{"type": "message", "role": "user", "content": "hello"}]
    )
    for attempt in (
        lambda: globex.responses.retrieve(response.id),
        lambda: globex.responses.input_items.list(response.id),
        lambda: globex.responses.delete(response.id),
        lambda: globex.responses.create(
            model="gpt-4o-mini", input="more", previous_response_id=response.id
        ),
        lambda: globex.conversations.retrieve(conversation.id),
        lambda: globex.conversations.items.list(conversation.id),
        lambda: globex.conversations.delete(conversation.id),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert acme.responses.retrieve(response.id).id == response.id
    assert acme.conversations.retrieve(conversation.id).id == conversation.id
