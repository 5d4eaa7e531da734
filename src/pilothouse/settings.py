"""Typed settings, built once at the composition root (``wiring.py``) and passed down.

Every field can come from a ``PILOTHOUSE_<FIELD>`` environment variable; the CLI flags of
``pilothouse serve`` override them. Model providers and the routing table come from a
YAML file (``providers_file``) or from the convenience variables ``OPENAI_API_KEY`` /
``PILOTHOUSE_OPENAI_API_KEY``; with neither, the offline scripted model serves every
model name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ProviderKind = Literal["openai", "azure", "openai-compatible", "chat-completions", "scripted"]


class RetryConfig(BaseModel):
    """How one provider's calls are retried (``runtime/providers/retrying.py``)."""

    max_attempts: int = Field(default=3, ge=1, le=10)
    base_s: float = Field(default=0.5, ge=0)
    cap_s: float = Field(default=8.0, ge=0)
    max_retry_after_s: float = Field(default=60.0, ge=0)


class BreakerConfig(BaseModel):
    """When one provider's circuit opens (``runtime/providers/breaker.py``)."""

    failure_threshold: int = Field(default=5, ge=1)
    reset_timeout_s: float = Field(default=30.0, gt=0)


class ProviderConfig(BaseModel):
    """One upstream model provider.

    ``api_key`` may be a literal key or a reference, ``env:NAME`` or ``file:PATH``, which is
    resolved when the provider is built so that the bundle and files stay free of secrets.
    """

    name: str
    kind: ProviderKind
    base_url: str | None = None
    api_key: SecretStr | None = None
    auth: Literal["bearer", "api-key", "entra"] = "bearer"
    api_version: str | None = None
    entra_scope: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    models: dict[str, str] = Field(
        default_factory=dict,
        description="Public model name -> upstream model (the deployment name on Azure).",
    )
    timeout_s: float = 600.0
    script: Path | None = None
    retry: RetryConfig | None = Field(
        default_factory=RetryConfig, description="null: every call is one attempt."
    )
    breaker: BreakerConfig | None = Field(
        default_factory=BreakerConfig, description="null: no circuit breaker."
    )


class RouteConfig(BaseModel):
    """Maps public model names (shell-style globs) to a provider, first match wins."""

    match: str
    provider: str


class Settings(BaseSettings):
    """Everything a Pilothouse process needs to start."""

    model_config = SettingsConfigDict(env_prefix="PILOTHOUSE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    store: str = "sqlite:///./.pilothouse/pilothouse.db"
    bundle: Path | None = None
    log_level: str = "warning"
    providers_file: Path | None = None
    providers: list[ProviderConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PILOTHOUSE_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str = "https://api.openai.com/v1"
    max_request_bytes: int = 16 * 1024 * 1024
    background_workers: int = 16
    environment: str = Field(
        default="dev", description="The environment requests use unless they name one."
    )
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "prod"])
    release_cache: Path = Path(".pilothouse/releases")
    release_poll_s: float = Field(default=1.0, gt=0)
    gc_tuning: bool = Field(
        default=True, description="Freeze the start-up heap and raise GC thresholds."
    )
    kill_switch: list[str] = Field(
        default_factory=list, description="Agents (or '*') whose steps are stopped."
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description="Bootstrap key: every role in admin_tenant, manages every tenant's keys.",
    )
    admin_tenant: str = "default"
    key_pepper: SecretStr | None = Field(
        default=None, description="HMAC key for stored key digests (SHA-256 without one)."
    )
    data_key: SecretStr | None = Field(
        default=None,
        description="Fernet key sealing approved tool arguments at rest (same in every process).",
    )
    data_key_file: Path = Field(
        default=Path(".pilothouse/data.key"),
        description="Where a single process keeps its data key when data_key is unset.",
    )
    # Observability (README "Observability"; observability/telemetry.py).
    log_format: Literal["json", "text"] = "json"
    trace_exporter: Literal["none", "console", "jsonl", "otlp-http", "otlp-grpc"] = "none"
    trace_endpoint: str | None = Field(
        default=None, description="OTLP endpoint; unset: the exporter's default and OTEL_* env."
    )
    trace_file: Path = Path(".pilothouse/traces.jsonl")
    trace_content: bool = Field(
        default=False, description="Put message and tool content on spans, redacted."
    )
    metrics_public: bool = Field(
        default=True, description="Serve /metrics without an API key (keep it off the internet)."
    )
    default_tenant_limits: dict[str, int | float | None] = Field(
        default_factory=dict,
        description="Budgets of tenants without their own: {rpm, tpm, usd_per_day}.",
    )
    budget_refresh_s: float = Field(
        default=1.0, gt=0, description="How long a process caches a tenant's limits."
    )

    def resolved_providers(self) -> tuple[list[ProviderConfig], list[RouteConfig]]:
        """The providers and routes in force, with the file and defaults folded in.

        Order of precedence: explicit ``providers``/``routes``, then ``providers_file``, then
        an OpenAI key if one is set; the scripted model always exists as ``scripted`` and
        is the catch-all route when nothing else claims ``*``.
        """
        providers = list(self.providers)
        routes = list(self.routes)
        if self.providers_file is not None:
            raw = yaml.safe_load(self.providers_file.read_text()) or {}
            providers += [ProviderConfig.model_validate(p) for p in raw.get("providers", [])]
            routes += [RouteConfig.model_validate(r) for r in raw.get("routes", [])]
        names = {p.name for p in providers}
        if self.openai_api_key is not None and "openai" not in names:
            providers.append(
                ProviderConfig(
                    name="openai",
                    kind="openai",
                    base_url=self.openai_base_url,
                    api_key=self.openai_api_key,
                )
            )
            routes.append(RouteConfig(match="*", provider="openai"))
        if "scripted" not in {p.name for p in providers}:
            providers.append(ProviderConfig(name="scripted", kind="scripted"))
        if not any(r.match == "*" for r in routes):
            routes.append(RouteConfig(match="*", provider="scripted"))
        return providers, routes
