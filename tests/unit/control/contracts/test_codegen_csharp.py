"""Generated C#: syntax checked with tree-sitter's C# grammar, key lines pinned.

No .NET SDK is installed where these tests run, so the check is a parse: every generated
file must yield a tree-sitter-c-sharp tree without ERROR or MISSING nodes. That catches
unbalanced braces, bad attributes, invalid identifiers and misplaced modifiers; it does
not type-check (a .NET build of the output does that where an SDK exists).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import tree_sitter
import tree_sitter_c_sharp

from pilothouse.control.contracts.codegen_csharp import csharp_sources, write_csharp
from pilothouse.control.tool_contract import ToolContract

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c_sharp.language()))


def syntax_errors(source: str) -> list[str]:
    """Every ERROR or MISSING node of the parse, with its position and text."""
    data = source.encode()
    problems = []
    stack = [PARSER.parse(data).root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            text = data[node.start_byte : node.end_byte][:60].decode(errors="replace")
            problems.append(f"{node.type} at {node.start_point}: {text!r}")
        stack.extend(node.children)
    return problems


def contract(input_schema: dict[str, Any], output_schema: Any = None) -> ToolContract:
    return ToolContract.model_validate(
        {
            "name": "probe",
            "input_schema": input_schema,
            "output_schema": output_schema,
            "adapter": {"type": "python", "target": "a:b"},
        }
    )


def test_the_syntax_check_catches_broken_code() -> None:
    assert syntax_errors("public sealed record A { public required string B { get; init } }")
    assert syntax_errors('public record A { [JsonPropertyName("a")] public string A { get; }')
    assert syntax_errors('public enum E { [JsonStringEnumMemberName("a")] 2A, }')
    assert syntax_errors("public sealed record A { public required string B { get; init; } }") == []


def test_every_generated_file_parses(bundle_tools: dict[str, ToolContract]) -> None:
    sources = csharp_sources(bundle_tools)
    assert len(sources) == len(bundle_tools) + 1
    for name, source in sources.items():
        assert syntax_errors(source) == [], name


def test_type_names_are_unique_across_the_namespace(
    bundle_tools: dict[str, ToolContract],
) -> None:
    declared = [
        match
        for source in csharp_sources(bundle_tools).values()
        for match in re.findall(r"public (?:sealed record|enum|static class) (\w+)", source)
    ]
    assert len(declared) == len(set(declared))


def test_one_central_options_class(bundle_tools: dict[str, ToolContract]) -> None:
    sources = csharp_sources(bundle_tools, namespace="Acme.Desk.Contracts")
    options = sources["ContractJson.cs"]
    for line in (
        "namespace Acme.Desk.Contracts;",
        "public static class ContractJson",
        "public static JsonSerializerOptions Options { get; } = Freeze(CreateOptions());",
        "PropertyNamingPolicy = JsonNamingPolicy.CamelCase,",
        "DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,",
        "new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));",
        "options.MakeReadOnly(populateMissingResolver: true);",
    ):
        assert line in options
    assert [n for n, s in sources.items() if "new JsonSerializerOptions" in s] == [
        "ContractJson.cs"
    ]
    assert all(s.count("#nullable enable") == 1 for s in sources.values())


def test_records_properties_and_enums(orders_tools: dict[str, ToolContract]) -> None:
    source = csharp_sources(orders_tools)["CreateOrder.cs"]
    expected = [
        "[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]\n"
        "public sealed record CreateOrderInput\n{",
        '    [JsonPropertyName("customer")]\n'
        "    public required CreateOrderInputCustomer Customer { get; init; }",
        '    [JsonPropertyName("lines")]\n'
        "    public required IReadOnlyList<CreateOrderLineItem> Lines { get; init; }",
        '    [JsonPropertyName("note")]\n    public string? Note { get; init; }',
        '    [JsonPropertyName("requested_at")]\n'
        "    public DateTimeOffset? RequestedAt { get; init; }",
        "    public IReadOnlyDictionary<string, string>? Metadata { get; init; }",
        "    /// <summary>\n    /// Who orders.\n    /// </summary>",
        "    public required Guid OrderId { get; init; }",
        "    public DateOnly? Eta { get; init; }",
        "    public CreateOrderAddress2? Shipping { get; init; }",
        "[JsonConverter(typeof(JsonStringEnumConverter<CreateOrderOutputStatus>))]\n"
        "public enum CreateOrderOutputStatus\n{",
        '    [JsonStringEnumMemberName("in_progress")]\n    InProgress,',
    ]
    for snippet in expected:
        assert snippet in source
    # LineItem is declared once although both sides define it.
    assert source.count("public sealed record CreateOrderLineItem") == 1


def test_recursive_and_non_object_sides(orders_tools: dict[str, ToolContract]) -> None:
    sources = csharp_sources(orders_tools)
    assert "public IReadOnlyList<OrgTreeOutput>? Teams { get; init; }" in sources["OrgTree.cs"]
    assert "public sealed record OrgTreeTeam" not in sources["OrgTree.cs"]
    assert "public sealed record PingInput\n{\n}" in sources["Ping.cs"]
    assert "// PingOutput: the tool's output is a JSON string." in sources["Ping.cs"]


@pytest.mark.parametrize(
    ("schema", "line"),
    [
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "public JsonElement? Value"),
        ({"type": ["string", "integer"]}, "public JsonElement? Value"),
        ({"type": "integer", "enum": [1, 2]}, "public long? Value"),
        ({"type": "number"}, "public double? Value"),
        ({"type": "boolean"}, "public bool? Value"),
        ({}, "public JsonElement? Value"),
        ({"type": "array", "items": {"type": ["string", "null"]}}, "IReadOnlyList<string?>?"),
        ({"type": "object"}, "IReadOnlyDictionary<string, JsonElement>? Value"),
        ({"anyOf": [{"type": "number"}, {"type": "null"}]}, "public double? Value"),
    ],
)
def test_type_mapping(schema: dict[str, Any], line: str) -> None:
    source = csharp_sources({"probe": contract({"properties": {"value": schema}})})["Probe.cs"]
    assert line in source
    assert syntax_errors(source) == []


def test_awkward_names_become_valid_identifiers() -> None:
    schema = {
        "type": "object",
        "properties": {
            "probe_input": {"type": "string"},
            "2fa": {"type": "string", "enum": ["on", "2-step", 'say "hi"']},
            'quote"d': {"type": "string"},
        },
        "required": ["probe_input"],
    }
    source = csharp_sources({"probe": contract(schema)})["Probe.cs"]
    assert "public required string ProbeInputValue { get; init; }" in source
    assert "public ProbeInputProperty2fa? Property2fa { get; init; }" in source
    assert '[JsonStringEnumMemberName("2-step")]\n    Value2Step,' in source
    assert '[JsonStringEnumMemberName("say \\"hi\\"")]\n    SayHi,' in source
    assert '[JsonPropertyName("quote\\"d")]\n    public string? QuoteD { get; init; }' in source
    assert syntax_errors(source) == []


def test_namespace_is_checked_and_files_written(tmp_path: Any) -> None:
    tools = {"probe": contract({"type": "object"})}
    with pytest.raises(ValueError, match="namespace"):
        csharp_sources(tools, namespace="Not A Namespace")
    written = write_csharp(tools, tmp_path / "cs")
    assert sorted(p.name for p in written) == ["ContractJson.cs", "Probe.cs"]
