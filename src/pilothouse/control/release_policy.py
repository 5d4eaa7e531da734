"""Authorization of the control plane's own actions: ``publish`` and ``promote``.

The admin API asks here before it stores a release or moves an environment, as the
key's principal. Publishing is judged by the policies of the bundle being published
(plus the baseline, whose forbids no bundle can lift: the ``operate`` role, the key's
tenant); promoting by the policies of the release being promoted, with the target
environment as the resource (so a key scoped to ``staging`` cannot promote to ``prod``).
A refusal is a 403 ``permission_error`` with code ``policy_denied``, before anything
changes. The engine is imported here, on these rare requests only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pilothouse.control.bundle import Bundle
from pilothouse.control.principal import Principal
from pilothouse.errors import PermissionDenied

if TYPE_CHECKING:
    from pilothouse.control.policy import Action, Context, Resource


def authorize_publish(principal: Principal, bundle: Bundle) -> None:
    """Raise unless ``principal`` may publish ``bundle`` into its tenant's catalog."""
    from pilothouse.control.policy import Action, Context, Resource

    _check(principal, bundle, Action.PUBLISH, Resource.tenant(principal.tenant), Context(), ())


def authorize_promote(principal: Principal, bundle: Bundle, environment: str) -> None:
    """Raise unless ``principal`` may promote ``bundle``'s release into ``environment``."""
    from pilothouse.control.policy import Action, Context, Resource

    resource = Resource.environment(environment)
    context = Context(environment=environment)
    _check(principal, bundle, Action.PROMOTE, resource, context, (environment,))


def _check(
    principal: Principal,
    bundle: Bundle,
    action: Action,
    resource: Resource,
    context: Context,
    environments: tuple[str, ...],
) -> None:
    from pilothouse.control.policy import Catalog, PolicyEngine, load_policies

    catalog = Catalog.from_bundle(bundle, principal.tenant, environments)
    engine = PolicyEngine(load_policies(Path(bundle.root)), catalog)
    decision = engine.authorize(principal, action, resource, context)
    if not decision.allowed:
        raise PermissionDenied(
            f"Policy does not allow this key to {action.value} here: {decision.reason}",
            code="policy_denied",
        )
