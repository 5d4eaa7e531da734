"""Tool contracts: the JSON Schema of a governed tool and how it is reached.

A contract (``tools/<name>.json``) is the source of truth for a tool: its input schema,
optionally its output schema, and an adapter binding that says how to call it (a Python
callable, an HTTP endpoint, an MCP server or an OpenAPI operation). Secrets appear only
as references (``env:NAME``, ``file:PATH``), resolved when the adapter is built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pilothouse.control import data_classes as vocabulary


class _Binding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PythonBinding(_Binding):
    """An in-process callable, ``package.module:function`` (sync or async)."""

    type: Literal["python"]
    target: str = Field(pattern=r"^[\w.]+:[\w.]+$")


class HttpBinding(_Binding):
    """An HTTP endpoint taking and returning JSON.

    ``url`` may hold ``{argument}`` fields (filled from the arguments and removed
    from the body) and ``${NAME}`` environment references. GET and DELETE send the
    remaining arguments as the query string, other methods as a JSON body.

    ``egress`` is the allowlist of where requests may go: host patterns
    (``api.example.com``, ``*.example.com``, ``host:port``) or URL prefixes
    (``https://api.example.com/v2/``). Empty means anywhere; a request elsewhere is
    refused before it is sent.
    """

    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    egress: list[str] = Field(default_factory=list)


class McpBinding(_Binding):
    """A tool on an MCP server, over stdio (``command``) or streamable HTTP (``url``)."""

    type: Literal["mcp"]
    command: list[str] | None = None
    url: str | None = None
    tool: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)


class OpenApiBinding(_Binding):
    """One operation of an OpenAPI 3 document."""

    type: Literal["openapi"]
    document: str
    operation_id: str
    base_url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    egress: list[str] = Field(default_factory=list)


Binding = Annotated[
    PythonBinding | HttpBinding | McpBinding | OpenApiBinding, Field(discriminator="type")
]


class ToolContract(BaseModel):
    """One governed tool.

    Data boundaries: ``data_classes`` names the data the tool is cleared to receive
    (classes such as ``email`` or groups such as ``pii``, see
    :mod:`pilothouse.control.data_classes`); ``egress`` says whether its arguments leave
    Pilothouse's trust boundary — when not set, every binding but ``python`` does. An
    egress tool is never sent data of a class it is not cleared for.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    adapter: Binding
    timeout_s: float | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)
    max_output_bytes: int | None = Field(default=None, ge=1)
    side_effect: bool = False
    data_classes: list[str] = Field(default_factory=list)
    egress: bool | None = None

    @field_validator("data_classes")
    @classmethod
    def _known_classes(cls, names: list[str]) -> list[str]:
        unknown = vocabulary.unknown_names(names)
        if unknown:
            known = ", ".join(sorted(vocabulary.KNOWN))
            raise ValueError(f"unknown data classes {', '.join(unknown)} (known: {known})")
        return names

    @property
    def has_egress(self) -> bool:
        """Whether calling the tool sends its arguments outside (declared, else derived)."""
        return self.egress if self.egress is not None else self.adapter.type != "python"

    @property
    def cleared_data_classes(self) -> frozenset[str]:
        """The fine data classes (and group names) the tool may receive."""
        return vocabulary.clearance(self.data_classes)

    approval: Literal["required", "four_eyes"] | None = None
    """``required``: every call waits for a person's approval; ``four_eyes``: and that
    person must hold another key than the run's."""

    def as_function_tool(self) -> dict[str, Any]:
        """The tool as a Responses ``function`` tool for the model."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description or None,
            "parameters": self.input_schema,
            "strict": False,
        }

    def as_mcp_listing(self) -> dict[str, Any]:
        """The tool as listed in an ``mcp_list_tools`` item."""
        return {
            "name": self.name,
            "description": self.description or None,
            "input_schema": self.input_schema,
            "annotations": {"side_effect": self.side_effect},
        }
