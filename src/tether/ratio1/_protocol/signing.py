"""ECDSA-secp256k1 message signatures (reference §4).

The signer hashes the canonical JSON (``EE_HASH`` = SHA-256 hex), then signs those 32 digest
bytes with ECDSA-SHA256 — so the scalar signed is ``SHA-256(SHA-256(canon))``. Signatures are
DER, urlsafe base64 *with* padding.

Official signers do not normalise S: about half of their signatures are high-S, which
libsecp256k1 rejects. :func:`verify_digest` therefore normalises S before verifying.

>>> from tether.ratio1._protocol.identity import Identity
>>> node = Identity.from_seed("example")
>>> signed = sign_message({"EE_ID": "n1", "X": 1.0}, node)
>>> verify_message(signed).canon_version
'v2'
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final, cast

import attrs
from coincurve import PublicKey

from tether.ratio1._protocol.addresses import decode_address
from tether.ratio1._protocol.canon import (
    CANON_UNVERSIONED,
    CANON_V1,
    CANON_V2,
    NON_DATA_FIELDS,
    CanonVersion,
    canonical_message,
    message_digest,
)
from tether.ratio1._protocol.errors import (
    AddressError,
    CanonicalizationError,
    SignatureError,
    UnknownCanonVersionError,
)
from tether.ratio1._protocol.identity import SECP256K1_ORDER, Identity

__all__ = [
    "ETH_SIGN_PLACEHOLDER",
    "Verification",
    "decode_signature",
    "encode_signature",
    "is_high_s",
    "is_valid_signature",
    "normalize_signature",
    "sign_digest",
    "sign_message",
    "verify_digest",
    "verify_message",
]

ETH_SIGN_PLACEHOLDER: Final = "0xBEEF"
"""The literal every official signer puts in ``EE_ETH_SIGN``."""

_HALF_ORDER: Final = SECP256K1_ORDER // 2


@attrs.frozen(slots=True)
class Verification:
    """A signature that verified.

    Attributes:
        sender: the ``EE_SENDER`` address the signature belongs to.
        canon_version: which canonical form matched (``v2``, ``v1`` or ``unversioned``).
        high_s: whether the signature was high-S (normalised before checking).
    """

    sender: str
    canon_version: CanonVersion
    high_s: bool


# --- DER --------------------------------------------------------------------------------------


def _der_int(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 2 > len(data) or data[pos] != 0x02:
        raise ValueError("expected INTEGER")
    length = data[pos + 1]
    start = pos + 2
    if length == 0 or length > 33 or start + length > len(data):
        raise ValueError("bad INTEGER length")
    body = data[start : start + length]
    if body[0] & 0x80:
        raise ValueError("negative INTEGER")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise ValueError("non-minimal INTEGER")
    return int.from_bytes(body, "big"), start + length


def _parse_der(der: bytes) -> tuple[int, int]:
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise ValueError("not a DER SEQUENCE of the right length")
    r, pos = _der_int(der, 2)
    s, pos = _der_int(der, pos)
    if pos != len(der):
        raise ValueError("trailing bytes")
    if not (0 < r < SECP256K1_ORDER and 0 < s < SECP256K1_ORDER):
        raise ValueError("r or s out of range")
    return r, s


def _encode_der_int(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    if body[0] & 0x80:
        body = b"\x00" + body
    return b"\x02" + bytes([len(body)]) + body


def _encode_der(r: int, s: int) -> bytes:
    body = _encode_der_int(r) + _encode_der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def is_high_s(der: bytes) -> bool:
    """Return whether a DER signature has ``s > n/2`` (valid, but rejected by libsecp256k1)."""
    try:
        return _parse_der(der)[1] > _HALF_ORDER
    except ValueError:
        raise SignatureError(
            "signature is not strict DER", reason="bad_signature_encoding"
        ) from None


def normalize_signature(der: bytes) -> bytes:
    """Return *der* with ``s`` replaced by ``n - s`` when it is high (same signature, low-S)."""
    try:
        r, s = _parse_der(der)
    except ValueError as exc:
        raise SignatureError(
            f"signature is not strict DER: {exc}", reason="bad_signature_encoding"
        ) from None
    return der if s <= _HALF_ORDER else _encode_der(r, SECP256K1_ORDER - s)


def encode_signature(der: bytes) -> str:
    """Encode DER bytes as ``EE_SIGN`` text (urlsafe base64 with padding)."""
    return base64.urlsafe_b64encode(der).decode("ascii")


def decode_signature(text: str) -> bytes:
    """Decode ``EE_SIGN`` text to DER bytes (accepts missing padding)."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError, TypeError):
        raise SignatureError(
            "EE_SIGN is not urlsafe base64", reason="bad_signature_encoding"
        ) from None


# --- primitives -------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _public_key(public_key: bytes) -> PublicKey:
    return PublicKey(public_key)


def sign_digest(identity: Identity, digest: bytes) -> bytes:
    """Sign 32 digest bytes the way the official SDK does (ECDSA-SHA256 over them), DER out."""
    signer: Any = identity.signer  # coincurve's Nonce default is untyped
    return cast(bytes, signer.sign(digest))  # coincurve hashes with SHA-256 first: same scalar


def verify_digest(public_key: bytes, data: bytes, der: bytes) -> bool:
    """Return whether *der* is a valid ECDSA-SHA256 signature of *data* (high-S accepted)."""
    low = normalize_signature(der)
    try:
        return _public_key(bytes(public_key)).verify(low, data)
    except ValueError:
        return False


# --- messages ---------------------------------------------------------------------------------


def sign_message(message: Mapping[str, Any], identity: Identity) -> dict[str, Any]:
    """Return a copy of *message* signed by *identity* with the current canon (``v2``).

    Adds ``SIGN_CANON_V``, ``EE_SIGN``, ``EE_SENDER``, ``EE_HASH``, ``EE_ETH_SENDER`` and
    ``EE_ETH_SIGN``; any old signature block is replaced.
    """
    signed = {k: v for k, v in message.items() if k not in NON_DATA_FIELDS}
    signed["SIGN_CANON_V"] = CANON_V2
    digest = message_digest(signed, version=CANON_V2)
    signed["EE_SIGN"] = encode_signature(sign_digest(identity, digest))
    signed["EE_SENDER"] = identity.address
    signed["EE_HASH"] = digest.hex()
    signed["EE_ETH_SENDER"] = identity.eth_address
    signed["EE_ETH_SIGN"] = ETH_SIGN_PLACEHOLDER
    return signed


def _attempt(
    message: Mapping[str, Any], version: CanonVersion, public_key: bytes, der: bytes
) -> str | None:
    """Return ``None`` when the signature verifies under *version*, else the failure reason."""
    received = message.get("EE_HASH")
    try:
        if received:
            digest = message_digest(message, version=version)
            if digest.hex() != received:
                return "corrupted_digest"
            data = digest
        else:  # legacy senders signed the canonical text itself
            data = canonical_message(message, version=version).encode("utf-8")
    except CanonicalizationError:  # e.g. a lone surrogate: no signer could have hashed it
        return "corrupted_digest"
    return None if verify_digest(public_key, data, der) else "invalid_signature"


def verify_message(message: Mapping[str, Any]) -> Verification:
    """Verify the signature of a received *message*; raise :class:`SignatureError` if it fails.

    Accepts every canon a verifier must: ``v2``, ``v1`` and unversioned (current encoder
    first, then legacy). ``EE_ETH_*`` are never hashed. High-S signatures are accepted.
    """
    sender = message.get("EE_SENDER")
    if not sender:
        raise SignatureError("message has no EE_SENDER", reason="missing_sender")
    if not isinstance(sender, str):
        raise SignatureError("EE_SENDER is not a string", reason="bad_sender")
    sign = message.get("EE_SIGN")
    if not sign:
        raise SignatureError("message has no EE_SIGN", reason="missing_signature", sender=sender)
    if not isinstance(sign, str):
        raise SignatureError(
            "EE_SIGN is not a string", reason="bad_signature_encoding", sender=sender
        )
    try:
        public_key = decode_address(sender)
    except AddressError as exc:
        raise SignatureError(f"bad EE_SENDER: {exc}", reason="bad_sender", sender=sender) from None
    der = decode_signature(sign)
    try:
        high_s = is_high_s(der)
    except SignatureError as exc:
        exc.sender = sender
        raise

    tag = message.get("SIGN_CANON_V")
    candidates: tuple[CanonVersion, ...]
    if tag is None:
        candidates = (CANON_UNVERSIONED, CANON_V1)
    elif tag == CANON_V2:
        candidates = (CANON_V2,)
    elif tag == CANON_V1:
        candidates = (CANON_V1,)
    else:
        raise UnknownCanonVersionError(
            f"Unknown signing canon version: {tag!r}", reason="unknown_canon_version", sender=sender
        )
    reason = "invalid_signature"
    for version in candidates:
        failure = _attempt(message, version, public_key, der)
        if failure is None:
            return Verification(sender=sender, canon_version=version, high_s=high_s)
        reason = failure
    text = "Corrupted digest!" if reason == "corrupted_digest" else "signature does not verify"
    raise SignatureError(f"{text} (sender {sender})", reason=reason, sender=sender)


def is_valid_signature(message: Mapping[str, Any]) -> bool:
    """Return whether :func:`verify_message` accepts *message*."""
    try:
        verify_message(message)
    except SignatureError:
        return False
    return True
