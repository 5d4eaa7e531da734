"""Reading policy files into one checked, compiled policy set, or every problem with them.

A bundle's ``policies/*.cedar`` files are read in name order, together with the baseline
shipped in this package (:data:`BASELINE_FILE`, see ``baseline.cedar``). Each policy is:

1. parsed alone (see :mod:`.source`), so a syntax error is reported with its file and
   line, and the policy gets a stable, readable id: ``<file>:<line>``;
2. validated against the schema (:mod:`.schema`) — unknown entity types, actions or
   attributes, and type errors, are problems. The one complaint accepted is
   "attribute ``arguments.<name>`` not found": tool arguments are typed by each tool's
   JSON Schema, not by ours, so ``context.arguments.amount_cents`` is legal (and if the
   attribute is missing at run time, the policy errors, which the engine fails closed);
3. checked against the approval convention (:mod:`.engine`): ``@approval`` must be
   ``"required"`` and its policy must read ``context.approved``, and a policy that reads
   ``context.approved`` must carry ``@approval("required")``;
4. refused if it is a template (``?principal``/``?resource``): nothing links templates.

``@id`` names must be unique across the set. Problems are collected, not raised one at a
time: :class:`PolicyLoadError` carries them all, as :class:`PolicyProblem` (file, line,
message, hint), convertible to the bundle loader's :class:`~pilothouse.control.bundle.Problem`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pilothouse.control.bundle import Problem
from pilothouse.control.policy import cedar
from pilothouse.control.policy.decision import PolicyRef
from pilothouse.control.policy.schema import parsed_schema
from pilothouse.control.policy.source import PolicyText, error_line, split_policies
from pilothouse.errors import InvalidRequest

BASELINE_FILE = "pilothouse:baseline.cedar"
"""The name baseline policies carry in ids and problems (``pilothouse:baseline.cedar:14``)."""

APPROVAL_ANNOTATION = "approval"
APPROVAL_REQUIRED = "required"

_POLICY_PREFIX = re.compile(r"^for policy `[^`]*`, ")
_ARGUMENTS_ATTRIBUTE = re.compile(
    r"^attribute `arguments\.[^`]+` in context for Pilothouse::Action::\"\w+\" not found$"
)


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One thing wrong with a policy file."""

    file: str
    line: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}: {self.message}{hint}"

    def to_problem(self) -> Problem:
        """As a bundle :class:`~pilothouse.control.bundle.Problem` (which has no line
        field, so the line leads the message)."""
        return Problem(self.file, "", f"line {self.line}: {self.message}", self.hint)


class PolicyLoadError(InvalidRequest):
    """Policy files that cannot be used; ``problems`` lists everything wrong with them."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        lines = "; ".join(str(p) for p in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        super().__init__(f"Invalid policies: {lines}{more}", code="invalid_policies")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """One checked policy.

    Attributes:
        ref: Its id, ``@id`` name and effect, as decisions cite it.
        file: The file it came from.
        line: The line it starts on.
        approval: It carries ``@approval("required")``.
        json: The policy in Cedar's JSON format.
    """

    ref: PolicyRef
    file: str
    line: int
    approval: bool
    json: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PolicySource:
    """A checked set of policies, ready for the engine.

    Attributes:
        policies: Every policy by id, in file and line order.
        digest: ``sha256:`` of the files' names and texts; decisions cite it.
    """

    policies: Mapping[str, LoadedPolicy]
    digest: str

    def context_reads(self) -> frozenset[str] | None:
        """The context attributes the policies read or test; None when one uses the
        context other than by attribute (then any attribute may matter)."""
        reads: set[str] = set()
        for policy in self.policies.values():
            found = context_reads(policy.json.get("conditions", []))
            if found is None:
                return None
            reads |= found
        return frozenset(reads)

    def compile(self) -> cedar.PolicySet:
        """The Cedar policy-set handle, policies carrying our ids."""
        return cedar.build_policy_set({pid: p.json for pid, p in self.policies.items()})


def baseline_text() -> str:
    """The baseline policies' Cedar text, as shipped in this package."""
    return resources.files(__package__).joinpath("baseline.cedar").read_text(encoding="utf-8")


def load_policies(root: Path, *, baseline: bool = True) -> PolicySource:
    """Read ``root/policies/*.cedar`` (``root`` is a bundle directory; no folder means no
    bundle policies), with the baseline unless ``baseline`` is False."""
    folder = root / "policies"
    files: list[tuple[str, str]] = []
    problems: list[PolicyProblem] = []
    for path in sorted(folder.glob("*.cedar")) if folder.is_dir() else []:
        relative = str(path.relative_to(root))
        try:
            files.append((relative, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(PolicyProblem(relative, 1, f"cannot be read: {exc}"))
    if problems:
        raise PolicyLoadError(problems)
    return parse_policy_files(files, baseline=baseline)


def parse_policy_files(files: Iterable[tuple[str, str]], *, baseline: bool = True) -> PolicySource:
    """Check ``(file name, Cedar text)`` pairs into a :class:`PolicySource`, or raise
    :class:`PolicyLoadError` with every problem found."""
    sources = [(BASELINE_FILE, baseline_text())] if baseline else []
    sources += list(files)
    problems: list[PolicyProblem] = []
    policies: dict[str, LoadedPolicy] = {}
    for file, text in sources:
        for policy in split_policies(text):
            loaded = _check(file, policy, problems)
            if loaded is not None:
                pid = loaded.ref.id
                if pid in policies:  # two policies start on one line
                    pid = f"{pid}#{policy.index}"
                    loaded = _renamed(loaded, pid)
                policies[pid] = loaded
    _check_names(policies.values(), problems)
    if problems:
        raise PolicyLoadError(problems)
    return PolicySource(policies=policies, digest=_digest(sources))


def _check(file: str, policy: PolicyText, problems: list[PolicyProblem]) -> LoadedPolicy | None:
    try:
        parsed = cedar.parse_policies(policy.text)
    except cedar.CedarError as exc:
        line = error_line(policy, str(exc), _parse_error)
        problems.append(PolicyProblem(file, line, f"syntax error: {exc}", "check the syntax"))
        return None
    if parsed.get("templates"):
        problems.append(
            PolicyProblem(
                file,
                policy.line,
                "templates (?principal, ?resource) are not supported",
                "name the principal or resource, or use a condition",
            )
        )
        return None
    statics = list(parsed.get("staticPolicies", {}).values())
    if not statics:  # only comments
        return None
    json = statics[0]
    count = len(problems)
    for message in _schema_problems(policy.text):
        problems.append(PolicyProblem(file, policy.line, message, "see the schema in schema.py"))
    approval = _check_approval(file, policy.line, json, problems)
    if len(problems) > count:
        return None
    annotations = json.get("annotations", {})
    ref = PolicyRef(id=f"{file}:{policy.line}", name=annotations.get("id"), effect=json["effect"])
    return LoadedPolicy(ref=ref, file=file, line=policy.line, approval=approval, json=json)


def _parse_error(text: str) -> str | None:
    try:
        cedar.parse_policies(text)
    except cedar.CedarError as exc:
        return str(exc)
    return None


def _schema_problems(text: str) -> list[str]:
    messages = [_POLICY_PREFIX.sub("", m) for m in cedar.validate(text, parsed_schema())]
    return [f"schema: {m}" for m in messages if not _ARGUMENTS_ATTRIBUTE.match(m)]


def _check_approval(
    file: str, line: int, json: Mapping[str, Any], problems: list[PolicyProblem]
) -> bool:
    annotations = json.get("annotations", {})
    annotated = APPROVAL_ANNOTATION in annotations
    reads_approved = _reads_context_attribute(json.get("conditions", []), "approved")
    if annotated and annotations[APPROVAL_ANNOTATION] != APPROVAL_REQUIRED:
        problems.append(
            PolicyProblem(
                file,
                line,
                f'@approval must be "{APPROVAL_REQUIRED}"',
                'write @approval("required")',
            )
        )
    elif annotated and not reads_approved:
        problems.append(
            PolicyProblem(
                file,
                line,
                "an @approval policy must depend on context.approved",
                "forbid ... unless { context.approved }, or permit ... when { context.approved }",
            )
        )
    elif reads_approved and not annotated:
        problems.append(
            PolicyProblem(
                file,
                line,
                'only @approval("required") policies may read context.approved',
                'annotate the policy with @approval("required")',
            )
        )
    return annotated


def _reads_context_attribute(node: Any, attribute: str) -> bool:
    """Whether a JSON-format policy expression reads or tests ``context.<attribute>``."""
    return attribute in _context_use(node)[0]


def context_reads(node: Any) -> frozenset[str] | None:
    """The attributes a JSON-format policy expression reads or tests on ``context``
    (``context.x``, ``context has x``); None when it uses ``context`` any other way."""
    reads, whole = _context_use(node)
    return None if whole else reads


def _context_use(node: Any) -> tuple[frozenset[str], bool]:
    """The ``context`` attributes ``node`` reads or tests, and whether it also uses the
    context as a whole (compared, passed on, ...)."""
    reads: set[str] = set()
    whole = False
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        if item == _CONTEXT:
            whole = True
            continue
        for key, value in item.items():
            if (
                key in (".", "has")
                and isinstance(value, dict)
                and value.get("left") == _CONTEXT
                and isinstance(value.get("attr"), str)
            ):
                reads.add(value["attr"])
            else:
                stack.append(value)
    return frozenset(reads), whole


_CONTEXT = {"Var": "context"}


def _check_names(policies: Iterable[LoadedPolicy], problems: list[PolicyProblem]) -> None:
    seen: dict[str, LoadedPolicy] = {}
    for policy in policies:
        name = policy.ref.name
        if name is None:
            continue
        if name in seen:
            first = seen[name]
            problems.append(
                PolicyProblem(
                    policy.file,
                    policy.line,
                    f'@id("{name}") is already used at {first.file}:{first.line}',
                    "give each policy its own @id",
                )
            )
        else:
            seen[name] = policy


def _renamed(policy: LoadedPolicy, pid: str) -> LoadedPolicy:
    ref = PolicyRef(id=pid, name=policy.ref.name, effect=policy.ref.effect)
    return LoadedPolicy(ref, policy.file, policy.line, policy.approval, policy.json)


def _digest(sources: list[tuple[str, str]]) -> str:
    hasher = hashlib.sha256()
    for file, text in sources:
        hasher.update(file.encode() + b"\0" + text.encode() + b"\0")
    return f"sha256:{hasher.hexdigest()}"
