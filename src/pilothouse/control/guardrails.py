"""Content filters as release configuration: what a response's input and output may hold.

A bundle declares guardrails once for the release (``guardrails.yaml`` at its root) and an
agent may replace them with its own (``guardrails:`` in ``agents/<name>.yaml``)::

    input:                               # checked before the first model call
      - {type: blocklist, terms: [wire the money, ignore previous instructions]}
      - {type: length, max_chars: 20000}
    output:                              # checked on each model output, before any tool
      - {type: regex, pattern: "(?i)internal use only"}   # call it asks for is executed
      - {type: json_schema, schema: {type: object}}       # and before it is returned
      - {type: classifier, target: my_company.moderation:classify}
    models: true                         # also filter plain (non-agent) model requests

Rule kinds: ``blocklist`` (terms, case-insensitive unless ``case_sensitive``; a term
matches at word boundaries, any run of whitespace matching the spaces between its words),
``regex`` (Python syntax, searched), ``length`` (``min_chars``/``max_chars`` of the
text), ``json_schema`` (the text must be JSON that validates; for output, checked on the
model's final message text) and ``classifier`` (an import path ``module:function`` to a
callable ``(text, stage) -> verdict``, sync or async, where a falsy verdict passes and
anything else — ``True`` or a reason string — blocks). Every rule may carry a ``name``
used in the journal (default ``<stage>.<type>#<n>``, such as ``output.regex#2``).

This module only describes and validates; :mod:`pilothouse.runtime.guardrails` applies.
Validation happens when the bundle loads: a regex that does not compile, a schema that is
not a schema or a target that is not an import path is a bundle problem with its file and
JSON pointer, like every other.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import jsonschema_rs
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=64)


class BlocklistRule(_Rule):
    """Blocks text holding any of ``terms`` (whole words, case-insensitive by default)."""

    type: Literal["blocklist"]
    terms: list[str] = Field(min_length=1)
    case_sensitive: bool = False

    @field_validator("terms")
    @classmethod
    def _non_empty_terms(cls, terms: list[str]) -> list[str]:
        if any(not term.strip() for term in terms):
            raise ValueError("terms must not be empty or blank")
        return terms


class RegexRule(_Rule):
    """Blocks text in which ``pattern`` is found."""

    type: Literal["regex"]
    pattern: str = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"the pattern does not compile: {exc}") from None
        return pattern


class LengthRule(_Rule):
    """Blocks text shorter than ``min_chars`` or longer than ``max_chars``."""

    type: Literal["length"]
    min_chars: int = Field(default=0, ge=0)
    max_chars: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _bounded(self) -> LengthRule:
        if self.max_chars is None and self.min_chars == 0:
            raise ValueError("set max_chars or min_chars")
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError("max_chars is below min_chars")
        return self


class JsonSchemaRule(_Rule):
    """Blocks text that is not JSON valid against ``schema``."""

    type: Literal["json_schema"]
    json_schema: dict[str, Any] = Field(alias="schema")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("json_schema")
    @classmethod
    def _is_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema_rs.validator_for(schema)
        except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
            raise ValueError(f"not a valid JSON Schema: {exc}") from None
        return schema


class ClassifierRule(_Rule):
    """Asks a callable (``module:function``) for a verdict on the text."""

    type: Literal["classifier"]
    target: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


Rule = Annotated[
    BlocklistRule | RegexRule | LengthRule | JsonSchemaRule | ClassifierRule,
    Field(discriminator="type"),
]


class GuardrailsConfig(BaseModel):
    """A release's (or an agent's) content filters. See the module docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: list[Rule] = Field(default_factory=list)
    output: list[Rule] = Field(default_factory=list)
    models: bool = False

    @property
    def empty(self) -> bool:
        """True when no rule is configured."""
        return not self.input and not self.output
