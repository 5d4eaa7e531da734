"""The admin API of the control plane: releases and environments.

``POST /admin/v1/releases`` takes a bundle as ``{files: {path: text}, message, author}``
(what ``release publish`` reads from a directory); promotion, canary and rollback are
``POST /admin/v1/environments/{env}/promote|rollback``. The ``operate`` role guards these
(:mod:`pilothouse.api.auth`), and publish and promote are also authorized by Cedar as the
key's principal (:mod:`pilothouse.control.release_policy`).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import context, json_body, json_response, services
from pilothouse.control.bundle import load_bundle
from pilothouse.control.environments import Environments, GateFailed, Move
from pilothouse.control.principal import Principal
from pilothouse.control.release_diff import diff_releases
from pilothouse.control.release_policy import authorize_promote, authorize_publish
from pilothouse.control.releases import Releases, materialise
from pilothouse.errors import InvalidRequest, NotFound, PermissionDenied


def _control(request: Request) -> tuple[Releases, Environments]:
    found = services(request)
    if found.releases is None or found.environments is None:
        raise NotFound("This store keeps no releases.", code="no_release_store")
    return found.releases, found.environments


def _principal(request: Request) -> Principal:
    principal = context(request).principal
    if principal is None:  # the auth middleware sets one on every admin request
        raise PermissionDenied("No API key.", code="policy_denied")
    return principal


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return body


async def publish(request: Request) -> Response:
    """POST /admin/v1/releases."""
    releases, _ = _control(request)
    body = _object(await json_body(request))
    files = body.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise InvalidRequest("'files' must map relative paths to text.", param="files")
    message = body.get("message")
    if not isinstance(message, str) or not message:
        raise InvalidRequest("'message' is required.", param="message")
    with tempfile.TemporaryDirectory() as scratch:
        root = materialise(files, Path(scratch) / "bundle")
        authorize_publish(_principal(request), load_bundle(root))
        release, created = await releases.publish(root, message, str(body.get("author") or "api"))
    return json_response({**release.summary(), "created": created}, 201 if created else 200)


async def list_releases(request: Request) -> Response:
    """GET /admin/v1/releases."""
    releases, _ = _control(request)
    return json_response({"object": "list", "data": [r.summary() for r in await releases.list()]})


async def get_release(request: Request) -> Response:
    """GET /admin/v1/releases/{release}."""
    releases, _ = _control(request)
    release = await releases.get(request.path_params["release"])
    return json_response(
        {**release.summary(), "files": sorted(release.files), "resolved": release.resolved}
    )


async def diff(request: Request) -> Response:
    """GET /admin/v1/releases/{release}/diff/{other}."""
    releases, _ = _control(request)
    old = await releases.get(request.path_params["release"])
    new = await releases.get(request.path_params["other"])
    return json_response(diff_releases(old, new, releases.bundle(old), releases.bundle(new)))


async def list_environments(request: Request) -> Response:
    """GET /admin/v1/environments."""
    _, environments = _control(request)
    return json_response(
        {"object": "list", "data": [asdict(s) for s in await environments.states()]}
    )


async def history(request: Request) -> Response:
    """GET /admin/v1/environments/{env}/history."""
    _, environments = _control(request)
    events = await environments.history(request.path_params["env"])
    return json_response({"object": "list", "data": [asdict(e) for e in events]})


async def promote(request: Request) -> Response:
    """POST /admin/v1/environments/{env}/promote ``{release, canary?, allow_breaking?,
    reason?, actor?}``; a refusal by the gates is a 409 listing every gate's result."""
    _, environments = _control(request)
    body = _object(await json_body(request))
    release = body.get("release")
    if not isinstance(release, str):
        raise InvalidRequest("'release' is required.", param="release")
    canary = body.get("canary")
    if canary is not None and not isinstance(canary, int):
        raise InvalidRequest("'canary' must be a whole percent.", param="canary")
    releases, _ = _control(request)
    candidate = releases.bundle(await releases.get(release))
    authorize_promote(_principal(request), candidate, request.path_params["env"])
    try:
        move = await environments.promote(
            release,
            request.path_params["env"],
            actor=str(body.get("actor") or "api"),
            reason=str(body.get("reason") or ""),
            canary_percent=canary,
            allow_breaking=body.get("allow_breaking"),
        )
    except GateFailed as exc:
        payload = exc.to_wire()
        payload["gates"] = [r.to_dict() for r in exc.results]
        return json_response(payload, exc.status)
    return json_response(_move(move))


async def rollback(request: Request) -> Response:
    """POST /admin/v1/environments/{env}/rollback ``{reason?, actor?}``."""
    _, environments = _control(request)
    body = _object(await json_body(request)) if await request.body() else {}
    move = await environments.rollback(
        request.path_params["env"],
        actor=str(body.get("actor") or "api"),
        reason=str(body.get("reason") or ""),
    )
    return json_response(_move(move))


def _move(move: Move) -> dict[str, Any]:
    return {
        "environment": asdict(move.state),
        "event": asdict(move.event),
        "gates": [g.to_dict() for g in move.gates],
    }


routes = [
    Route("/admin/v1/releases", publish, methods=["POST"]),
    Route("/admin/v1/releases", list_releases, methods=["GET"]),
    Route("/admin/v1/releases/{release}", get_release, methods=["GET"]),
    Route("/admin/v1/releases/{release}/diff/{other}", diff, methods=["GET"]),
    Route("/admin/v1/environments", list_environments, methods=["GET"]),
    Route("/admin/v1/environments/{env}/history", history, methods=["GET"]),
    Route("/admin/v1/environments/{env}/promote", promote, methods=["POST"]),
    Route("/admin/v1/environments/{env}/rollback", rollback, methods=["POST"]),
]
