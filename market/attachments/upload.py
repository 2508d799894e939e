"""Receiving an upload: the multipart body is parsed as it arrives and written to a staging file
chunk by chunk, hashed on the way; the type is told from the first bytes and the size limit of that
type enforced while the bytes arrive (413 as soon as it is passed, not after the whole body).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from market.attachments.errors import BadUpload, EmptyFile, FileTooLarge, FileTypeRefused
from market.attachments.kinds import MB, SNIFF_BYTES, FileKind, confirm, sniff

FIELD = "file"
MAX_FORM_BYTES = 64 * 1024  # other parts than the file are ignored, up to this much
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


@dataclass(frozen=True, slots=True)
class Received:
    path: Path
    filename: str
    size: int
    sha256: str
    kind: FileKind


def clean_filename(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:255] or "附件"


class _Sink:
    """The file part's bytes: to the staging file, the digest and the type check, with the limit."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.kind: FileKind | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.kind is None:
            self.head += data[: SNIFF_BYTES - len(self.head)]
            if len(self.head) >= SNIFF_BYTES:
                self.kind = sniff(self.head)
                if self.kind is None:
                    raise FileTypeRefused()
        if self.kind is not None and self.size > self.kind.max_bytes:
            raise FileTooLarge(
                f"文件过大: {self.kind.label} 最大 {self.kind.max_bytes // MB} MB", limit_bytes=self.kind.max_bytes
            )
        self.digest.update(data)
        self.handle.write(data)


class _Parts:
    """The multipart parser's callbacks: which part is the file, and its name."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.field = b""
        self.value = b""
        self.headers: dict[bytes, bytes] = {}
        self.in_file = False
        self.filename: str | None = None
        self.other_bytes = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.headers = {}
        self.in_file = options.get(b"name") == FIELD.encode() and b"filename" in options
        if self.in_file:
            if self.filename is not None:
                raise BadUpload()  # one file per request
            self.filename = options[b"filename"].decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.sink.write(data[start:end])
            return
        self.other_bytes += end - start
        if self.other_bytes > MAX_FORM_BYTES:
            raise BadUpload()


async def receive(request: Request) -> Received:
    """Stream the request's single ``file`` part to a staging file; the caller removes ``path``."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadUpload()
    descriptor, staging = tempfile.mkstemp(prefix="techmarket-upload-")
    path = Path(staging)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            sink = _Sink(handle)
            parts = _Parts(sink)
            parser = MultipartParser(
                boundary,
                {
                    "on_header_field": parts.on_header_field,
                    "on_header_value": parts.on_header_value,
                    "on_header_end": parts.on_header_end,
                    "on_headers_finished": parts.on_headers_finished,
                    "on_part_data": parts.on_part_data,
                },
            )
            try:
                async for chunk in request.stream():
                    parser.write(chunk)
                parser.finalize()
            except ClientDisconnect as exc:
                raise BadUpload(detail="上传未完成, 连接已断开") from exc
            except (BadUpload, FileTooLarge, FileTypeRefused):
                raise
            except Exception as exc:  # the parser's own errors: a malformed body
                raise BadUpload(detail=str(exc)[:200]) from exc
        if parts.filename is None:
            raise BadUpload()
        if sink.size == 0:
            raise EmptyFile()
        kind = sink.kind or sniff(sink.head)
        confirmed = confirm(kind, path) if kind is not None else None
        if confirmed is None:
            raise FileTypeRefused()
        if sink.size > confirmed.max_bytes:
            raise FileTooLarge(f"文件过大: {confirmed.label} 最大 {confirmed.max_bytes // MB} MB")
        return Received(path, clean_filename(parts.filename), sink.size, sink.digest.hexdigest(), confirmed)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
