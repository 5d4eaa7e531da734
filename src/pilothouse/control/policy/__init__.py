"""Authorization with Cedar: who may do what to which agent, tool, model or environment.

A release's policies (``policies/*.cedar`` in its bundle, plus the baseline shipped
here) are checked against the schema and compiled once; the engine then answers every
request with a :class:`Decision` — allow, deny or needs approval — citing the policies
that determined it. Modules, in the order a request meets them:

* :mod:`.schema` — the Cedar schema: entity types, actions, context.
* :mod:`.entities` — principals, resources, context and the release catalog as Cedar
  entities; :mod:`.values` — JSON tool arguments as Cedar values.
* :mod:`.source`, :mod:`.loader` — policy files to a checked :class:`PolicySource`,
  or every problem with file and line; ``baseline.cedar`` — the guard rails.
* :mod:`.engine` — :class:`PolicyEngine.authorize`, the fail-closed and needs-approval
  rules; :mod:`.cache` — engines kept per release.
* :mod:`.decision` — the answer and its journal event; :mod:`.cedar` — the only module
  that touches ``cedarpy``.

The baseline (``baseline.cedar``, on unless a caller opts out) that bundles rely on;
its forbids cannot be overridden by a bundle, and each names the denials it causes:

====================================  ====================================================
``baseline.permit-run``               permit invoke_agent, call_tool, use_model
``baseline.permit-approve``           permit approve
``baseline.permit-release``           permit publish, promote
``baseline.run-needs-invoke-role``    forbid those three without role ``invoke``
``baseline.approve-needs-approve-     forbid approve without role ``approve``
role``
``baseline.release-needs-operate-     forbid publish/promote without ``operate`` or
role``                                ``admin``
``baseline.tenant-isolation``         forbid any resource outside the key's tenant
                                      (models are shared and exempt)
``baseline.agent-of-another-tenant``  forbid call_tool/approve for another tenant's agent
``baseline.tool-not-listed-for-       forbid call_tool/approve of a tool the agent does
agent``                               not list (``resource in context.agent``)
``baseline.egress-of-uncleared-       forbid call_tool of an egress tool when the
data``                                arguments hold a data class the tool is not
                                      cleared for
``baseline.agent-outside-key-scope``  a key scoped to agents invokes only those
``baseline.tool-outside-key-scope``   a key scoped to tools calls only those
``baseline.environment-outside-key-   a key scoped to environments acts only there
scope``
``baseline.promote-outside-key-       ... and promotes only into them
scope``
====================================  ====================================================

Example::

    source = load_policies(bundle.root)
    engine = PolicyEngine(source, Catalog.from_bundle(bundle, tenant="acme"))
    decision = engine.authorize(
        Principal("key_123", "acme", frozenset({"invoke"})),
        Action.CALL_TOOL,
        Resource.tool("refund"),
        Context(environment="prod", agent="support-desk", arguments={"amount_cents": 500}),
    )
    if decision.outcome is Outcome.NEEDS_APPROVAL: ...
"""

from pilothouse.control.policy.cache import EngineCache
from pilothouse.control.policy.decision import Decision, Outcome, PolicyRef
from pilothouse.control.policy.engine import PolicyEngine
from pilothouse.control.policy.entities import (
    AgentEntity,
    Catalog,
    Context,
    Resource,
    ToolEntity,
)
from pilothouse.control.policy.loader import (
    BASELINE_FILE,
    PolicyLoadError,
    PolicyProblem,
    PolicySource,
    load_policies,
    parse_policy_files,
)
from pilothouse.control.policy.schema import Action, EntityType
from pilothouse.control.policy.values import UnrepresentableValue
from pilothouse.control.principal import Principal, Scopes

__all__ = [
    "BASELINE_FILE",
    "Action",
    "AgentEntity",
    "Catalog",
    "Context",
    "Decision",
    "EngineCache",
    "EntityType",
    "Outcome",
    "PolicyEngine",
    "PolicyLoadError",
    "PolicyProblem",
    "PolicyRef",
    "PolicySource",
    "Principal",
    "Resource",
    "Scopes",
    "ToolEntity",
    "UnrepresentableValue",
    "load_policies",
    "parse_policy_files",
]
