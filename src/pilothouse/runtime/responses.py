"""The Responses API as a service: create, stream, background, retrieve, cancel, delete.

The service is the runtime's front door. It validates what only it can (ids that must
exist, combinations that conflict), prepares a :class:`~pilothouse.runtime.turn.Turn`,
runs it through the model provider, and persists the outcome. It knows nothing of HTTP:
the API layer hands it parsed requests and renders what it returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from pilothouse.control.agent import Limits
from pilothouse.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PilothouseError,
    UnprocessableEntity,
)
from pilothouse.protocol import ids
from pilothouse.protocol.events import Sequencer, lifecycle, replay, terminal_kind
from pilothouse.protocol.items import normalize_input
from pilothouse.protocol.requests import CreateResponse, InputTokensRequest
from pilothouse.protocol.resource import TERMINAL_STATUSES
from pilothouse.runtime.agent import recovery
from pilothouse.runtime.agent.source import AgentSource, BundleSource
from pilothouse.runtime.live import EventHub, LiveRegistry, LiveRun
from pilothouse.runtime.providers.base import Item, ModelResult
from pilothouse.runtime.providers.filtered import for_plain_request
from pilothouse.runtime.providers.router import ModelRouter, Resolved
from pilothouse.runtime.turn import RequestContext, Turn
from pilothouse.storage.base import ItemPage, JournalStore, Store

if TYPE_CHECKING:
    from pilothouse.runtime.budgets.guard import BudgetGuard

log = logging.getLogger(__name__)

ACTIVE = frozenset({"queued", "in_progress"})


@dataclass(slots=True)
class Streamed:
    """A create whose answer is an SSE stream."""

    frames: AsyncIterator[bytes]


@dataclass(slots=True)
class Finished:
    """A create whose answer is one response object.

    ``raw`` holds the object already encoded (as it was stored), so that the API sends
    those bytes instead of encoding the same object a second time.
    """

    resource: dict[str, Any]
    raw: bytes | None = None

    def body(self) -> bytes:
        """The JSON body to send."""
        return self.raw if self.raw is not None else orjson.dumps(self.resource)


Outcome = Finished | Streamed


class ResponseService:
    """Create and manage responses. See the module docstring."""

    def __init__(
        self,
        store: Store,
        router: ModelRouter,
        agents: AgentSource | None = None,
        journal: JournalStore | None = None,
        redact: Callable[[Any], Any] | None = None,
        budgets: BudgetGuard | None = None,
    ) -> None:
        self.store = store
        # Snapshots of running responses are read back like stored ones: redacted.
        self.redact: Callable[[Any], Any] = redact or (lambda value: value)
        self.budgets = budgets
        self.router = router
        self.journal = journal
        self.agents: AgentSource = agents or BundleSource(None, None)
        self.live = LiveRegistry()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- create ------------------------------------------------------------------------

    async def create(self, request: CreateResponse, context: RequestContext) -> Outcome:
        """Run a new response; JSON for plain requests, a stream for ``stream: true``."""
        turn = await self._prepare(request, context)
        if self.budgets is not None:
            await self.budgets.meter(turn)  # the key's and tenant's budgets, if any
        key = context.idempotency_key
        if key is not None:
            earlier = await self._claim(turn, key)
            if earlier is not None:
                return earlier
        try:
            outcome = await self._start(turn)
        except BaseException:
            if key is not None:
                await self.store.release_idempotency(context.tenant, key)
            raise
        if key is None:
            return outcome
        if isinstance(outcome, Streamed):
            return Streamed(self._settle_key(outcome.frames, turn, key))
        await self.store.finish_idempotency(context.tenant, key)
        return outcome

    async def _settle_key(
        self, frames: AsyncIterator[bytes], turn: Turn, key: str
    ) -> AsyncIterator[bytes]:
        """Mark a streamed request's key done once its response is stored, else release it."""
        tenant = turn.context.tenant
        try:
            async for frame in frames:
                yield frame
        finally:
            if await self.store.get_response(tenant, turn.id) is not None:
                await self.store.finish_idempotency(tenant, key)
            else:
                await self.store.release_idempotency(tenant, key)

    async def _prepare(self, request: CreateResponse, context: RequestContext) -> Turn:
        if request.previous_response_id and request.conversation is not None:
            raise InvalidRequest(
                "'previous_response_id' cannot be used together with 'conversation'.",
                param="conversation",
                code="invalid_parameter_combination",
            )
        if request.background and request.store is False:
            raise InvalidRequest(
                "Background responses need store=true.", param="background", code="invalid_value"
            )
        response_id = ids.new_id(ids.RESPONSE)
        history, root = await self._history(request, context.tenant)
        sticky = request.conversation_id or root or response_id
        model, resolved, instructions = self._route(request, response_id, context, sticky)
        return Turn(
            id=response_id,
            created_at=int(time.time()),
            request=request,
            model=model,
            resolved=resolved,
            input_items=normalize_input(request.input),
            history=history,
            context=context,
            instructions=instructions,
        )

    def _route(
        self, request: CreateResponse, response_id: str, context: RequestContext, sticky: str
    ) -> tuple[str, Resolved, str | list[Item] | None]:
        """The model name to echo, what serves it, and the instructions to send.

        ``sticky`` names the conversation, so that an environment running a canary keeps
        one conversation on one release.
        """
        served = self.agents.pick(request, sticky)
        target = served.directory.resolve(request)
        filters = served.runtime.plain_filters() if served.runtime is not None else None
        if target is None:
            if not request.model:
                raise InvalidRequest(
                    "Missing required parameter: 'model'.",
                    param="model",
                    code="missing_required_parameter",
                )
            resolved = for_plain_request(self.router.resolve(request.model), filters)
            return request.model, resolved, request.instructions
        if target.agent is None:
            resolved = for_plain_request(self.router.resolve(target.model), filters)
            return target.model, resolved, target.instructions
        if served.runtime is None:
            raise NotFound("No agent bundle is loaded.", param="model", code="agent_not_found")
        runner = served.runtime.runner(
            target,
            run_id=response_id,
            tenant=context.tenant,
            requested_limits=_requested_limits(request),
            request_body=request.model_dump(exclude_none=True),
            principal=context.principal,
        )
        return target.model, Resolved(runner, target.agent.model), request.instructions

    async def _history(self, request: CreateResponse, tenant: str) -> tuple[list[Item], str | None]:
        """The history to prepend, and the first response of the chain (if chained)."""
        previous = request.previous_response_id
        if previous:
            chain = await self.store.response_chain(tenant, previous)
            if not chain or chain[-1].id != previous:
                raise NotFound(
                    f"Previous response with id '{previous}' not found.",
                    param="previous_response_id",
                )
            if chain[-1].status in ACTIVE:
                raise InvalidRequest(
                    f"Previous response with id '{previous}' is still {chain[-1].status}.",
                    param="previous_response_id",
                    code="previous_response_not_finished",
                )
            items: list[Item] = []
            for record in chain:
                items += orjson.loads(record.input_items)
                items += orjson.loads(record.resource).get("output", [])
            return items, chain[0].id
        conversation = request.conversation_id
        if request.conversation is not None:
            if not conversation or await self.store.get_conversation(tenant, conversation) is None:
                raise NotFound(f"Conversation '{conversation}' not found.", param="conversation")
            return await self.store.all_items(tenant, conversation), None
        return [], None

    async def _claim(self, turn: Turn, key: str) -> Outcome | None:
        if not turn.store:
            raise InvalidRequest(
                "Idempotency-Key needs store=true: the response must be kept to be replayed.",
                param="Idempotency-Key",
                code="invalid_value",
            )
        digest = hashlib.sha256(
            orjson.dumps(turn.request.model_dump(exclude_none=True), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        tenant = turn.context.tenant
        earlier = await self.store.claim_idempotency(tenant, key, digest, turn.id, turn.created_at)
        if earlier is None:
            return None
        if earlier.body_digest != digest:
            raise UnprocessableEntity(
                "This Idempotency-Key was used with a different request body.",
                param="Idempotency-Key",
            )
        if earlier.state != "done":
            raise Conflict(
                "A request with this Idempotency-Key is still in flight.",
                param="Idempotency-Key",
                code="idempotency_request_in_flight",
                retry_after=1,
            )
        if turn.request.stream:
            return Streamed(self.follow(tenant, earlier.response_id))
        return Finished(await self.retrieve(tenant, earlier.response_id))

    async def _start(self, turn: Turn) -> Outcome:
        if turn.request.background:
            return await self._start_background(turn)
        if turn.request.stream:
            return Streamed(await self._open_stream(turn))
        live = self._register(turn)
        try:
            result = await turn.resolved.provider.complete(turn.model_request())
            resource = turn.resource(result.status, result)
            stored = await self._persist(turn, resource, insert=True)
            return Finished(resource, stored)
        finally:
            if live:
                self.live.remove(turn.id)

    def _register(self, turn: Turn) -> bool:
        if not turn.store:
            return False
        self.live.add(turn.id, LiveRun(turn.context.tenant, lambda: turn.resource("in_progress")))
        return True

    # -- streaming ---------------------------------------------------------------------

    async def _open_stream(self, turn: Turn) -> AsyncIterator[bytes]:
        """Start the provider's stream before any byte is sent, so that an upstream that
        refuses at once (429, 401, …) becomes a proper HTTP error, not a 200 stream."""
        events = turn.resolved.provider.stream(turn.model_request())
        first = await anext(events)
        registered = self._register(turn)
        return self._relay(turn, first, events, registered, hub=None)

    async def _relay(
        self,
        turn: Turn,
        first: Any,
        events: AsyncIterator[Any],
        registered: bool,
        hub: EventHub | None,
        insert: bool = True,
    ) -> AsyncIterator[bytes]:
        sequencer = Sequencer()
        finished = False

        def emit(event: dict[str, Any]) -> bytes:
            frame = sequencer.frame(event)
            if hub is not None:
                hub.publish(event["sequence_number"], frame)
            return frame

        try:
            start = turn.resource("in_progress")
            yield emit(lifecycle("created", start))
            yield emit(lifecycle("in_progress", start))
            try:
                pending: Any = first
                while not isinstance(pending, ModelResult):
                    yield emit(pending)
                    pending = await anext(events)
                final = turn.resource(pending.status, pending)
            except PilothouseError as exc:
                final = _failed(turn, exc.code or "server_error", exc.message)
            except StopAsyncIteration:
                final = _failed(turn, "server_error", "The model stream ended early.")
            await self._persist(turn, final, insert=insert)
            finished = True
            yield emit(lifecycle(terminal_kind(final["status"]), final))
        finally:
            if not finished:
                # The client went away or the task was cancelled. The cleanup runs as a task
                # of its own: under anyio's cancellation (Starlette's streams) every await in
                # this block would be cancelled again.
                self._spawn(self._abandon(turn, events, insert))
            if registered:
                self.live.remove(turn.id)
            if hub is not None:
                hub.close()

    async def _abandon(self, turn: Turn, events: AsyncIterator[Any], insert: bool) -> None:
        """Close the provider's stream (an upstream connection is released; an agent run
        closes its journal) and keep a record of the response, as cancelled."""
        aclose = getattr(events, "aclose", None)
        try:
            if aclose is not None:
                await aclose()
            await self._persist(turn, turn.resource("cancelled"), insert=insert)
        except Exception:  # the record is best effort; the failure itself is logged
            log.exception("could not close abandoned response %s", turn.id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task this service tracks (and waits for when it closes)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- background --------------------------------------------------------------------

    async def _start_background(self, turn: Turn) -> Outcome:
        queued = turn.resource("queued")
        await self.store.insert_response(turn.record(queued))
        run = LiveRun(turn.context.tenant, lambda: turn.resource("in_progress"))
        self.live.add(turn.id, run)
        run.task = asyncio.create_task(self._run_background(turn, run))
        if turn.request.stream:
            return Streamed(run.hub.follow())
        return Finished(queued)

    async def _run_background(self, turn: Turn, run: LiveRun) -> None:
        try:
            record = turn.record(turn.resource("in_progress"))
            if not await self.store.update_response(record, frozenset({"queued"})):
                return  # cancelled before it started
            events = turn.resolved.provider.stream(turn.model_request())
            try:
                first = await anext(events)
            except PilothouseError as exc:
                failed = _failed(turn, exc.code or "server_error", exc.message)
                await self._persist(turn, failed, insert=False)
                return
            async for _ in self._relay(turn, first, events, False, run.hub, insert=False):
                pass
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("background response %s failed", turn.id)
        finally:
            run.hub.close()
            self.live.remove(turn.id)

    # -- persistence -------------------------------------------------------------------

    async def _persist(self, turn: Turn, resource: dict[str, Any], *, insert: bool) -> bytes | None:
        """Store ``resource`` (and append to its conversation); returns the stored JSON."""
        appended: list[Item] | None = None
        if turn.request.conversation_id and resource["status"] in ("completed", "incomplete"):
            appended = turn.input_items + resource["output"]
        if not turn.store:
            if appended:
                await self.store.append_items(
                    turn.context.tenant, turn.request.conversation_id or "", appended
                )
            return None
        record = turn.record(resource)
        if insert:
            await self.store.insert_response(record, appended)
        else:
            await self.store.update_response(record, ACTIVE, appended)
        return record.resource.encode()

    # -- reads and management ----------------------------------------------------------

    async def retrieve(self, tenant: str, response_id: str) -> dict[str, Any]:
        """The response object (a snapshot while it runs in this process)."""
        live = self.live.get(tenant, response_id)
        if live is not None:
            snapshot: dict[str, Any] = self.redact(live.snapshot())
            return snapshot
        record = await self.store.get_response(tenant, response_id)
        if record is None:
            raise _not_found(response_id)
        resource: dict[str, Any] = orjson.loads(record.resource)
        return resource

    async def retrieve_raw(self, tenant: str, response_id: str) -> bytes:
        """The stored response as JSON bytes, without decoding (the common GET)."""
        live = self.live.get(tenant, response_id)
        if live is not None:
            return orjson.dumps(self.redact(live.snapshot()))
        record = await self.store.get_response(tenant, response_id)
        if record is None:
            raise _not_found(response_id)
        return record.resource.encode()

    def follow(
        self, tenant: str, response_id: str, starting_after: int | None = None
    ) -> AsyncIterator[bytes]:
        """The response's event stream from the first event (or after ``starting_after``)."""
        live = self.live.get(tenant, response_id)
        if live is not None and live.task is not None:
            return live.hub.follow(starting_after)
        return self._replay(tenant, response_id, starting_after)

    async def _replay(
        self, tenant: str, response_id: str, starting_after: int | None
    ) -> AsyncIterator[bytes]:
        resource = await self.retrieve(tenant, response_id)
        sequencer = Sequencer()
        for event in replay(resource):
            frame = sequencer.frame(event)
            if starting_after is None or event["sequence_number"] > starting_after:
                yield frame

    async def delete(self, tenant: str, response_id: str) -> dict[str, Any]:
        """Delete a stored response."""
        live = self.live.get(tenant, response_id)
        if live is not None and live.task is not None:
            live.task.cancel()
        if not await self.store.delete_response(tenant, response_id):
            raise _not_found(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def cancel(self, tenant: str, response_id: str) -> dict[str, Any]:
        """Cancel a background response; a finished one is returned unchanged."""
        record = await self.store.get_response(tenant, response_id)
        if record is None:
            raise _not_found(response_id)
        if not record.background:
            raise InvalidRequest(
                "Only responses created with background=true can be cancelled.",
                param="response_id",
                code="not_cancellable",
            )
        resource: dict[str, Any] = orjson.loads(record.resource)
        if record.status in TERMINAL_STATUSES:
            return resource
        resource.update(status="cancelled", completed_at=None)
        record.status = "cancelled"
        record.resource = orjson.dumps(resource).decode()
        if not await self.store.update_response(record, ACTIVE):
            return await self.retrieve(tenant, response_id)
        live = self.live.get(tenant, response_id)
        if live is not None and live.task is not None:
            # Unregistered at once: from now on the store (cancelled) is the truth, not the
            # snapshot of a task that is still unwinding.
            self.live.remove(response_id)
            live.task.cancel()
            sequence_number = live.hub.frames[-1][0] + 1 if live.hub.frames else 0
            frame = Sequencer(sequence_number).frame(lifecycle("failed", resource))
            live.hub.publish(sequence_number, frame)
            live.hub.close()
        return resource

    async def input_items(
        self, tenant: str, response_id: str, *, after: str | None, limit: int, order: str
    ) -> ItemPage:
        """A page of the items the response was given as input."""
        record = await self.store.get_response(tenant, response_id)
        if record is None:
            raise _not_found(response_id)
        items: list[Item] = orjson.loads(record.input_items)
        if order == "desc":
            items.reverse()
        if after is not None:
            position = next((i for i, item in enumerate(items) if item.get("id") == after), None)
            if position is None:
                raise InvalidRequest(f"No input item with id '{after}'.", param="after")
            items = items[position + 1 :]
        return ItemPage(items[:limit], len(items) > limit)

    async def input_tokens(self, request: InputTokensRequest, context: RequestContext) -> int:
        """Input tokens a create with this body would consume."""
        create = CreateResponse.model_validate(request.model_dump(exclude_none=True))
        turn = await self._prepare(create, context)
        return await turn.resolved.provider.count_input_tokens(turn.model_request())

    async def resume(self, tenant: str, run_id: str) -> dict[str, Any]:
        """Continue an agent run from its journal (after a crash) and store its response."""
        result, spec = await recovery.resume(self.agents, self.journal, tenant, run_id)
        request = CreateResponse.model_validate(spec["request"])
        public_model: str = spec["public_model"]
        turn = Turn(
            id=run_id,
            created_at=int(spec["started_at"]),
            request=request,
            model=public_model,
            resolved=self.router.resolve(spec["model"]),
            input_items=normalize_input(request.input),
            history=[],
            context=RequestContext(tenant=tenant),
        )
        resource = turn.resource(result.status, result)
        stored = await self.store.get_response(tenant, run_id)
        if turn.store:
            if stored is None:
                await self.store.insert_response(turn.record(resource))
            else:
                await self.store.update_response(turn.record(resource), ACTIVE)
        return resource

    async def close(self) -> None:
        """Cancel what still runs here, then let cleanups finish."""
        await self.live.cancel_all()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _requested_limits(request: CreateResponse) -> dict[str, Any]:
    """Limits the request asks for: OpenAI's own fields and an optional ``limits`` object."""
    extra = request.extras.get("limits") or {}
    if not isinstance(extra, dict):
        raise InvalidRequest("'limits' must be an object.", param="limits", code="invalid_type")
    unknown = sorted(set(extra) - set(Limits.model_fields))
    if unknown:
        raise InvalidRequest(
            f"Unknown limit '{unknown[0]}'.", param=f"limits.{unknown[0]}", code="invalid_value"
        )
    return {
        "max_tool_calls": request.max_tool_calls,
        "max_output_tokens": request.max_output_tokens,
        **extra,
    }


def _failed(turn: Turn, code: str, message: str) -> dict[str, Any]:
    resource: dict[str, Any] = turn.resource("failed")
    resource["error"] = {"code": code, "message": message}
    return resource


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")
