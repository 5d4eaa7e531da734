"""The Cedar schema of Pilothouse: which entities exist, which actions, and their context.

Every policy a bundle ships is validated against this schema when the bundle loads, so a
typo such as ``principal.role`` or ``Action::"call-tool"`` is a load problem with a file
and line, not a policy that silently never matches. The schema lives here, in Cedar's own
syntax, because it *is* the vocabulary a policy author writes against::

    Pilothouse::Tenant                    a tenant; every other entity but Model is in one
    Pilothouse::Principal in [Tenant]     an API key: tenant, roles, scopes
    Pilothouse::Agent in [Tenant]         an agent of the release
    Pilothouse::Tool in [Agent]           a governed tool; its parents are the agents that
                                          list it, so ``resource in context.agent`` means
                                          "this agent may use this tool"
    Pilothouse::Model                     an upstream model; shared across tenants
    Pilothouse::Environment in [Tenant]   dev, staging, prod, ...

    action           principal   resource      context
    invoke_agent     Principal   Agent         RequestContext
    use_model        Principal   Model         RequestContext
    call_tool        Principal   Tool          ToolContext (``agent`` required)
    approve          Principal   Tool          ToolContext (the call being approved)
    publish          Principal   Tenant        RequestContext (the tenant's release catalog)
    promote          Principal   Environment   RequestContext

Context attributes are always present (the engine fills defaults), so policies need no
``has`` guards for them: ``environment`` (the environment's name), ``arguments`` (the tool
arguments as a Cedar record, see :mod:`.values`), ``approved`` (a matching approval is
held, see :mod:`.engine`), ``cost_usd_micros`` (run cost so far in millionths of a
dollar), ``tool_call_count`` (tool calls so far in the run) and ``data_classes`` (data
classes the redactor found in the arguments). ``agent`` is the agent whose run makes the
request; it is optional for ``RequestContext`` (a plain-model pass-through has none).

``arguments`` is declared as an empty record because its shape is each tool's JSON Schema,
not ours; the loader accepts exactly the validator's "attribute ``arguments.*`` not found"
complaint and nothing else (see :mod:`.loader`).
"""

from __future__ import annotations

import functools
from enum import StrEnum

from pilothouse.control.policy import cedar

NAMESPACE = "Pilothouse"

CEDAR_SCHEMA = """\
namespace Pilothouse {
  entity Tenant;

  type Scopes = {
    agents?: Set<String>,
    tools?: Set<String>,
    environments?: Set<String>
  };

  entity Principal in [Tenant] {
    tenant: Tenant,
    roles: Set<String>,
    scopes: Scopes
  };

  entity Agent in [Tenant] {
    tenant: Tenant,
    name: String,
    version: String
  };

  entity Tool in [Agent] {
    name: String,
    side_effect: Bool,
    egress: Bool,
    data_classes: Set<String>
  };

  entity Model {
    name: String
  };

  entity Environment in [Tenant] {
    tenant: Tenant,
    name: String
  };

  type Arguments = {};

  type RequestContext = {
    environment: String,
    agent?: Agent,
    arguments: Arguments,
    approved: Bool,
    cost_usd_micros: Long,
    tool_call_count: Long,
    data_classes: Set<String>
  };

  type ToolContext = {
    environment: String,
    agent: Agent,
    arguments: Arguments,
    approved: Bool,
    cost_usd_micros: Long,
    tool_call_count: Long,
    data_classes: Set<String>
  };

  action invoke_agent appliesTo {
    principal: [Principal], resource: [Agent], context: RequestContext
  };
  action use_model appliesTo {
    principal: [Principal], resource: [Model], context: RequestContext
  };
  action call_tool, approve appliesTo {
    principal: [Principal], resource: [Tool], context: ToolContext
  };
  action publish appliesTo {
    principal: [Principal], resource: [Tenant], context: RequestContext
  };
  action promote appliesTo {
    principal: [Principal], resource: [Environment], context: RequestContext
  };
}
"""


class Action(StrEnum):
    """The actions a policy can govern; the value is the Cedar action id."""

    INVOKE_AGENT = "invoke_agent"
    CALL_TOOL = "call_tool"
    USE_MODEL = "use_model"
    APPROVE = "approve"
    PUBLISH = "publish"
    PROMOTE = "promote"


class EntityType(StrEnum):
    """The entity types of the schema, fully qualified as Cedar writes them."""

    TENANT = "Pilothouse::Tenant"
    PRINCIPAL = "Pilothouse::Principal"
    AGENT = "Pilothouse::Agent"
    TOOL = "Pilothouse::Tool"
    MODEL = "Pilothouse::Model"
    ENVIRONMENT = "Pilothouse::Environment"


ACTION_TYPE = "Pilothouse::Action"

TOOL_ACTIONS = frozenset({Action.CALL_TOOL, Action.APPROVE})
"""Actions whose context must name the agent (``ToolContext``)."""

RESOURCE_TYPES: dict[Action, EntityType] = {
    Action.INVOKE_AGENT: EntityType.AGENT,
    Action.USE_MODEL: EntityType.MODEL,
    Action.CALL_TOOL: EntityType.TOOL,
    Action.APPROVE: EntityType.TOOL,
    Action.PUBLISH: EntityType.TENANT,
    Action.PROMOTE: EntityType.ENVIRONMENT,
}
"""The one resource type each action applies to, as the schema declares."""


@functools.cache
def parsed_schema() -> cedar.Schema:
    """The schema parsed once per process; the handle is immutable and shared."""
    return cedar.parse_schema(CEDAR_SCHEMA)
