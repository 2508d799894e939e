"""Object storage for uploaded files: a directory in the embedded profile, an S3-compatible store in the server one.

Keys are opaque strings (attachments use ``objects/<sha256>``). Every backend takes content from a
local file in chunks and hands it back in chunks, so no file is ever held in memory whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from core.settings import Settings

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredKey:
    key: str
    size: int
    modified: datetime


class ObjectStore(Protocol):
    name: str

    async def put_file(self, key: str, path: Path, *, media_type: str) -> None:
        """Store the file at ``path`` under ``key`` (replacing any object there)."""
        ...

    async def exists(self, key: str) -> bool: ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; ``ObjectMissing`` if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; no error if it is already gone."""
        ...

    def keys(self, prefix: str) -> AsyncIterator[StoredKey]: ...

    async def aclose(self) -> None: ...


class ObjectMissing(LookupError):
    """The store has no object under that key."""


def build_store(settings: Settings) -> ObjectStore:
    if settings.storage_s3_url:
        from core.storage.s3 import S3Store

        return S3Store.from_settings(settings)
    from core.storage.files import FileStore

    return FileStore(settings.data_dir / "storage")
