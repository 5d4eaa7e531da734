"""Loading policy files: ids, the baseline, and every problem with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilothouse.control.bundle import Problem
from pilothouse.control.policy import (
    BASELINE_FILE,
    PolicyLoadError,
    PolicyProblem,
    load_policies,
    parse_policy_files,
)
from pilothouse.control.policy.loader import baseline_text

GOOD = """\
// Refund rules.
@id("refund-cap")
forbid (principal, action == Pilothouse::Action::"call_tool",
        resource == Pilothouse::Tool::"refund")
when { context.arguments.amount_cents > 50000 };

permit (principal, action == Pilothouse::Action::"use_model", resource);
"""


def problems_of(text: str, file: str = "policies/p.cedar") -> list[PolicyProblem]:
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy_files([(file, text)], baseline=False)
    return caught.value.problems


def test_policies_are_named_by_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "refunds.cedar").write_text(GOOD)
    (tmp_path / "policies" / "notes.txt").write_text("not a policy file")
    source = load_policies(tmp_path)
    bundle = {pid: p for pid, p in source.policies.items() if p.file != BASELINE_FILE}
    assert list(bundle) == ["policies/refunds.cedar:2", "policies/refunds.cedar:7"]
    cap = bundle["policies/refunds.cedar:2"]
    assert (cap.ref.name, cap.ref.effect, cap.line, cap.approval) == (
        "refund-cap",
        "forbid",
        2,
        False,
    )
    assert bundle["policies/refunds.cedar:7"].ref.name is None
    assert len(source.policies) - len(bundle) == 14  # the baseline


def test_a_bundle_without_policies_gets_the_baseline(tmp_path: Path) -> None:
    source = load_policies(tmp_path)
    assert {p.file for p in source.policies.values()} == {BASELINE_FILE}
    names = {p.ref.name for p in source.policies.values()}
    assert "baseline.tenant-isolation" in names
    assert all(name and name.startswith("baseline.") for name in names)
    assert load_policies(tmp_path, baseline=False).policies == {}


def test_the_baseline_ships_as_cedar_text_in_the_package() -> None:
    text = baseline_text()
    assert text.count("@id(") == 14
    assert 'Pilothouse::Action::"call_tool"' in text


def test_the_digest_follows_the_text() -> None:
    one = parse_policy_files([("policies/p.cedar", GOOD)])
    same = parse_policy_files([("policies/p.cedar", GOOD)])
    other = parse_policy_files([("policies/p.cedar", GOOD.replace("50000", "40000"))])
    assert one.digest == same.digest != other.digest
    assert one.digest.startswith("sha256:")


def test_two_policies_on_one_line_get_distinct_ids() -> None:
    text = (
        'permit (principal, action == Pilothouse::Action::"use_model", resource); '
        'permit (principal, action == Pilothouse::Action::"publish", resource);'
    )
    source = parse_policy_files([("policies/p.cedar", text)], baseline=False)
    assert list(source.policies) == ["policies/p.cedar:1", "policies/p.cedar:1#1"]
    assert source.compile() is not None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD.replace("> 50000", "> "), 5, "unexpected token"),
        (GOOD.replace("forbid (", "forbidd ("), 3, "invalid policy effect"),
        (GOOD.replace("context.arguments", "contxt.arguments"), 5, "contxt"),
        (GOOD.replace("50000 };", "50000 }"), 7, "unexpected token"),
        (GOOD.replace("resource);", "resource)"), 7, "unexpected end of input"),
        (GOOD + '\npermit (principal, action, resource) when { "unterminated };\n', 9, "token"),
        (GOOD.replace("amount_cents > 50000", "amount_cents.frobnicate(1)"), 5, "frobnicate"),
    ],
)
def test_syntax_errors_are_reported_with_file_and_line(text: str, line: int, words: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.file, problem.line) == ("policies/p.cedar", line), str(problem)
    assert problem.message.startswith("syntax error: ")
    assert words in problem.message


def test_every_broken_policy_is_reported_not_just_the_first() -> None:
    text = GOOD.replace("forbid (", "forbidd (").replace("use_model", "use-model")
    problems = problems_of(text)
    assert [(p.line, p.message) for p in problems] == [
        (3, "syntax error: invalid policy effect: forbidd"),
        (7, 'schema: unrecognized action `Pilothouse::Action::"use-model"`'),
        (7, "schema: unable to find an applicable action given the policy scope constraints"),
    ]


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ('principal.role.contains("invoke")', "attribute `role` on entity type"),
        ("resource.amount > 5", "attribute `amount` on entity type `Pilothouse::Agent`"),
        ('context.cost_usd_micros > "many"', "type"),
        ("context.argumentz.x > 1", "attribute `argumentz` in context"),
        ('principal in Pilothouse::Team::"a"', "Pilothouse::Team"),
    ],
)
def test_schema_violations_are_reported_with_a_message(condition: str, words: str) -> None:
    text = (
        '@id("p")\npermit (principal, action == Pilothouse::Action::"invoke_agent", '
        f"resource)\nwhen {{ {condition} }};\n"
    )
    problems = problems_of(text)
    assert problems and all(p.line == 1 for p in problems)
    assert any(words in p.message for p in problems), [p.message for p in problems]
    assert all(p.message.startswith("schema: ") for p in problems)


def test_an_unknown_action_is_a_schema_violation() -> None:
    problems = problems_of('permit (principal, action == Pilothouse::Action::"delete", resource);')
    assert "delete" in problems[0].message


def test_tool_arguments_are_free_form() -> None:
    text = """\
forbid (principal, action == Pilothouse::Action::"call_tool", resource)
when { context.arguments.recipients.contains("ceo@acme.example") ||
       context.arguments.nested.depth.level > 3 };
"""
    source = parse_policy_files([("policies/p.cedar", text)], baseline=False)
    assert len(source.policies) == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '@approval("maybe") forbid (principal, action, resource) unless { context.approved };',
            '@approval must be "required"',
        ),
        (
            '@approval("required") forbid (principal, action, resource);',
            "an @approval policy must depend on context.approved",
        ),
        (
            "forbid (principal, action, resource) unless { context.approved };",
            'only @approval("required") policies may read context.approved',
        ),
        (
            "permit (principal, action, resource) when { context has approved && true };",
            'only @approval("required") policies may read context.approved',
        ),
    ],
)
def test_the_approval_convention_is_enforced_at_load(text: str, words: str) -> None:
    problems = problems_of(text)
    assert [p.message for p in problems] == [words]


def test_templates_are_refused() -> None:
    problems = problems_of("permit (principal == ?principal, action, resource);")
    assert "templates" in problems[0].message


def test_ids_must_be_unique_across_files() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy_files([("policies/a.cedar", GOOD), ("policies/b.cedar", "\n" + GOOD)])
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("policies/b.cedar", 3)
    assert problem.message == '@id("refund-cap") is already used at policies/a.cedar:2'


def test_a_bundle_policy_cannot_take_a_baseline_name() -> None:
    text = '@id("baseline.tenant-isolation")\npermit (principal, action, resource);'
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy_files([("policies/a.cedar", text)])
    assert "already used at pilothouse:baseline.cedar:" in caught.value.problems[0].message


def test_problems_read_like_the_bundle_loaders() -> None:
    problem = PolicyProblem("policies/p.cedar", 4, "syntax error: oops", "check the syntax")
    assert str(problem) == "policies/p.cedar:4: syntax error: oops (hint: check the syntax)"
    assert problem.to_problem() == Problem(
        "policies/p.cedar", "", "line 4: syntax error: oops", "check the syntax"
    )
    error = PolicyLoadError([problem])
    assert error.code == "invalid_policies"
    assert error.status == 400
    assert "policies/p.cedar:4" in error.message


def test_an_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "bad.cedar").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(PolicyLoadError) as caught:
        load_policies(tmp_path)
    assert caught.value.problems[0].file == "policies/bad.cedar"
    assert "cannot be read" in caught.value.problems[0].message
