"""Tool contracts from an OpenAPI 3 document: one governed tool per operation.

:func:`contracts_from_openapi` reads a document (already parsed) and builds a
:class:`~pilothouse.control.tool_contract.ToolContract` per operation:

* the name is the ``operationId`` (operations without one are skipped unless asked for
  by name, which is an error);
* the input schema is an object whose properties are the path and query parameters and,
  for a JSON ``requestBody`` whose schema is an object, its properties (a non-object body
  is one ``body`` argument); a name used by both a parameter and a body property is an
  error, since the call's arguments could not say which is meant;
* the output schema is the JSON schema of the ``200`` (else ``201``) response, if any;
* ``$ref``s into the document (``#/components/...``) are inlined; a recursive or external
  ``$ref`` is an error. OpenAPI 3.0's ``nullable: true`` becomes a ``"null"`` type.

Header and cookie parameters are not arguments (a model should not set them); fixed
headers come from the binding. :func:`find_operation` gives the runtime adapter the same
reading of one operation, so what was validated is what is sent.

In a bundle, ``tools/<name>.openapi.yaml`` (or ``.json``) is an :class:`OpenApiSource`
that names the document (relative to the bundle root) and which operations to expose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pilothouse.control.tool_contract import OpenApiBinding, ToolContract

_METHODS = ("get", "put", "post", "delete", "patch")
_READ_ONLY = frozenset({"GET"})
_ARGUMENT_LOCATIONS = frozenset({"path", "query"})


class OpenApiImportError(ValueError):
    """The document cannot be turned into contracts; ``pointer`` says where."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer


class OpenApiSource(BaseModel):
    """A bundle's ``tools/<name>.openapi.yaml``: which operations of which document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    openapi: str = Field(min_length=1, description="The document, relative to the bundle.")
    base_url: str | None = None
    operations: list[str] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    egress: list[str] = Field(default_factory=list)
    data_classes: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Parameter:
    """A path or query parameter of an operation."""

    name: str
    location: Literal["path", "query"]
    required: bool
    schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation, read the way the contract and the adapter both use it.

    Attributes:
        body_properties: Argument names sent in an object body (``body_mode="properties"``).
        body_mode: ``None`` (no JSON body), ``"properties"`` (the object's properties are
            arguments) or ``"whole"`` (the ``body`` argument is the body).
    """

    operation_id: str
    method: str
    path: str
    description: str
    parameters: tuple[Parameter, ...]
    body_schema: dict[str, Any] | None
    body_required: bool
    body_mode: Literal["properties", "whole"] | None
    body_properties: tuple[str, ...]
    output_schema: dict[str, Any] | None

    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the operation's arguments."""
        properties: dict[str, Any] = {p.name: p.schema for p in self.parameters}
        required = [p.name for p in self.parameters if p.required]
        body = self.body_schema or {}
        if self.body_mode == "properties":
            properties.update(body.get("properties", {}))
            if self.body_required:
                required.extend(name for name in body.get("required", []) if name not in required)
        elif self.body_mode == "whole":
            properties["body"] = body
            if self.body_required:
                required.append("body")
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        return schema


def load_openapi_document(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON OpenAPI document.

    Raises:
        OpenApiImportError: The file cannot be read or is not an OpenAPI 3 object.
    """
    try:
        text = path.read_text()
        data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise OpenApiImportError(f"cannot read the OpenAPI document {path.name}: {exc}") from None
    if not isinstance(data, dict) or not str(data.get("openapi", "")).startswith("3."):
        raise OpenApiImportError(f"{path.name} is not an OpenAPI 3 document", "/openapi")
    return data


def default_base_url(document: dict[str, Any]) -> str | None:
    """The first server's URL, its variables set to their defaults (None if absent)."""
    servers = document.get("servers") or []
    if not servers or not isinstance(servers[0], dict) or "url" not in servers[0]:
        return None
    url = str(servers[0]["url"])
    for name, variable in (servers[0].get("variables") or {}).items():
        url = url.replace("{" + name + "}", str(variable.get("default", "")))
    return url


def operations_of(document: dict[str, Any]) -> dict[str, Operation]:
    """Every operation that has an ``operationId``, by id."""
    found: dict[str, Operation] = {}
    for path, method, raw, shared, pointer in _raw_operations(document):
        operation_id = raw.get("operationId")
        if not operation_id:
            continue
        if operation_id in found:
            raise OpenApiImportError(f"operationId '{operation_id}' is used twice", pointer)
        found[operation_id] = _read_operation(document, (path, method, raw, shared, pointer))
    return found


def find_operation(document: dict[str, Any], operation_id: str) -> Operation:
    """The operation ``operation_id``.

    Raises:
        OpenApiImportError: There is no such operation, or it cannot be read.
    """
    operation = operations_of(document).get(operation_id)
    if operation is None:
        raise OpenApiImportError(f"no operation '{operation_id}' in the document", "/paths")
    return operation


def contracts_from_openapi(
    document: dict[str, Any],
    *,
    base_url: str | None = None,
    operations: list[str] | None = None,
    headers: dict[str, str] | None = None,
    document_path: str = "openapi.yaml",
    egress: list[str] | None = None,
    data_classes: list[str] | None = None,
) -> list[ToolContract]:
    """One contract per operation (all with an ``operationId``, or those named).

    Args:
        document: The parsed OpenAPI 3 document.
        base_url: Where the API lives; the document's first server when None.
        operations: The ``operationId``s to expose; every one when None.
        headers: Fixed headers for every request (values may be secret references).
        document_path: The document's path as the bindings should name it (relative to
            the bundle root), so the runtime adapter can read the operation again.
        egress: The egress allowlist of every operation (hosts or URL prefixes).
        data_classes: The data classes every operation is cleared to receive.

    Raises:
        OpenApiImportError: An operation is missing or cannot be turned into a contract.
    """
    available = operations_of(document)
    wanted = list(available) if operations is None else operations
    contracts: list[ToolContract] = []
    for index, operation_id in enumerate(wanted):
        operation = available.get(operation_id)
        if operation is None:
            raise OpenApiImportError(
                f"no operation '{operation_id}' in the document", f"/operations/{index}"
            )
        binding = OpenApiBinding(
            type="openapi",
            document=document_path,
            operation_id=operation_id,
            base_url=base_url,
            headers=dict(headers or {}),
            egress=list(egress or []),
        )
        try:
            contracts.append(
                ToolContract(
                    name=operation_id,
                    description=operation.description,
                    input_schema=operation.input_schema(),
                    output_schema=operation.output_schema,
                    adapter=binding,
                    side_effect=operation.method not in _READ_ONLY,
                    data_classes=list(data_classes or []),
                )
            )
        except ValidationError as exc:
            message = exc.errors(include_url=False)[0]["msg"]
            raise OpenApiImportError(
                f"operation '{operation_id}' cannot be a tool: {message}", f"/operations/{index}"
            ) from None
    return contracts


# -- reading one operation -------------------------------------------------------------


_RawOperation = tuple[str, str, dict[str, Any], list[Any], str]


def _raw_operations(document: dict[str, Any]) -> Iterator[_RawOperation]:
    """(path, METHOD, operation object, path-level parameters, JSON pointer) of each."""
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in _METHODS:
            raw = item.get(method)
            if isinstance(raw, dict):
                shared = list(item.get("parameters") or [])
                yield path, method.upper(), raw, shared, f"/paths/{_escape(path)}/{method}"


def _read_operation(document: dict[str, Any], found: _RawOperation) -> Operation:
    path, method, raw, shared, pointer = found
    parameters = _parameters(document, [*shared, *(raw.get("parameters") or [])], pointer)
    body_schema, body_required = _body(document, raw, pointer)
    body_mode: Literal["properties", "whole"] | None = None
    body_properties: tuple[str, ...] = ()
    if body_schema is not None:
        is_object = body_schema.get("type") == "object" or "properties" in body_schema
        body_mode = "properties" if is_object else "whole"
        body_properties = tuple(body_schema.get("properties", {})) if is_object else ("body",)
        clash = {p.name for p in parameters} & set(body_properties)
        if clash:
            raise OpenApiImportError(
                f"'{', '.join(sorted(clash))}' is both a parameter and a body property",
                f"{pointer}/requestBody",
            )
    summary = raw.get("summary") or ""
    details = raw.get("description") or ""
    return Operation(
        operation_id=str(raw["operationId"]),
        method=method,
        path=path,
        description=" — ".join(part for part in (summary, details) if part),
        parameters=parameters,
        body_schema=body_schema,
        body_required=body_required,
        body_mode=body_mode,
        body_properties=body_properties,
        output_schema=_output(document, raw, pointer),
    )


def _parameters(document: dict[str, Any], nodes: list[Any], pointer: str) -> tuple[Parameter, ...]:
    """Path and query parameters; an operation's own override the path item's."""
    merged: dict[tuple[str, str], Parameter] = {}
    for index, node in enumerate(nodes):
        spec = _resolve(document, node, f"{pointer}/parameters/{index}")
        location = spec.get("in")
        if location not in _ARGUMENT_LOCATIONS:
            continue
        schema = dict(spec.get("schema") or {})
        if spec.get("description") and "description" not in schema:
            schema["description"] = spec["description"]
        merged[(spec["name"], location)] = Parameter(
            name=str(spec["name"]),
            location=location,
            required=location == "path" or bool(spec.get("required", False)),
            schema=schema,
        )
    return tuple(merged.values())


def _body(
    document: dict[str, Any], raw: dict[str, Any], pointer: str
) -> tuple[dict[str, Any] | None, bool]:
    if "requestBody" not in raw:
        return None, False
    body = _resolve(document, raw["requestBody"], f"{pointer}/requestBody")
    schema = _json_schema(body.get("content") or {})
    return schema, bool(body.get("required", False))


def _output(document: dict[str, Any], raw: dict[str, Any], pointer: str) -> dict[str, Any] | None:
    responses = raw.get("responses") or {}
    for status in ("200", "201"):
        if status in responses:
            response = _resolve(document, responses[status], f"{pointer}/responses/{status}")
            return _json_schema(response.get("content") or {})
    return None


def _json_schema(content: dict[str, Any]) -> dict[str, Any] | None:
    for media_type, entry in content.items():
        base = media_type.split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json"):
            schema = entry.get("schema") if isinstance(entry, dict) else None
            return dict(schema) if isinstance(schema, dict) else {}
    return None


# -- $ref resolution -------------------------------------------------------------------


def _resolve(document: dict[str, Any], node: Any, pointer: str) -> Any:
    """``node`` with every local ``$ref`` inlined (``nullable`` turned into a null type)."""
    return _inline(document, node, pointer, ())


def _inline(document: dict[str, Any], node: Any, pointer: str, chain: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(document, item, f"{pointer}/{i}", chain) for i, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        reference = str(node["$ref"])
        if not reference.startswith("#/"):
            raise OpenApiImportError(f"external $ref '{reference}' is not supported", pointer)
        if reference in chain:
            raise OpenApiImportError(f"recursive $ref '{reference}' is not supported", pointer)
        target = _lookup(document, reference, pointer)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        resolved = _inline(document, target, reference[1:], (*chain, reference))
        return {**resolved, **_inline(document, siblings, pointer, chain)} if siblings else resolved
    inlined = {
        key: _inline(document, value, f"{pointer}/{key}", chain) for key, value in node.items()
    }
    if inlined.get("nullable") is True and isinstance(inlined.get("type"), str):
        del inlined["nullable"]
        inlined["type"] = [inlined["type"], "null"]
    return inlined


def _lookup(document: dict[str, Any], reference: str, pointer: str) -> Any:
    found: Any = document
    for part in reference[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(found, dict) or key not in found:
            raise OpenApiImportError(f"$ref '{reference}' points at nothing", pointer)
        found = found[key]
    return found


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")
