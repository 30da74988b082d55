"""Ratio1 addresses: ``"0xai_"`` + urlsafe base64 of the 33-byte compressed secp256k1 key.

An address *is* the public key: signatures are verified and encryption keys are derived from
it, so decoding always checks that the bytes are a point on the curve.

>>> addr = "0xai_AtFWLROJfEcelsRlY3K0oHGyIbqsFcu9GXX_RKjJUjiR"
>>> encode_address(decode_address(addr)) == addr
True
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

from coincurve import PublicKey

from tether.ratio1._protocol._keccak import keccak256
from tether.ratio1._protocol.errors import AddressError

__all__ = [
    "ADDRESS_PREFIX",
    "LEGACY_ADDRESS_PREFIX",
    "decode_address",
    "encode_address",
    "eth_address",
    "is_valid_address",
    "normalize_address",
    "strip_prefix",
]

ADDRESS_PREFIX = "0xai_"
"""Prefix of every current address."""

LEGACY_ADDRESS_PREFIX = "aixp_"
"""Old prefix, still accepted when parsing."""

_URLSAFE_B64 = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def strip_prefix(address: str) -> str:
    """Return *address* without its ``0xai_`` / ``aixp_`` prefix (unchanged when it has none)."""
    for prefix in (ADDRESS_PREFIX, LEGACY_ADDRESS_PREFIX):
        if address.startswith(prefix):
            return address[len(prefix) :]
    return address


def encode_address(public_key: bytes) -> str:
    """Return the address of a SEC1 public key (33-byte compressed or 65-byte uncompressed).

    The address always uses the compressed form, like the official SDK.
    """
    try:
        compressed = PublicKey(bytes(public_key)).format(compressed=True)
    except (ValueError, TypeError) as exc:
        raise AddressError(f"not a secp256k1 public key ({len(public_key)} bytes): {exc}") from None
    return ADDRESS_PREFIX + base64.urlsafe_b64encode(compressed).decode("ascii")


@lru_cache(maxsize=4096)
def decode_address(address: str) -> bytes:
    """Return the 33-byte compressed public key of *address*.

    Accepts the ``0xai_`` and legacy ``aixp_`` prefixes (and a bare key), compressed or
    uncompressed keys. Raises :class:`AddressError` with the reason otherwise.

    >>> decode_address("0xai_AtFWLROJfEcelsRlY3K0oHGyIbqsFcu9GXX_RKjJUjiR").hex()[:6]
    '02d156'
    """
    if not isinstance(address, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise AddressError(f"an address must be a string, not {type(address).__name__}")
    body = strip_prefix(address)
    if not body:
        raise AddressError(f"empty address {address!r}")
    if not _URLSAFE_B64.match(body):
        raise AddressError(f"address {address!r} is not urlsafe base64 after its prefix")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise AddressError(f"address {address!r} is not valid base64") from None
    if len(raw) not in (33, 65):
        raise AddressError(
            f"address {address!r} decodes to {len(raw)} bytes; a public key has 33 or 65"
        )
    try:
        return PublicKey(raw).format(compressed=True)
    except (ValueError, TypeError):
        raise AddressError(f"address {address!r} is not a point on secp256k1") from None


def is_valid_address(address: object) -> bool:
    """Return whether *address* is a string that decodes to a secp256k1 public key."""
    if not isinstance(address, str):
        return False
    try:
        decode_address(address)
    except AddressError:
        return False
    return True


def normalize_address(address: str) -> str:
    """Return the canonical ``0xai_`` form of *address* (legacy prefix or uncompressed key in).

    Use it to compare addresses; keep the original string where an exact match is part of the
    protocol (multi-recipient key entries).
    """
    return encode_address(decode_address(address))


@lru_cache(maxsize=1024)
def eth_address(public_key: bytes) -> str:
    """Return the EIP-55 checksummed EVM address of a SEC1 public key.

    >>> pk = decode_address("0xai_AtFWLROJfEcelsRlY3K0oHGyIbqsFcu9GXX_RKjJUjiR")
    >>> eth_address(pk)
    '0xc826E30ce35C0b87abFCdD1453174735BE232d91'
    """
    try:
        point = PublicKey(bytes(public_key)).format(compressed=False)
    except (ValueError, TypeError):
        raise AddressError("not a secp256k1 public key") from None
    lower = keccak256(point[1:])[-20:].hex()
    checksum = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        ch.upper() if ch.isalpha() and int(checksum[i], 16) >= 8 else ch
        for i, ch in enumerate(lower)
    )
