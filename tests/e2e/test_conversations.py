"""The Conversations API and responses that read from and append to conversations."""

from __future__ import annotations

import httpx2 as httpx
import openai
import pytest


def test_conversation_lifecycle(client: openai.OpenAI) -> None:
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "hello"}],
        metadata={"topic": "demo"},
    )
    assert conversation.id.startswith("conv_")
    assert conversation.object == "conversation"
    assert conversation.metadata == {"topic": "demo"}
    fetched = client.conversations.retrieve(conversation.id)
    assert fetched.id == conversation.id and fetched.created_at == conversation.created_at
    updated = client.conversations.update(conversation.id, metadata={"topic": "changed"})
    assert updated.metadata == {"topic": "changed"}
    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted is True and deleted.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)


def test_items_create_list_retrieve_delete(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    added = client.conversations.items.create(
        conversation.id,
        items=[{"type": "message", "role": "user", "content": f"m{i}"} for i in range(5)],
    )
    assert [item.content[0].text for item in added.data] == [f"m{i}" for i in range(5)]  # type: ignore[union-attr]
    newest_first = client.conversations.items.list(conversation.id, limit=2)
    assert newest_first.has_more
    texts = [
        item.content[0].text
        for item in client.conversations.items.list(  # type: ignore[union-attr]
            conversation.id, limit=2
        )
    ]
    assert texts == ["m4", "m3", "m2", "m1", "m0"]
    oldest_first = [
        item.content[0].text  # type: ignore[union-attr]
        for item in client.conversations.items.list(conversation.id, order="asc", limit=3)
    ]
    assert oldest_first == ["m0", "m1", "m2", "m3", "m4"]
    target = added.data[2]
    assert target.id is not None
    one = client.conversations.items.retrieve(target.id, conversation_id=conversation.id)
    assert one.id == target.id
    after_delete = client.conversations.items.delete(target.id, conversation_id=conversation.id)
    assert after_delete.id == conversation.id
    remaining = [i.id for i in client.conversations.items.list(conversation.id, order="asc")]
    assert target.id not in remaining and len(remaining) == 4
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(target.id, conversation_id=conversation.id)


def test_response_in_conversation_prepends_and_appends(client: openai.OpenAI) -> None:
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "My name is Ada."}]
    )
    first = client.responses.create(
        model="m", input="What is my name?", conversation=conversation.id
    )
    assert first.conversation is not None and first.conversation.id == conversation.id
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    roles = [(i.type, getattr(i, "role", None)) for i in items]
    assert roles == [("message", "user"), ("message", "user"), ("message", "assistant")]
    assert items[2].id == first.output[0].id
    second = client.responses.create(model="m", input="And again?", conversation=conversation.id)
    assert first.usage is not None and second.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens  # history was prepended
    assert len(list(client.conversations.items.list(conversation.id))) == 5


def test_streamed_response_appends_to_conversation(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    with client.responses.stream(model="m", input="streamed", conversation=conversation.id) as s:
        final = s.get_final_response()
    ids = [i.id for i in client.conversations.items.list(conversation.id, order="asc")]
    assert ids[-1] == final.output[0].id and len(ids) == 2


def test_conversation_with_previous_response_id_is_rejected(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    earlier = client.responses.create(model="m", input="x")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="m", input="y", conversation=conversation.id, previous_response_id=earlier.id
        )
    assert caught.value.body["param"] == "conversation"  # type: ignore[index]
    assert len(list(client.conversations.items.list(conversation.id))) == 0


def test_unknown_conversation_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="m", input="x", conversation="conv_missing")
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list("conv_missing")
    with pytest.raises(openai.NotFoundError):
        client.conversations.update("conv_missing", metadata={})


def test_conversation_limits(http: httpx.Client) -> None:
    too_many = [{"role": "user", "content": "x"}] * 21
    response = http.post("/v1/conversations", json={"items": too_many})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "items"
    bad_meta = http.post("/v1/conversations", json={"metadata": {"k" * 65: "v"}})
    assert bad_meta.status_code == 400
    assert bad_meta.json()["error"]["param"] == "metadata"
