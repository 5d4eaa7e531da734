"""Cutting Cedar text into policies and placing parse errors on lines."""

from __future__ import annotations

from pilothouse.control.policy.source import PolicyText, error_line, split_policies


def test_policies_end_at_semicolons_outside_strings_and_comments() -> None:
    text = (
        "// a comment; not an end\n"
        '@id("a;b")\n'
        'permit (principal, action, resource) when { "x\\";" == context.s };  // ; tail\n'
        "\n"
        "forbid (principal, action, resource);forbid (principal, action, resource)\n"
        "  when { true }\n"
    )
    assert split_policies(text) == [
        PolicyText(
            '@id("a;b")\npermit (principal, action, resource) when { "x\\";" == context.s };',
            2,
            0,
        ),
        PolicyText("forbid (principal, action, resource);", 5, 1),
        PolicyText("forbid (principal, action, resource)\n  when { true }", 5, 2),
    ]


def test_only_comments_and_blanks_make_no_policy() -> None:
    assert split_policies("// nothing here\n\n   \n// at all;\n") == []


def test_a_comment_marker_inside_a_string_is_text() -> None:
    (policy,) = split_policies('permit (principal, action, resource) when { "//;" == "" };')
    assert policy.text.endswith('"" };')


def parse_error(text: str) -> str | None:
    """A stand-in parser: complains about a stray token, or about a text cut short."""
    if "@@" in text:
        return "unexpected token `@@`"
    return None if text.rstrip().endswith(";") else "unexpected end of input"


def test_token_errors_are_placed_by_growing_prefixes() -> None:
    policy = PolicyText("permit (\n  principal,\n  @@ action,\n  resource\n);", 10, 0)
    assert error_line(policy, "unexpected token `@@`", parse_error) == 12


def test_an_end_of_input_error_is_placed_on_the_last_line() -> None:
    policy = PolicyText("permit (\n  principal,\n  action", 3, 0)
    assert error_line(policy, "unexpected end of input", parse_error) == 5


def test_other_errors_are_placed_where_their_culprit_stands() -> None:
    policy = PolicyText(
        "permit (principal, action, resource)\n// contex.x in a comment\nwhen { contex.x };",
        7,
        0,
    )
    message = "invalid member access `contex.x`, `contex` has no fields or methods"
    assert error_line(policy, message, parse_error) == 9
    assert error_line(policy, "invalid policy effect: permitt", parse_error) == 7
