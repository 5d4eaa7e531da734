"""Releases: immutable, content-hashed snapshots of a bundle.

A release holds the bundle's files (exactly as reviewed) and their resolved configuration
(the typed objects the loader made of them), with author, message, time and parent. Its id
is a hash of the files, so publishing the same bundle twice yields the same release, and
a release can never change under an id. The runtime serves a release by materialising its
files into a cache directory and loading them with the same pure loader a bundle
directory goes through.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pilothouse.control.bundle import Bundle, load_bundle
from pilothouse.errors import InvalidRequest, NotFound
from pilothouse.storage.base import ReleaseStore, StoredRelease

_SKIPPED_PARTS = frozenset({"__pycache__", ".git", ".pilothouse", "node_modules"})
MAX_BUNDLE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Release:
    """A published release."""

    id: str
    created_at: float
    author: str
    message: str
    parent: str | None
    files: dict[str, str]
    resolved: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """What ``release list`` shows."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "author": self.author,
            "message": self.message,
            "parent": self.parent,
            "agents": {
                name: agent.get("version") for name, agent in self.resolved["agents"].items()
            },
            "tools": sorted(self.resolved["tools"]),
        }


def snapshot(root: Path) -> dict[str, str]:
    """Every text file of a bundle, by path relative to ``root`` (sorted, POSIX paths)."""
    files: dict[str, str] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or _SKIPPED_PARTS & set(relative.parts):
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise InvalidRequest(
                f"{relative} is not a text file; bundles hold text only.", code="invalid_bundle"
            ) from None
        total += len(text)
        if total > MAX_BUNDLE_BYTES:
            raise InvalidRequest("The bundle is larger than 16 MiB.", code="invalid_bundle")
        files[relative.as_posix()] = text
    return files


def content_id(files: dict[str, str]) -> str:
    """The release id of a set of files: ``rel_`` and 24 hex digits of their SHA-256."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return "rel_" + digest.hexdigest()[:24]


def resolved_config(bundle: Bundle) -> dict[str, Any]:
    """The typed configuration a bundle resolves to, as JSON-ready data."""
    return {
        "agents": {n: a.model_dump(mode="json") for n, a in sorted(bundle.agents.items())},
        "tools": {n: t.model_dump(mode="json") for n, t in sorted(bundle.tools.items())},
        "prompts": {n: p.model_dump(mode="json") for n, p in sorted(bundle.prompts.items())},
        "pricing": bundle.pricing.model_dump(mode="json"),
        "redaction": bundle.redaction.model_dump(mode="json"),
        "guardrails": bundle.guardrails.model_dump(mode="json", by_alias=True),
    }


def materialise(files: dict[str, str], directory: Path) -> Path:
    """Write ``files`` under ``directory`` (once; releases never change) and return it."""
    marker = directory / ".complete"
    if marker.exists():
        return directory
    for name, text in files.items():
        target = directory / name
        if directory.resolve() not in target.resolve().parents:
            raise InvalidRequest(f"Release file {name} escapes the release directory.")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    marker.write_text("")
    return directory


class Releases:
    """Publishing and reading releases. Knows the store, never the runtime."""

    def __init__(self, store: ReleaseStore, cache_dir: Path) -> None:
        self.store = store
        self.cache_dir = cache_dir

    async def publish(self, root: Path, message: str, author: str) -> tuple[Release, bool]:
        """Validate and store the bundle at ``root``; returns it and whether it is new."""
        bundle = load_bundle(root)  # refuses an invalid bundle, listing every problem
        files = snapshot(root)
        release_id = content_id(files)
        existing = await self.store.get_release(release_id)
        if existing is not None:
            return _release(existing), False
        latest = await self.store.list_releases(1)
        stored = StoredRelease(
            id=release_id,
            created_at=time.time(),
            author=author,
            message=message,
            parent=latest[0].id if latest else None,
            files=orjson.dumps(files).decode(),
            resolved=orjson.dumps(resolved_config(bundle)).decode(),
        )
        created = await self.store.put_release(stored)
        return _release(stored), created

    async def get(self, reference: str) -> Release:
        """A release by id or unique prefix; NotFound otherwise."""
        found = await self.store.get_release(reference)
        if found is None:
            raise NotFound(
                f"Release '{reference}' not found.", param="release", code="release_not_found"
            )
        return _release(found)

    async def list(self, limit: int = 50) -> list[Release]:
        """Newest first."""
        return [_release(r) for r in await self.store.list_releases(limit)]

    def bundle(self, release: Release) -> Bundle:
        """The release's bundle, loaded from its materialised files."""
        return load_bundle(materialise(release.files, self.cache_dir / release.id))


def _release(stored: StoredRelease) -> Release:
    return Release(
        id=stored.id,
        created_at=stored.created_at,
        author=stored.author,
        message=stored.message,
        parent=stored.parent,
        files=orjson.loads(stored.files),
        resolved=orjson.loads(stored.resolved),
    )
