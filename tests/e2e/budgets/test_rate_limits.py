"""Requests/min, tokens/min and USD/day per key and per tenant, held across two replicas
that share one store; refusals are 429 ``rate_limit_error`` with a code and retry-after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import openai
import pytest

from pilothouse.control.pricing import ModelPrice
from pilothouse.testing import ServerThread
from tests.e2e.budgets.conftest import SECONDS_TO_MIDNIGHT, MakeKey, set_tenant_limits
from tests.scrape import sample

Sdks = Callable[[str], tuple[openai.OpenAI, openai.OpenAI]]
MINI = ModelPrice(input=0.15, cached_input=0.075, output=0.6)  # the desk bundle's price


def _refusal(error: openai.APIStatusError) -> tuple[int, dict[str, Any], str | None]:
    body: dict[str, Any] = error.response.json()["error"]
    return error.status_code, body, error.response.headers.get("retry-after")


def test_requests_per_minute_of_a_key_hold_across_replicas(make_key: MakeKey, sdks: Sdks) -> None:
    one, two = sdks(make_key("invoke", limits={"rpm": 3}))
    other, _ = sdks(make_key("invoke"))  # same tenant, no limits of its own
    first = one.responses.create(model="gpt-4o-mini", input="hello")
    two.conversations.create()  # conversation writes count too
    one.responses.retrieve(first.id)  # reads do not
    two.responses.create(model="gpt-4o-mini", input="hello")
    for sdk in (one, two):
        with pytest.raises(openai.RateLimitError) as refused:
            sdk.responses.create(model="gpt-4o-mini", input="one too many")
        status, body, retry_after = _refusal(refused.value)
        assert (status, body["type"], body["code"], body["param"]) == (
            429,
            "rate_limit_error",
            "rate_limit_requests",
            None,
        )
        assert "3 requests per minute" in body["message"] and retry_after == "30"
    assert other.responses.create(model="gpt-4o-mini", input="unaffected").status == "completed"


def test_requests_per_minute_of_a_tenant(
    admin: httpx.Client, tenant: str, make_key: MakeKey, sdks: Sdks
) -> None:
    set_tenant_limits(admin, tenant, rpm=4)
    keys = [sdks(make_key("invoke")) for _ in range(2)]
    outcomes = []
    for i in range(8):  # two keys, two replicas, one tenant budget
        sdk = keys[i % 2][(i // 2) % 2]
        try:
            sdk.responses.create(model="gpt-4o-mini", input=f"ask {i}")
            outcomes.append("ok")
        except openai.RateLimitError as error:
            assert _refusal(error)[1]["code"] == "rate_limit_requests"
            outcomes.append("429")
    assert outcomes == ["ok"] * 4 + ["429"] * 4
    usage = admin.get(f"/admin/v1/tenants/{tenant}/limits").json()["usage"]
    assert usage["requests_this_minute"] == 4


def test_tokens_per_minute_refuse_once_the_window_is_spent(
    admin: httpx.Client, tenant: str, make_key: MakeKey, sdks: Sdks
) -> None:
    set_tenant_limits(admin, tenant, tpm=100)
    one, two = sdks(make_key("invoke"))
    spent = 0
    for i in range(50):
        sdk = (one, two)[i % 2]
        try:
            response = sdk.responses.create(model="gpt-4o-mini", input=f"count my tokens {i}")
        except openai.RateLimitError as error:
            _, body, retry_after = _refusal(error)
            assert (body["code"], retry_after) == ("rate_limit_tokens", "30")
            break
        assert response.usage is not None
        assert spent < 100  # the call was let in because the window had room
        spent += response.usage.input_tokens + response.usage.output_tokens
    else:
        pytest.fail("the tokens/min limit never refused")
    assert spent >= 100
    usage = admin.get(f"/admin/v1/tenants/{tenant}/limits").json()["usage"]
    assert usage["tokens_this_minute"] == spent


def test_usd_per_day_of_plain_requests(
    admin: httpx.Client, tenant: str, make_key: MakeKey, sdks: Sdks
) -> None:
    one, two = sdks(make_key("invoke", limits={"usd_per_day": 0.0002}))
    costs: list[float] = []
    refusal: openai.RateLimitError | None = None
    for i in range(100):
        try:
            response = (one, two)[i % 2].responses.create(
                model="gpt-4o-mini", input=f"what does it cost? {i}", max_output_tokens=16
            )
        except openai.RateLimitError as error:
            refusal = error
            break
        assert response.usage is not None
        costs.append(MINI.cost(response.usage.model_dump()))
    assert refusal is not None and costs
    _, body, retry_after = _refusal(refusal)
    assert body["code"] == "budget_exceeded_usd" and retry_after == str(SECONDS_TO_MIDNIGHT)
    assert sum(costs) <= 0.0002
    with pytest.raises(openai.RateLimitError):  # streamed: refused before the stream opens
        one.responses.create(model="gpt-4o-mini", input="more", stream=True, max_output_tokens=16)


def test_unpriced_model_is_refused_under_a_usd_budget(make_key: MakeKey, sdks: Sdks) -> None:
    one, _ = sdks(make_key("invoke", limits={"usd_per_day": 5}))
    with pytest.raises(openai.BadRequestError) as refused:
        one.responses.create(model="no-price-model", input="hello")
    body = refused.value.response.json()["error"]
    assert (body["code"], body["param"]) == ("model_price_unknown", "model")
    limited, _ = sdks(make_key("invoke", limits={"rpm": 5}))  # no USD budget: no price needed
    assert limited.responses.create(model="no-price-model", input="hello").status == "completed"


def test_a_run_underway_ends_incomplete_with_the_budget_reason(
    make_key: MakeKey, sdks: Sdks
) -> None:
    one, _ = sdks(make_key("invoke", limits={"tpm": 1}))  # the first step spends the minute
    run = one.responses.create(model="agent:desk", input="Check ticket INC-24531.")
    assert run.status == "incomplete"
    assert run.incomplete_details is not None
    assert run.incomplete_details.reason == "rate_limit_tokens"
    assert "tokens per minute" in run.output_text
    assert run.model_extra["pilothouse"]["steps"] == 1  # type: ignore[index]
    # The minute is spent now; streamed, the tool listing has gone out before the first
    # model call, so the refusal ends the begun stream as incomplete rather than a 429.
    events = list(one.responses.create(model="agent:desk", input="INC-7?", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.incomplete"
    streamed = events[-1].response
    assert streamed.model_extra["pilothouse"]["steps"] == 0  # type: ignore[index]
    assert streamed.incomplete_details is not None
    assert streamed.incomplete_details.reason == "rate_limit_tokens"


def test_tenant_limits_api(
    admin: httpx.Client,
    tenant: str,
    make_key: MakeKey,
    replicas: tuple[ServerThread, ServerThread],
) -> None:
    path = f"/admin/v1/tenants/{tenant}/limits"
    fresh = admin.get(path).json()
    assert fresh["source"] == "defaults" and fresh["rpm"] is None
    stored = set_tenant_limits(admin, tenant, rpm=10, usd_per_day=2.5)
    assert (stored["source"], stored["rpm"], stored["tpm"], stored["usd_per_day"]) == (
        "tenant",
        10,
        None,
        2.5,
    )
    assert stored["updated_by"] == "key_bootstrap"
    own_admin = make_key("admin")
    with httpx.Client(
        base_url=replicas[1].root_url, headers={"Authorization": f"Bearer {own_admin}"}
    ) as tenant_admin:
        assert tenant_admin.put(path, json={"tpm": 1000}).json()["tpm"] == 1000
        foreign = tenant_admin.get("/admin/v1/tenants/someone-else/limits")
        assert foreign.status_code == 403
        assert foreign.json()["error"]["code"] == "foreign_tenant"
    invoker = make_key("invoke")
    denied = httpx.get(replicas[0].root_url + path, headers={"Authorization": f"Bearer {invoker}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "missing_role"
    for body, param in (
        ({"rpm": -1}, "limits.rpm"),
        ({"rpm": 1.5}, "limits.rpm"),
        ({"usd_per_day": "ten"}, "limits.usd_per_day"),
        ({"requests": 3}, "limits.requests"),
    ):
        bad = admin.put(path, json=body)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == param
    assert admin.get(path).json()["tpm"] == 1000  # refused bodies changed nothing


def test_key_limits_are_validated_and_listed(admin: httpx.Client, tenant: str) -> None:
    bad = admin.post(
        "/admin/v1/keys", json={"tenant": tenant, "roles": ["invoke"], "limits": {"tpm": -5}}
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "limits.tpm"
    made = admin.post(
        "/admin/v1/keys", json={"tenant": tenant, "roles": ["invoke"], "limits": {"rpm": 7}}
    ).json()
    assert made["limits"] == {"rpm": 7, "tpm": None, "usd_per_day": None}
    listed = admin.get("/admin/v1/keys", params={"tenant": tenant}).json()["data"]
    assert [k["limits"] for k in listed] == [made["limits"]]


def _rejections(replicas: tuple[ServerThread, ServerThread], scope: str, window: str) -> float:
    """``pilothouse_budget_rejections_total`` summed over both replicas' /metrics."""
    name = "pilothouse_budget_rejections_total"
    return sum(sample(r.root_url, name, scope=scope, window=window) or 0.0 for r in replicas)


def test_refusals_are_counted_in_the_metrics(
    make_key: MakeKey, sdks: Sdks, replicas: tuple[ServerThread, ServerThread]
) -> None:
    before = _rejections(replicas, "key", "minute")
    one, two = sdks(make_key("invoke", limits={"rpm": 1}))
    one.responses.create(model="gpt-4o-mini", input="hello")
    for sdk in (one, two):
        with pytest.raises(openai.RateLimitError):
            sdk.responses.create(model="gpt-4o-mini", input="one too many")
    assert _rejections(replicas, "key", "minute") - before == 2


def _usage(replica: ServerThread, scope: str, subject: str, window: str) -> float | None:
    name = "pilothouse_budget_usage_ratio"
    return sample(replica.root_url, name, scope=scope, subject=subject, window=window)


def test_budget_usage_is_a_metric(
    admin: httpx.Client, make_key: MakeKey, sdks: Sdks, replicas: tuple[ServerThread, ServerThread]
) -> None:
    key = make_key("invoke", limits={"rpm": 4})
    key_id = next(
        k["id"] for k in admin.get("/admin/v1/keys").json()["data"] if key.startswith(k["prefix"])
    )
    one, two = sdks(key)
    one.responses.create(model="gpt-4o-mini", input="hello")
    assert _usage(replicas[0], "key", key_id, "minute") == 0.25
    two.responses.create(model="gpt-4o-mini", input="hello")
    # Counted in the shared store: the second replica sees both requests.
    assert _usage(replicas[1], "key", key_id, "minute") == 0.5
