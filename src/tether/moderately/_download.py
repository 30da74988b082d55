"""Downloads from presigned URLs: to memory, or to disk through a temporary file.

A download to a path is written to a temporary file in the same directory and renamed over the
target only once every byte arrived (and, for compressed outputs, decoded): a failure never
leaves a partial file at the target path, and an existing file there is replaced atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import tempfile
import zlib
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any, Final

import aiohttp

from tether._core.errors import RequestInfo, ResponseDecodeError
from tether._core.http import HTTPClient

__all__ = [
    "GZIP_MAGIC",
    "StreamDecoder",
    "decode_output",
    "download_bytes",
    "download_to_path",
]

READ_CHUNK: Final = 1 << 20
GZIP_MAGIC: Final = b"\x1f\x8b"


class StreamDecoder:
    """Decompresses a stream chunk by chunk (``gzip``, multi-member included, or ``none``)."""

    def __init__(self, compression: str | None) -> None:
        if compression not in (None, "none", "gzip"):
            raise ResponseDecodeError(
                f"stored output is {compression}-compressed; tether decodes gzip and"
                " uncompressed outputs (download it raw with decompress=False)"
            )
        self._gzip = compression == "gzip"
        self._inner: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
        self._checked = False

    def feed(self, chunk: bytes) -> bytes:
        """Decode one chunk; returns what it decoded to (possibly empty)."""
        if not self._gzip:
            return chunk
        if not self._checked and chunk:
            self._checked = True
            if not chunk.startswith(GZIP_MAGIC[: len(chunk)]):
                # a transport already decoded it (Content-Encoding: gzip): pass it through
                self._gzip = False
                return chunk
        out = bytearray()
        data = chunk
        while data:
            out += self._inner.decompress(data)
            data = self._inner.unused_data
            if data:  # next gzip member
                self._inner = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return bytes(out)

    def finish(self) -> bytes:
        """Flush the decoder; raises when the stream was truncated."""
        if not self._gzip:
            return b""
        tail: bytes = self._inner.flush()
        if not self._inner.eof:
            raise ResponseDecodeError("the gzip stream ended early (truncated download)")
        return tail


async def _chunks(http: HTTPClient, url: str) -> AsyncGenerator[bytes]:
    async with http.stream("GET", url, authenticate=False) as response:
        while True:
            chunk = await response.content.read(READ_CHUNK)
            if not chunk:
                return
            yield chunk


async def download_bytes(
    http: HTTPClient, url: str, *, decoder: StreamDecoder | None = None
) -> bytes:
    """GET a presigned *url* (no credentials) into memory, decoding it with *decoder*."""
    out = bytearray()
    try:
        async with contextlib.aclosing(_chunks(http, url)) as chunks:
            async for chunk in chunks:
                out += decoder.feed(chunk) if decoder is not None else chunk
        if decoder is not None:
            out += decoder.finish()
    except (aiohttp.ClientPayloadError, zlib.error) as exc:
        raise ResponseDecodeError(
            f"download failed: {type(exc).__name__}: {exc}", request=RequestInfo("GET", url)
        ) from exc
    return bytes(out)


async def download_to_path(
    http: HTTPClient,
    url: str,
    path: str | os.PathLike[str],
    *,
    decoder: StreamDecoder | None = None,
    on_chunk: Callable[[int], Any] | None = None,
) -> Path:
    """GET a presigned *url* into a temporary file beside *path*, then rename it to *path*.

    Parent directories are created. On any failure the temporary file is removed and *path*
    is left as it was (absent, or its previous content).
    """
    target = Path(path)
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    fd, temp_name = await asyncio.to_thread(
        tempfile.mkstemp, prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    handle = os.fdopen(fd, "wb")
    received = 0
    try:
        async with contextlib.aclosing(_chunks(http, url)) as chunks:
            async for chunk in chunks:
                data = decoder.feed(chunk) if decoder is not None else chunk
                if data:
                    await asyncio.to_thread(handle.write, data)
                received += len(chunk)
                if on_chunk is not None:
                    on_chunk(received)
        if decoder is not None:
            tail = decoder.finish()
            if tail:
                await asyncio.to_thread(handle.write, tail)
        await asyncio.to_thread(_flush_and_close, handle)
        await asyncio.to_thread(os.replace, temp_name, target)
    except BaseException as exc:
        handle.close()
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, aiohttp.ClientPayloadError | zlib.error):
            raise ResponseDecodeError(
                f"download failed: {type(exc).__name__}: {exc}", request=RequestInfo("GET", url)
            ) from exc
        raise
    return target


def _flush_and_close(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def decode_output(data: bytes, *, compression: str | None, file_type: str | None) -> Any:
    """Decode a stored pipeline output: decompress per *compression*, parse JSON when
    *file_type* is ``json``; other file types (csv, parquet, binary) stay bytes."""
    if compression == "gzip" and data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ResponseDecodeError(f"stored output is not valid gzip: {exc}") from exc
    elif compression not in (None, "none", "gzip"):
        raise ResponseDecodeError(
            f"stored output is {compression}-compressed; tether decodes gzip and uncompressed"
            " outputs (use download_output(..., decompress=False) for the raw bytes)"
        )
    if file_type in (None, "json"):
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ResponseDecodeError(f"stored output is not valid JSON: {exc}") from exc
    return data
