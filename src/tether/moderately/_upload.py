"""Uploads: read a path, bytes or file-like once to learn its size, SHA-256 and MIME type, then
stream it to a presigned URL. Memory stays bounded by the chunk size whatever the file size.

The platform needs the size and the hash *before* the upload (``POST /files/upload-url``
requires ``fileHash``), so a source is read twice: once to hash it, once to send it. Paths and
seekable file objects are simply re-read; a non-seekable stream is spooled to a temporary file
while it is hashed (in memory up to :data:`SPOOL_IN_MEMORY`, on disk beyond). File I/O runs in
worker threads, so the event loop is never blocked by the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import mimetypes
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any, Final, Protocol, cast

import aiohttp
import attrs
from aiohttp.abc import AbstractStreamWriter

from tether._core.errors import TetherError, ValidationError
from tether._core.http import HTTPClient

__all__ = [
    "CHUNK_SIZE",
    "SPOOL_IN_MEMORY",
    "PreparedUpload",
    "Source",
    "UploadPayload",
    "prepare_upload",
    "put_presigned",
    "read_head",
    "upload_name",
    "sniff_mime_type",
]

CHUNK_SIZE: Final = 1 << 20
"""Bytes read, hashed and sent at a time (1 MiB)."""

SPOOL_IN_MEMORY: Final = 8 << 20
"""A non-seekable stream is spooled in memory up to this size, then to a temporary file."""

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | IO[str]
"""What an upload accepts: a path, bytes, or a binary or text file object."""

_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"PAR1", "application/vnd.apache.parquet"),
)


def sniff_mime_type(name: str, head: bytes) -> str:
    """The MIME type of a file called *name* whose first bytes are *head*.

    The name decides when it has a known extension (``data.csv`` → ``text/csv``); otherwise
    the first bytes: well-known signatures (PDF, PNG, JPEG, GIF, ZIP, gzip, Parquet), then
    ``text/plain`` for UTF-8 text without NUL bytes, else ``application/octet-stream``.

    >>> sniff_mime_type("notes", b"hello")
    'text/plain'
    """
    guessed, _ = mimetypes.guess_type(name)
    if guessed:
        return guessed
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
                return "application/octet-stream"
        return "text/plain"
    return "application/octet-stream"


class _Chunks(Protocol):
    """Something that can produce the source's bytes again, chunk by chunk."""

    def chunks(self) -> AsyncIterator[bytes | memoryview]: ...

    def close(self) -> None: ...


@attrs.frozen
class PreparedUpload:
    """A source read once: its name, size, SHA-256, MIME type, and a way to read it again.

    Attributes:
        name: the file name sent to the platform.
        size: bytes.
        sha256: lowercase hex digest.
        mime_type: from the name, else sniffed from the first bytes.
        line_count: number of newline-terminated lines plus a final unterminated one
            (counted only when asked for).
        source: re-reads the bytes for the transfer.
    """

    name: str
    size: int
    sha256: str
    mime_type: str
    line_count: int | None
    source: _Chunks = attrs.field(repr=False)

    def close(self) -> None:
        """Release the source (close files this module opened; delete a spool)."""
        self.source.close()


# --- readers -----------------------------------------------------------------------------------


class _BytesChunks:
    def __init__(self, data: memoryview) -> None:
        self._data = data

    async def chunks(self) -> AsyncIterator[bytes | memoryview]:
        for start in range(0, len(self._data), CHUNK_SIZE):
            yield self._data[start : start + CHUNK_SIZE]

    def close(self) -> None:
        """Nothing to release: the caller owns the bytes."""


class _FileChunks:
    """Re-reads a seekable binary file from *start* (opening *path* each time, if given)."""

    def __init__(
        self,
        *,
        path: Path | None = None,
        handle: IO[bytes] | None = None,
        start: int = 0,
        owned: bool = False,
        stat: tuple[int, int] | None = None,
    ) -> None:
        self._path = path
        self._handle = handle
        self._start = start
        self._owned = owned
        self._stat = stat

    async def chunks(self) -> AsyncIterator[bytes | memoryview]:
        handle = self._handle
        opened = False
        if handle is None:
            assert self._path is not None
            handle = await asyncio.to_thread(open, self._path, "rb")
            opened = True
        try:
            await asyncio.to_thread(handle.seek, self._start)
            while True:
                chunk = await asyncio.to_thread(handle.read, CHUNK_SIZE)
                if not chunk:
                    break
                yield chunk
        finally:
            if opened:
                handle.close()
        if self._path is not None and self._stat is not None:
            now = os.stat(self._path)
            if (now.st_size, now.st_mtime_ns) != self._stat:
                raise TetherError(f"{self._path} changed while it was being uploaded")

    def close(self) -> None:
        if self._owned and self._handle is not None:
            self._handle.close()


# --- hashing -----------------------------------------------------------------------------------


class _Digest:
    """Hash, size, first bytes and line count of a stream, fed chunk by chunk."""

    def __init__(self, count_lines: bool) -> None:
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.newlines = 0 if count_lines else -1
        self.last = b""

    def feed(self, chunk: bytes | memoryview) -> None:
        if not chunk:
            return
        self.hash.update(chunk)
        self.size += len(chunk)
        if len(self.head) < 4096:
            self.head += bytes(chunk[: 4096 - len(self.head)])
        if self.newlines >= 0:
            data = bytes(chunk) if isinstance(chunk, memoryview) else chunk
            self.newlines += data.count(b"\n")
            self.last = bytes(chunk[-1:])

    @property
    def line_count(self) -> int | None:
        if self.newlines < 0:
            return None
        return self.newlines + (1 if self.size and self.last != b"\n" else 0)


def _read_into(handle: IO[bytes], digest: _Digest, spool: IO[bytes] | None) -> bool:
    """Read one chunk (in a worker thread); ``False`` at the end."""
    chunk = handle.read(CHUNK_SIZE)
    if not chunk:
        return False
    if isinstance(chunk, str):
        raise _TextStream
    digest.feed(chunk)
    if spool is not None:
        spool.write(chunk)
    return True


class _TextStream(Exception):
    """Raised when a file object turns out to give ``str``."""


def _encode_text(handle: IO[str], digest: _Digest, spool: IO[bytes]) -> bool:
    text = handle.read(CHUNK_SIZE)
    if not text:
        return False
    chunk = text.encode("utf-8")
    digest.feed(chunk)
    spool.write(chunk)
    return True


async def _drain(step: Callable[[], bool]) -> None:
    while await asyncio.to_thread(step):
        pass


# --- preparing a source ------------------------------------------------------------------------


def upload_name(source: Any, name: str | None, default: str) -> str:
    """The file name an upload of *source* is sent under (see :func:`prepare_upload`)."""
    if isinstance(source, str | os.PathLike):
        path = Path(cast(str, source))
        if name:
            return name if name.endswith(path.suffix) else name + path.suffix
        return path.name
    if name:
        return name
    own = getattr(source, "name", None)
    if isinstance(own, str) and own and not own.startswith("<"):
        return Path(own).name
    return default


async def prepare_upload(
    source: Source,
    *,
    name: str | None = None,
    default_name: str = "uploaded_file",
    count_lines: bool = False,
) -> PreparedUpload:
    """Read *source* once: size, SHA-256, MIME type (and line count), in bounded memory.

    Args:
        source: a path (``str`` or ``os.PathLike``), ``bytes``/``bytearray``/``memoryview``,
            or a file object opened in binary or text mode (text is sent as UTF-8). A
            seekable file object is read from its current position.
        name: the file name to send; for a path, its extension is appended when missing.
        default_name: the name when neither *name* nor the source gives one.
        count_lines: also count lines (for CSV row counts).

    Raises:
        ValidationError: the path does not exist or the source is of an unsupported type.
    """
    chosen = upload_name(source, name, default_name)
    digest = _Digest(count_lines)
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source).cast("B")
        if len(view) > CHUNK_SIZE:
            await asyncio.to_thread(_feed_all, digest, view)
        else:
            _feed_all(digest, view)
        return _prepared(chosen, digest, _BytesChunks(view))
    if isinstance(source, str | os.PathLike):
        path = Path(cast(str, source))
        if not await asyncio.to_thread(path.is_file):
            raise ValidationError(f"file not found: {path}")
        handle = await asyncio.to_thread(open, path, "rb")
        try:
            before = os.fstat(handle.fileno())
            await _drain(lambda: _read_into(handle, digest, None))
        finally:
            handle.close()
        stat = (before.st_size, before.st_mtime_ns)
        return _prepared(chosen, digest, _FileChunks(path=path, stat=stat))
    if not callable(getattr(source, "read", None)):
        raise ValidationError(
            f"cannot upload a {type(source).__name__}: pass a path, bytes, or a file object"
        )
    return await _prepare_stream(cast(IO[Any], source), chosen, digest)


def _feed_all(digest: _Digest, view: memoryview) -> None:
    for start in range(0, len(view), CHUNK_SIZE):
        digest.feed(view[start : start + CHUNK_SIZE])


def _seekable(handle: IO[Any]) -> bool:
    try:
        return bool(handle.seekable()) and not isinstance(handle, io.TextIOBase)
    except (AttributeError, ValueError, OSError):
        return False


async def _prepare_stream(handle: IO[Any], name: str, digest: _Digest) -> PreparedUpload:
    if _seekable(handle):
        start = handle.tell()
        try:
            await _drain(lambda: _read_into(handle, digest, None))
        except _TextStream:
            handle.seek(start)
            return await _spool(handle, name, _Digest(digest.newlines >= 0), text=True)
        return _prepared(name, digest, _FileChunks(handle=handle, start=start))
    return await _spool(handle, name, digest, text=isinstance(handle, io.TextIOBase))


async def _spool(handle: IO[Any], name: str, digest: _Digest, *, text: bool) -> PreparedUpload:
    spool = cast(IO[bytes], tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY))  # noqa: SIM115
    try:
        if text:
            await _drain(lambda: _encode_text(handle, digest, spool))
        else:
            try:
                await _drain(lambda: _read_into(handle, digest, spool))
            except _TextStream:
                raise ValidationError(
                    "the file object gives text after giving bytes; open it in binary mode"
                ) from None
    except BaseException:
        spool.close()
        raise
    return _prepared(name, digest, _FileChunks(handle=spool, owned=True))


def _prepared(name: str, digest: _Digest, source: _Chunks) -> PreparedUpload:
    return PreparedUpload(
        name=name,
        size=digest.size,
        sha256=digest.hash.hexdigest(),
        mime_type=sniff_mime_type(name, digest.head),
        line_count=digest.line_count,
        source=source,
    )


# --- the request body --------------------------------------------------------------------------


class UploadPayload(aiohttp.payload.Payload):
    """An aiohttp request body that streams a :class:`PreparedUpload` with a Content-Length.

    If the source yields a different number of bytes than it did when it was hashed, the
    transfer is aborted (the declared length and hash would no longer match).
    """

    def __init__(
        self,
        prepared: PreparedUpload,
        *,
        content_type: str,
        on_chunk: Callable[[int], Any] | None = None,
    ) -> None:
        super().__init__(prepared, content_type=content_type)
        self._size = prepared.size
        self._prepared = prepared
        self._on_chunk = on_chunk
        self.sent = 0
        self.error: BaseException | None = None

    async def write(self, writer: AbstractStreamWriter) -> None:
        """Stream the whole source."""
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        """Stream the source, chunk by chunk, never more than the declared size."""
        expected = self._prepared.size
        self.sent = 0
        try:
            async for chunk in self._prepared.source.chunks():
                if self.sent + len(chunk) > expected:
                    raise TetherError("the upload source grew after it was hashed")
                await writer.write(chunk)
                self.sent += len(chunk)
                if self._on_chunk is not None:
                    self._on_chunk(self.sent)
            if self.sent != expected:
                raise TetherError(
                    f"the upload source gave {self.sent} bytes, not the {expected} it had"
                    " when it was hashed"
                )
        except BaseException as exc:
            self.error = exc
            raise

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """Not supported: an upload body is streamed, never held as text."""
        raise TypeError("a streamed upload body cannot be decoded")


async def put_presigned(
    http: HTTPClient,
    url: str,
    prepared: PreparedUpload,
    *,
    content_type: str,
    on_chunk: Callable[[int], Any] | None = None,
) -> None:
    """PUT *prepared* to a presigned *url*: streamed, with its Content-Length, no credentials.

    Raises:
        APIStatusError: storage answered an error status (the body is its XML error).
        APIConnectionError: the transfer broke (including a source that changed size).
    """
    payload = UploadPayload(prepared, content_type=content_type, on_chunk=on_chunk)
    try:
        async with http.stream(
            "PUT", url, data=payload, headers={"Content-Type": content_type}, authenticate=False
        ):
            pass
    except Exception as exc:
        if payload.error is not None and not isinstance(payload.error, asyncio.CancelledError):
            raise payload.error from exc
        raise


async def read_head(source: Source, limit: int) -> tuple[bytes, bool]:
    """The first *limit* bytes of *source* (text is encoded as UTF-8) and whether there is more.

    A file object is read from its current position and, when seekable, put back there.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(memoryview(source)[: limit + 1])
    elif isinstance(source, str | os.PathLike):
        path = Path(cast(str, source))
        if not await asyncio.to_thread(path.is_file):
            raise ValidationError(f"file not found: {path}")
        data = await asyncio.to_thread(_read_prefix, path, limit + 1)
    elif callable(getattr(source, "read", None)):
        handle = cast(IO[Any], source)
        start = handle.tell() if _seekable(handle) else None
        raw: Any = await asyncio.to_thread(handle.read, limit + 1)
        if start is not None:
            handle.seek(start)
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    else:
        raise ValidationError(
            f"cannot read a {type(source).__name__}: pass a path, bytes, or a file object"
        )
    return data[:limit], len(data) > limit


def _read_prefix(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)
