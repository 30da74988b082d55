"""Message encryption (reference §5): ECDH-secp256k1 + HKDF-SHA256 + AES-256-GCM.

The key shared by two parties is ``HKDF(SHA-256, salt=None, info=b"0xai handshake data")`` of
the ECDH x-coordinate; it is the same in both directions, and the peer public key comes from
its address. Two formats exist:

- **single** recipient: ``b64(nonce(12) || flag(1) || AES-GCM(zlib(text)))``;
- **multi** recipient: a per-message key ``K`` encrypts the body once, and is wrapped for each
  receiver; the JSON package is zlib-compressed and base64-encoded.

:func:`decrypt` detects the format. Nonces and keys are random; the optional ``nonce`` /
``symmetric_key`` / ``key_nonces`` arguments exist only to reproduce the reference vectors.

>>> from tether.ratio1._protocol.identity import Identity
>>> a, b = Identity.from_seed("a"), Identity.from_seed("b")
>>> decrypt(b, encrypt(a, "hello", b.address), a.address)
'hello'
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import os
import zlib
from collections.abc import Sequence
from typing import Any, Final, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tether.ratio1._protocol.addresses import decode_address
from tether.ratio1._protocol.compression import inflate
from tether.ratio1._protocol.errors import (
    AddressError,
    CompressionError,
    DecryptionError,
    EncryptionError,
)
from tether.ratio1._protocol.identity import Identity

__all__ = [
    "HKDF_INFO",
    "EncryptionFormat",
    "decrypt",
    "decrypt_bytes",
    "detect_format",
    "encrypt",
    "encrypt_multi",
    "encrypt_single",
    "shared_key",
    "shared_secret",
]

HKDF_INFO: Final = b"0xai handshake data"
_NONCE_LEN: Final = 12
_MAX_CACHE: Final = 4096


class EncryptionFormat(enum.Enum):
    """The two ``EE_ENCRYPTED_DATA`` layouts."""

    SINGLE = "single"
    MULTI = "multi"


def _peer_key(address: str) -> ec.EllipticCurvePublicKey:
    try:
        raw = decode_address(address)
    except AddressError as exc:
        raise EncryptionError(f"bad peer address: {exc}") from None
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), raw)


def shared_secret(identity: Identity, peer_address: str) -> bytes:
    """Return the raw 32-byte ECDH x-coordinate between *identity* and *peer_address*."""
    return identity.ec_key.exchange(ec.ECDH(), _peer_key(peer_address))


def shared_key(identity: Identity, peer_address: str) -> bytes:
    """Return the 32-byte AES key shared with *peer_address* (cached on the identity)."""
    cache = identity.shared_key_cache
    key = cache.get(peer_address)
    if key is None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
            shared_secret(identity, peer_address)
        )
        if len(cache) >= _MAX_CACHE:
            cache.clear()
        cache[peer_address] = key
    return key


def _nonce(given: bytes | None) -> bytes:
    if given is None:
        return os.urandom(_NONCE_LEN)
    if len(given) != _NONCE_LEN:
        raise EncryptionError(f"a nonce has {_NONCE_LEN} bytes, got {len(given)}")
    return given


def encrypt_single(
    identity: Identity, plaintext: str, receiver: str, *, nonce: bytes | None = None
) -> str:
    """Encrypt *plaintext* for one *receiver* address (the format of client commands)."""
    key = shared_key(identity, receiver)
    iv = _nonce(nonce)
    sealed = AESGCM(key).encrypt(iv, zlib.compress(plaintext.encode("utf-8")), None)
    return base64.b64encode(iv + b"\x01" + sealed).decode("ascii")


def encrypt_multi(
    identity: Identity,
    plaintext: str,
    receivers: Sequence[str],
    *,
    symmetric_key: bytes | None = None,
    nonce: bytes | None = None,
    key_nonces: Sequence[bytes] | None = None,
) -> str:
    """Encrypt *plaintext* once for several *receivers* (``GET_CONFIG``, ``SET_CONFIG``).

    Each receiver finds its key entry by an exact match of its address string.
    """
    if not receivers:
        raise EncryptionError("encrypt_multi needs at least one receiver")
    if key_nonces is not None and len(key_nonces) != len(receivers):
        raise EncryptionError("key_nonces must have one nonce per receiver")
    sym = os.urandom(32) if symmetric_key is None else symmetric_key
    if len(sym) != 32:
        raise EncryptionError("the symmetric key has 32 bytes")
    iv = _nonce(nonce)
    body = AESGCM(sym).encrypt(iv, zlib.compress(plaintext.encode("utf-8")), None)
    entries: list[dict[str, str]] = []
    for i, receiver in enumerate(receivers):
        key_iv = _nonce(None if key_nonces is None else key_nonces[i])
        wrapped = AESGCM(shared_key(identity, receiver)).encrypt(key_iv, sym, None)
        entries.append({"a": receiver, "k": (key_iv + wrapped).hex()})
    package = {"M": True, "c": "01", "n": iv.hex(), "d": body.hex(), "k": entries}
    return base64.b64encode(zlib.compress(json.dumps(package).encode("utf-8"))).decode("ascii")


def encrypt(identity: Identity, plaintext: str, destination: str | Sequence[str]) -> str:
    """Encrypt like the official SDK: a string destination → single, a list → multi."""
    if isinstance(destination, str):
        return encrypt_single(identity, plaintext, destination)
    return encrypt_multi(identity, plaintext, list(destination))


def _multi_package(raw: bytes) -> dict[str, Any] | None:
    try:
        package = json.loads(inflate(raw))
    except (CompressionError, ValueError):
        return None
    if isinstance(package, dict) and package.get("M") is True:  # pyright: ignore[reportUnknownMemberType]
        return package  # pyright: ignore[reportUnknownVariableType]
    return None


def _b64(data: str) -> bytes:
    if not isinstance(data, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise DecryptionError("EE_ENCRYPTED_DATA is not a string")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("EE_ENCRYPTED_DATA is not standard base64") from None


def detect_format(data: str) -> EncryptionFormat:
    """Return which layout ``EE_ENCRYPTED_DATA`` *data* uses."""
    return EncryptionFormat.MULTI if _multi_package(_b64(data)) else EncryptionFormat.SINGLE


def _maybe_inflate(flag: int, body: bytes) -> bytes:
    if flag == 0:
        return body
    try:
        return inflate(body)
    except CompressionError as exc:
        raise DecryptionError(f"decrypted body does not inflate: {exc}") from None


def _decrypt_multi(identity: Identity, package: dict[str, Any], sender: str) -> bytes:
    try:
        entries = cast("list[Any]", package["k"])
        mine: str | None = None
        for entry in entries:
            if isinstance(entry, dict):
                item = cast("dict[str, Any]", entry)
                if item.get("a") == identity.address:
                    mine = str(item["k"])
                    break
        if mine is None:
            raise DecryptionError("message is not encrypted for this address")
        wrapped = bytes.fromhex(mine)
        sym = AESGCM(shared_key(identity, sender)).decrypt(
            wrapped[:_NONCE_LEN], wrapped[_NONCE_LEN:], None
        )
        body = AESGCM(sym).decrypt(bytes.fromhex(package["n"]), bytes.fromhex(package["d"]), None)
        flag = int(package.get("c", "01"), 16)
    except DecryptionError:
        raise
    except EncryptionError as exc:
        raise DecryptionError(str(exc)) from None
    except InvalidTag:
        raise DecryptionError("authentication failed (wrong sender or corrupted data)") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise DecryptionError(f"malformed multi-recipient package: {exc}") from None
    return _maybe_inflate(flag, body)


def _decrypt_single(identity: Identity, raw: bytes, sender: str) -> bytes:
    if len(raw) < _NONCE_LEN + 1 + 16:
        raise DecryptionError("EE_ENCRYPTED_DATA is too short")
    try:
        body = AESGCM(shared_key(identity, sender)).decrypt(
            raw[:_NONCE_LEN], raw[_NONCE_LEN + 1 :], None
        )
    except EncryptionError as exc:
        raise DecryptionError(str(exc)) from None
    except InvalidTag:
        raise DecryptionError("authentication failed (wrong key or corrupted data)") from None
    return _maybe_inflate(raw[_NONCE_LEN], body)


def decrypt_bytes(identity: Identity, data: str, sender: str) -> bytes:
    """Decrypt ``EE_ENCRYPTED_DATA`` from *sender* to raw bytes (either format)."""
    raw = _b64(data)
    package = _multi_package(raw)
    if package is not None:
        return _decrypt_multi(identity, package, sender)
    return _decrypt_single(identity, raw, sender)


def decrypt(identity: Identity, data: str, sender: str) -> str:
    """Decrypt ``EE_ENCRYPTED_DATA`` sent by *sender* to *identity*; raise on any failure."""
    try:
        return decrypt_bytes(identity, data, sender).decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError("decrypted data is not UTF-8") from None
