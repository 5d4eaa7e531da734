"""Request bodies of the Responses and Conversations APIs, validated at the edge.

The models accept unknown keys (SDK users send ``extra_body``) and keep them, so that a
pass-through can forward what it does not understand. Validation failures become
:class:`~pilothouse.errors.InvalidRequest` with ``param`` set to the path of the bad
field, in the ``input[2].content`` notation OpenAI uses.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pilothouse.errors import InvalidRequest
from pilothouse.protocol.items import validate_input_items, validate_tools

_Model = TypeVar("_Model", bound=BaseModel)

METADATA_MAX_PAIRS = 16
METADATA_MAX_KEY = 64
METADATA_MAX_VALUE = 512


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, str] | None:
    """Enforce OpenAI's metadata limits: 16 pairs, keys ≤ 64 and values ≤ 512 characters."""
    if metadata is None:
        return None
    if len(metadata) > METADATA_MAX_PAIRS:
        raise ValueError(f"metadata may hold at most {METADATA_MAX_PAIRS} pairs")
    for key, value in metadata.items():
        if len(key) > METADATA_MAX_KEY:
            raise ValueError(f"metadata keys may be at most {METADATA_MAX_KEY} characters")
        if not isinstance(value, str):
            raise ValueError("metadata values must be strings")
        if len(value) > METADATA_MAX_VALUE:
            raise ValueError(f"metadata values may be at most {METADATA_MAX_VALUE} characters")
    return metadata


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CreateResponse(_Body):
    """``POST /v1/responses``."""

    model: str | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=0)
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    store: bool | None = None
    background: bool | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    user: str | None = None
    safety_identifier: str | None = Field(default=None, max_length=128)
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    prompt: dict[str, Any] | None = None

    _check_metadata = field_validator("metadata")(classmethod(lambda cls, v: check_metadata(v)))

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(value, str) and value not in ("none", "auto", "required"):
            raise ValueError("tool_choice must be 'none', 'auto', 'required' or an object")
        if isinstance(value, dict) and "type" not in value:
            raise ValueError("tool_choice objects need a 'type'")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        fmt = (value or {}).get("format")
        if fmt is None:
            return value
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in ("text", "json_schema", "json_object"):
            raise ValueError("text.format.type must be 'text', 'json_schema' or 'json_object'")
        if kind == "json_schema":
            if not isinstance(fmt.get("name"), str) or not fmt["name"]:
                raise ValueError("text.format.name is required for json_schema")
            if not isinstance(fmt.get("schema"), dict):
                raise ValueError("text.format.schema must be a JSON Schema object")
        return value

    @property
    def conversation_id(self) -> str | None:
        """The conversation id whether it was sent as a string or as ``{id}``."""
        if isinstance(self.conversation, dict):
            cid = self.conversation.get("id")
            return cid if isinstance(cid, str) else None
        return self.conversation

    @property
    def extras(self) -> dict[str, Any]:
        """Keys the client sent that this model does not name (``extra_body``)."""
        return dict(self.__pydantic_extra__ or {})


class InputTokensRequest(_Body):
    """``POST /v1/responses/input_tokens``."""

    model: str | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    truncation: str | None = None


class CreateConversation(_Body):
    """``POST /v1/conversations``."""

    items: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    metadata: dict[str, Any] | None = None

    _check_metadata = field_validator("metadata")(classmethod(lambda cls, v: check_metadata(v)))


class UpdateConversation(_Body):
    """``POST /v1/conversations/{id}``."""

    metadata: dict[str, Any]

    _check_metadata = field_validator("metadata")(classmethod(lambda cls, v: check_metadata(v)))


class CreateConversationItems(_Body):
    """``POST /v1/conversations/{id}/items``."""

    items: list[dict[str, Any]] = Field(max_length=20)


def parse(model: type[_Model], body: Any) -> _Model:
    """Validate ``body`` as ``model`` and check nested items; raise ``InvalidRequest``."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        raise _to_invalid_request(exc) from None
    items = getattr(parsed, "input", None) or getattr(parsed, "items", None)
    if isinstance(items, list):
        validate_input_items(items, "input" if hasattr(parsed, "input") else "items")
    tools = getattr(parsed, "tools", None)
    if tools:
        validate_tools(tools)
    return parsed


def _to_invalid_request(exc: ValidationError) -> InvalidRequest:
    first = exc.errors(include_url=False)[0]
    param = _param_path(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = f"Missing required parameter: '{param}'."
        return InvalidRequest(message, param=param, code="missing_required_parameter")
    return InvalidRequest(f"Invalid '{param}': {message}.", param=param, code="invalid_value")


def _param_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("str", "list[dict[str,any]]", "dict[str,any]", "function-after"):
            continue  # pydantic names union members in the location; they are not params
        else:
            path += f".{part}" if path else str(part)
    return path
