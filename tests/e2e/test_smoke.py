"""The first thing a user does: point the SDK at Pilothouse and create a response."""

from __future__ import annotations

import openai


def test_create_and_retrieve(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o-mini", input="Say hello")
    assert response.status == "completed"
    assert response.output_text == "You said: Say hello"
    again = client.responses.retrieve(response.id)
    assert again.id == response.id
    assert again.output_text == response.output_text
