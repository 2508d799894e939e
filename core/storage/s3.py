"""Objects in an S3-compatible store (MinIO, SeaweedFS, AWS S3…) through aiobotocore's async client.

Files over one part go up as a multipart upload, one ``PART_BYTES`` part in memory at a time;
downloads stream the response body in chunks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from core.settings import Settings
from core.storage import CHUNK_BYTES, ObjectMissing, StoredKey

PART_BYTES = 8 * 1024 * 1024  # S3 wants parts of at least 5 MiB (but the last)
MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class S3Store:
    name = "s3"

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        region: str,
        access_key: str | None,
        secret_key: str | None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self.region = region
        self._credentials = (access_key, secret_key)
        self._timeout = timeout_seconds
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        assert settings.storage_s3_url is not None
        return cls(
            endpoint_url=settings.storage_s3_url,
            bucket=settings.storage_s3_bucket,
            region=settings.storage_s3_region,
            access_key=settings.storage_s3_access_key,
            secret_key=settings.storage_s3_secret_key,
        )

    async def _s3(self) -> Any:
        """The client, made on first use (one per store, kept until ``aclose``); the bucket made if missing."""
        async with self._lock:
            if self._client is None:
                stack = AsyncExitStack()
                config = AioConfig(
                    connect_timeout=self._timeout,
                    read_timeout=self._timeout,
                    retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": "path"},
                )
                access_key, secret_key = self._credentials
                client = await stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key,
                        config=config,
                    )
                )
                try:
                    await client.head_bucket(Bucket=self.bucket)
                except ClientError as exc:
                    if _code(exc) not in MISSING_CODES | {"NoSuchBucket"}:
                        await stack.aclose()
                        raise
                    await client.create_bucket(Bucket=self.bucket)
                self._stack, self._client = stack, client
            return self._client

    async def put_file(self, key: str, path: Path, *, media_type: str) -> None:
        client = await self._s3()
        size = path.stat().st_size
        with path.open("rb") as source:
            if size <= PART_BYTES:
                body = await asyncio.to_thread(source.read)
                await client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=media_type)
                return
            upload = await client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=media_type)
            upload_id = upload["UploadId"]
            parts = []
            try:
                number = 1
                while chunk := await asyncio.to_thread(source.read, PART_BYTES):
                    answer = await client.upload_part(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                    number += 1
                    del chunk
                await client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            except BaseException:
                await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                raise

    async def exists(self, key: str) -> bool:
        client = await self._s3()
        try:
            await client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in MISSING_CODES:
                return False
            raise
        return True

    async def read(self, key: str) -> AsyncIterator[bytes]:
        client = await self._s3()
        try:
            answer = await client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in MISSING_CODES:
                raise ObjectMissing(key) from exc
            raise
        async with answer["Body"] as body:
            async for chunk in body.iter_chunks(CHUNK_BYTES):
                yield chunk

    async def delete(self, key: str) -> None:
        client = await self._s3()
        await client.delete_object(Bucket=self.bucket, Key=key)

    async def keys(self, prefix: str) -> AsyncIterator[StoredKey]:
        client = await self._s3()
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield StoredKey(item["Key"], int(item["Size"]), item["LastModified"])

    async def aclose(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack, self._client = None, None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
