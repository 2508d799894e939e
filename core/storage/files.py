"""Objects as files under one directory (the embedded profile's data directory)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from core.storage import CHUNK_BYTES, ObjectMissing, StoredKey


class FileStore:
    name = "files"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"object key outside the store: {key!r}")
        return path

    async def put_file(self, key: str, path: Path, *, media_type: str) -> None:
        target = self._path(key)

        def copy() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{secrets.token_hex(8)}.partial")  # one per writer
            with path.open("rb") as source, partial.open("wb") as sink:
                while chunk := source.read(CHUNK_BYTES):
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(partial, target)  # readers see the whole object or none

        await asyncio.to_thread(copy)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def keys(self, prefix: str) -> AsyncIterator[StoredKey]:
        def scan() -> list[StoredKey]:
            found: list[StoredKey] = []
            if not self.root.is_dir():
                return found
            for path in self.root.rglob("*"):
                if not path.is_file() or path.name.startswith("."):
                    continue
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    stat = path.stat()
                    found.append(StoredKey(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
            return found

        for item in await asyncio.to_thread(scan):
            yield item

    async def aclose(self) -> None:
        return None
