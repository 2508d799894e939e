"""The app's own Meilisearch key, made with the master key: the app's indexes and the actions it uses.

The key has a fixed uid per index prefix, and Meilisearch derives a key's value from its uid and the
master key, so running this again (a restarted deployment, a changed action list) yields the same
value: processes that read it keep working. App and worker never see the master key.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx

# What the API and the worker call at run time, and nothing else (no keys.*, dumps or snapshots). Not
# indexes.swap: Meilisearch hides a swap's task from a key limited to some indexes, so `techmarket
# reindex` (build, then swap) is an operator's command, run with the master key.
ACTIONS = sorted(
    {
        "search",
        "documents.add",
        "documents.get",
        "documents.delete",
        "indexes.create",
        "indexes.get",
        "indexes.delete",
        "settings.get",
        "settings.update",
        "stats.get",
        "tasks.get",
    }
)
_NAMESPACE = uuid.UUID("5d0f8a52-3c1e-4b8e-9a57-3f3c2a7e6b10")


class SearchKeyError(Exception):
    pass


def key_uid(index_prefix: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"techmarket-app:{index_prefix}"))


def wanted(index_prefix: str) -> dict[str, Any]:
    return {
        "uid": key_uid(index_prefix),
        "name": f"techmarket-app-{index_prefix}",
        "description": "techmarket API and worker: their own indexes only (made by `techmarket search-key`)",
        "actions": ACTIONS,
        "indexes": [f"{index_prefix}_*"],
        "expiresAt": None,
    }


def ensure_app_key(url: str, master_key: str, index_prefix: str, *, timeout: float = 10.0) -> str:
    """The key's value, after creating it (or re-creating it, if its actions or indexes differ)."""
    spec = wanted(index_prefix)
    headers = {"Authorization": f"Bearer {master_key}"}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout) as http:
        existing = http.get(f"/keys/{spec['uid']}")
        if existing.status_code == 200:
            found = existing.json()
            if sorted(found.get("actions", [])) == spec["actions"] and found.get("indexes") == spec["indexes"]:
                return str(found["key"])
            _check(http.delete(f"/keys/{spec['uid']}"), "delete the outdated key")  # actions cannot be patched
        elif existing.status_code != 404:
            _check(existing, "look up the key")
        created = http.post("/keys", json=spec)
        _check(created, "create the key")
        return str(created.json()["key"])


def _check(reply: httpx.Response, what: str) -> None:
    if reply.status_code >= 400:
        try:
            reason = reply.json().get("message", reply.text)
        except ValueError:
            reason = reply.text
        raise SearchKeyError(f"could not {what}: HTTP {reply.status_code} {reason[:300]}")


def write_key(path: Path, key: str) -> None:
    """Atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    os.replace(partial, path)
