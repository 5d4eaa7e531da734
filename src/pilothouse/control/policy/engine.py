"""The policy engine: one decision — allow, deny or needs approval — per request.

:class:`PolicyEngine` holds one release's compiled policies and entity graph (both
parsed once) and answers :meth:`PolicyEngine.authorize` for a principal, an action, a
resource and the request's context. It sits before every side effect, so it is built to
be cheap: policies and the release's entity graph are parsed once (and the graph plus a
principal is kept per principal), leaving per decision only the request itself. With the
14 baseline policies plus a bundle's 6 and a catalog of 3 agents and 8 tools, a decision
costs about 120 µs (allow or deny; about 180 µs for needs-approval, which evaluates
twice), measured on this project's shared 2-core machine while it was busy (best of 5
rounds of 3,000; ``tests/unit/control/policy/test_engine_speed.py`` guards the order of
magnitude). About 70 µs of it is Cedar's: some 40 µs turning the context JSON into a
request, some 30 µs evaluating the 20 policies.

Beyond Cedar's own semantics (deny by default; any satisfied forbid beats every permit),
the engine adds two rules.

**Fail closed.** Cedar skips a policy whose evaluation errs (a missing argument, a type
mismatch). For a permit that is safe; for a forbid it would let an attacker switch the
guard off by omitting the argument it inspects. Here a forbid that errs counts as
satisfied: the request is denied and the decision cites the policy and the error. So is
a request whose context has no faithful Cedar form (see :mod:`.values`), or one Cedar
cannot evaluate at all.

**Needs approval.** Cedar knows only permit and forbid. A policy annotated
``@approval("required")`` is an *approval policy*; the loader insists that approval
policies, and only they, read ``context.approved``, which the runtime sets to true only
when it holds an approval bound to exactly this call. The decision is
``needs_approval`` exactly when

1. the request is denied with ``approved`` as given, and ``approved`` was false;
2. the same request with ``approved = true`` is allowed (with no forbid erring); and
3. the approval policies are what made the difference: every forbid that blocked the
   first evaluation is an approval policy, or, when nothing but the absence of a
   permit blocked it, an approval policy is among the permits of the second.

The decision then cites those approval policies. Once the runtime holds the approval
and asks again with ``approved = true``, the answer is ``allow``. Two shapes of approval
policy follow from the rule, the first recommended because it composes with the
baseline's permits::

    // A gate: refunds over 100 € wait for a person, whatever else permits them.
    @id("refund-over-100-needs-approval")
    @approval("required")
    forbid (principal, action == Pilothouse::Action::"call_tool",
            resource == Pilothouse::Tool::"refund")
    when { context.arguments.amount_cents > 10000 }
    unless { context.approved };

    // A grant: promoting to prod is permitted only with an approval (effective when
    // no other policy permits promote, i.e. without the baseline).
    @id("prod-promotion-by-approval")
    @approval("required")
    permit (principal, action == Pilothouse::Action::"promote",
            resource == Pilothouse::Environment::"prod")
    when { context.approved };

A request that is denied for another reason as well (an unannotated forbid also blocks
it) is denied, not sent for approval: an approval cannot lift a hard rule.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson

from pilothouse.control.policy import cedar
from pilothouse.control.policy.decision import Decision, Outcome, PolicyRef
from pilothouse.control.policy.entities import (
    Catalog,
    Context,
    Resource,
    principal_entity,
    uid,
)
from pilothouse.control.policy.loader import LoadedPolicy, PolicySource
from pilothouse.control.policy.schema import (
    ACTION_TYPE,
    RESOURCE_TYPES,
    TOOL_ACTIONS,
    Action,
    EntityType,
    parsed_schema,
)
from pilothouse.control.policy.values import UnrepresentableValue
from pilothouse.control.principal import Principal

PRINCIPAL_CACHE_SIZE = 1024
"""Principals whose entity graph (release graph plus the principal) is kept built."""
DECISION_CACHE_SIZE = 4096
"""Decisions kept per engine (least recently used out): a miss costs one Cedar
evaluation (~130 µs here), a hit a dictionary look-up of the request's facts."""


_DecisionKey = tuple[Principal, Action, Resource, tuple[Any, ...], bytes]


COUNTERS = frozenset({"cost_usd_micros", "tool_call_count"})
"""Context attributes that change from step to step of a run: part of a decision's cache
key only when some policy reads them, or every step would be a cache miss."""


def _decision_key(
    principal: Principal,
    action: Action,
    resource: Resource,
    context: Context,
    counted: frozenset[str],
) -> _DecisionKey:
    """What a decision depends on besides the engine, cheap to build: the context's
    fields, with the arguments as their sorted JSON (the Cedar record is a function of
    that JSON), and of :data:`COUNTERS` those in ``counted`` (the ones the policies read).
    Raises ``orjson.JSONEncodeError`` for arguments without a JSON form."""
    facts = (
        context.environment,
        context.agent,
        context.approved,
        context.cost_usd_micros if "cost_usd_micros" in counted else None,
        context.tool_call_count if "tool_call_count" in counted else None,
        context.data_classes,
    )
    arguments = orjson.dumps(context.arguments, option=orjson.OPT_SORT_KEYS)
    return principal, action, resource, facts, arguments


class PolicyEngine:
    """Decisions for one release's policies and entities (immutable once built).

    Args:
        source: The checked policies (:func:`~.loader.load_policies`).
        catalog: The release's entities for one tenant (:meth:`Catalog.from_bundle`).

    Raises:
        cedar.CedarError: The catalog does not fit the schema (a bug in the caller's
            data, caught at release load rather than at the first request).
    """

    def __init__(self, source: PolicySource, catalog: Catalog) -> None:
        self.source = source
        self.catalog = catalog
        self._policies = source.compile()
        self._entities = cedar.build_entities(catalog.to_cedar(), parsed_schema())
        self._graphs: OrderedDict[Principal, cedar.Entities] = OrderedDict()
        self._graphs_lock = threading.Lock()
        # Decisions are a pure function of (policies, graph, principal, request): both of
        # the first two are fixed for an engine, so a request seen before is answered
        # from here (an agent's invoke_agent, a first step's use_model, repeated calls).
        self._decisions: OrderedDict[_DecisionKey, Decision] = OrderedDict()
        self._decisions_lock = threading.Lock()
        # The counters some policy reads (all of them if one uses the context whole).
        reads = source.context_reads()
        self._counted = COUNTERS if reads is None else COUNTERS & reads
        self._approval_permits = any(
            p.approval and p.ref.effect == "permit" for p in source.policies.values()
        )

    def authorize(
        self,
        principal: Principal,
        action: Action | str,
        resource: Resource,
        context: Context | None = None,
    ) -> Decision:
        """Decide whether ``principal`` may do ``action`` on ``resource`` in ``context``.

        Never raises for bad input: a request that cannot be evaluated is denied, with
        the reason in :attr:`Decision.errors`.
        """
        context = context or Context()
        try:
            action = Action(action)
        except ValueError:
            return self._refused(principal, str(action), resource, f"unknown action {action!r}")
        if action is Action.INVOKE_AGENT and context.agent is None:
            context = dataclasses.replace(context, agent=resource.id)
        try:
            key = _decision_key(principal, action, resource, context, self._counted)
        except orjson.JSONEncodeError:
            key = None  # arguments without a JSON form: evaluated (and refused) below
        if key is not None:
            with self._decisions_lock:
                known = self._decisions.get(key)
                if known is not None:
                    self._decisions.move_to_end(key)
                    return known
        decision = self._decide_afresh(principal, action, resource, context)
        if key is not None and not decision.errors:
            with self._decisions_lock:
                self._decisions[key] = decision
                if len(self._decisions) > DECISION_CACHE_SIZE:
                    self._decisions.popitem(last=False)
        return decision

    def _decide_afresh(
        self, principal: Principal, action: Action, resource: Resource, context: Context
    ) -> Decision:
        """A decision made by checking the request and evaluating it (no cache)."""
        problem = self._misfit(action, resource, context)
        if problem is not None:
            return self._refused(principal, action, resource, problem)
        try:
            request = self._request(principal, action, resource, context)
        except UnrepresentableValue as exc:
            return self._refused(principal, action, resource, f"arguments: {exc}")
        return self._evaluate(principal, action, resource, context, request)

    def _evaluate(
        self,
        principal: Principal,
        action: Action,
        resource: Resource,
        context: Context,
        request: dict[str, Any],
    ) -> Decision:
        try:
            graph = self._graph(principal)
        except cedar.CedarError as exc:
            return self._refused(principal, action, resource, f"principal: {exc}")
        first = cedar.evaluate([request], self._policies, graph)[0]
        blocking = self._blocking(first)
        if first.allowed and not blocking:
            return self._decide(Outcome.ALLOW, principal, action, resource, first, first.reasons)
        if first.failure is None and not context.approved and self._may_approve(blocking):
            approved = {**request, "context": {**request["context"], "approved": True}}
            second = cedar.evaluate([approved], self._policies, graph)[0]
            granting = self._approval_grant(blocking, second)
            if granting:
                return self._decide(
                    Outcome.NEEDS_APPROVAL, principal, action, resource, first, granting
                )
        return self._decide(Outcome.DENY, principal, action, resource, first, blocking)

    def _misfit(self, action: Action, resource: Resource, context: Context) -> str | None:
        expected = RESOURCE_TYPES[action]
        if resource.type is not expected:
            return f"{action} applies to {expected.value}, not {resource.type.value}"
        if action in TOOL_ACTIONS and context.agent is None:
            return f"{action} needs the agent in the context"
        return None

    @staticmethod
    def _request(
        principal: Principal, action: Action, resource: Resource, context: Context
    ) -> dict[str, Any]:
        return {
            "principal": uid(EntityType.PRINCIPAL, principal.key_id),
            "action": {"type": ACTION_TYPE, "id": action.value},
            "resource": resource.to_cedar(),
            "context": context.to_cedar(),
        }

    def _graph(self, principal: Principal) -> cedar.Entities:
        """The release graph plus ``principal``, built once per principal (LRU)."""
        with self._graphs_lock:
            graph = self._graphs.get(principal)
            if graph is not None:
                self._graphs.move_to_end(principal)
                return graph
        graph = cedar.with_entities(self._entities, [principal_entity(principal)])
        with self._graphs_lock:
            self._graphs[principal] = graph
            if len(self._graphs) > PRINCIPAL_CACHE_SIZE:
                self._graphs.popitem(last=False)
        return graph

    def _policy(self, policy_id: str) -> LoadedPolicy | None:
        return self.source.policies.get(policy_id)

    def _is_forbid(self, policy_id: str) -> bool:
        policy = self._policy(policy_id)
        return policy is None or policy.ref.effect == "forbid"  # unknown: assume the worst

    def _blocking(self, evaluation: cedar.Evaluation) -> tuple[str, ...]:
        """Ids of the forbids that block: satisfied ones (on a deny) and erring ones."""
        satisfied = () if evaluation.allowed else evaluation.reasons
        erring = (pid for pid, _ in evaluation.errors if self._is_forbid(pid))
        return tuple(sorted({*satisfied, *erring}))

    def _may_approve(self, blocking: tuple[str, ...]) -> bool:
        """Whether an approval could matter, judged without a second evaluation: every
        blocking forbid is an approval policy, or nothing blocked and the set has an
        approval permit."""
        if blocking:
            return all(self._is_approval(pid) for pid in blocking)
        return self._approval_permits

    def _approval_grant(
        self, blocking: tuple[str, ...], second: cedar.Evaluation
    ) -> tuple[str, ...]:
        """The approval policies that an approval would satisfy, or () when an approval
        would not turn this denial into an allow (rule 2 and 3 of the module docstring)."""
        if not second.allowed or self._blocking(second):
            return ()
        if blocking:
            return blocking if all(self._is_approval(pid) for pid in blocking) else ()
        return tuple(pid for pid in second.reasons if self._is_approval(pid))

    def _is_approval(self, policy_id: str) -> bool:
        policy = self._policy(policy_id)
        return policy is not None and policy.approval

    def _refs(self, ids: Iterable[str]) -> tuple[PolicyRef, ...]:
        refs = []
        for pid in ids:
            policy = self._policy(pid)
            refs.append(policy.ref if policy else PolicyRef(pid, None, "unknown"))
        return tuple(refs)

    def _decide(
        self,
        outcome: Outcome,
        principal: Principal,
        action: Action,
        resource: Resource,
        evaluation: cedar.Evaluation,
        policy_ids: tuple[str, ...],
    ) -> Decision:
        errors = [f"{pid}: {message}" for pid, message in evaluation.errors]
        if evaluation.failure:
            errors.append(f"request: {evaluation.failure}")
        refs = self._refs(policy_ids)
        return Decision(
            outcome=outcome,
            action=action.value,
            principal=principal.key_id,
            resource=str(resource),
            policies=refs,
            errors=tuple(sorted(errors)),
            reason=_reason(outcome, action, resource, refs, evaluation),
            policy_set=self.source.digest,
        )

    def _refused(
        self, principal: Principal, action: str, resource: Resource, problem: str
    ) -> Decision:
        return Decision(
            outcome=Outcome.DENY,
            action=action,
            principal=principal.key_id,
            resource=str(resource),
            policies=(),
            errors=(f"request: {problem}",),
            reason=f"denied: the request cannot be evaluated ({problem})",
            policy_set=self.source.digest,
        )


def _reason(
    outcome: Outcome,
    action: Action,
    resource: Resource,
    refs: tuple[PolicyRef, ...],
    evaluation: cedar.Evaluation,
) -> str:
    cited = ", ".join(str(ref) for ref in refs)
    if outcome is Outcome.ALLOW:
        return f"allowed by {cited}"
    if outcome is Outcome.NEEDS_APPROVAL:
        return f"needs approval under {cited}"
    if evaluation.failure:
        return f"denied: the request cannot be evaluated ({evaluation.failure})"
    if not refs:
        return f"denied: no policy permits {action} on {resource}"
    erring = {pid for pid, _ in evaluation.errors}
    if erring & {ref.id for ref in refs}:
        return f"denied by {cited} (a forbid that cannot be evaluated counts as satisfied)"
    return f"denied by {cited}"
