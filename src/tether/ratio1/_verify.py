"""Signature verification on the receive path: a fast path for current (v2) messages.

For a message that came straight out of ``json.loads``, the reference canonical form (dump,
parse back, dump sorted) is exactly one sorted dump: the round trip changes nothing for parsed
JSON. The fast path therefore hashes one sorted dump and checks the signature with libsecp256k1
(S normalised first). Whatever it does not accept (``v1``, unversioned, NaN, a lone surrogate,
a digest mismatch, a bad signature) goes through the reference verifier of
:mod:`tether.ratio1._protocol.signing`, which gives the precise reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from coincurve import PublicKey

from tether.ratio1._protocol.addresses import decode_address
from tether.ratio1._protocol.canon import NON_DATA_FIELDS
from tether.ratio1._protocol.errors import AddressError, ProtocolError, SignatureError
from tether.ratio1._protocol.identity import SECP256K1_ORDER
from tether.ratio1._protocol.signing import normalize_signature, verify_message

__all__ = ["check_signature", "verify_fast"]

_encode = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
_KEYS: dict[str, PublicKey] = {}
_MAX_KEYS: Final = 4096
_HALF_ORDER: Final = SECP256K1_ORDER // 2


def _public_key(sender: str) -> PublicKey | None:
    key = _KEYS.get(sender)
    if key is None:
        try:
            key = PublicKey(decode_address(sender))
        except (AddressError, ValueError, TypeError):
            return None
        if len(_KEYS) >= _MAX_KEYS:
            _KEYS.clear()
        _KEYS[sender] = key
    return key


def verify_fast(message: Mapping[str, Any]) -> bool:
    """Whether *message* (parsed JSON) carries a valid v2 signature; ``False`` means "not on
    the fast path" (it may still verify under the reference rules)."""
    if message.get("SIGN_CANON_V") != "v2":
        return False
    sender = message.get("EE_SENDER")
    sign = message.get("EE_SIGN")
    received = message.get("EE_HASH")
    if not (isinstance(sender, str) and isinstance(sign, str) and isinstance(received, str)):
        return False
    data = {k: v for k, v in message.items() if k not in NON_DATA_FIELDS}
    data["SIGN_CANON_V"] = "v2"
    try:
        raw = _encode(data).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        return False
    digest = hashlib.sha256(raw).digest()
    if digest.hex() != received:
        return False
    key = _public_key(sender)
    if key is None:
        return False
    try:
        der = base64.urlsafe_b64decode(sign + "=" * (-len(sign) % 4))
        return bool(key.verify(_low_s(der), digest))
    except (SignatureError, binascii.Error, ValueError, TypeError, IndexError):
        return False


def _low_s(der: bytes) -> bytes:
    """*der* with a low S (libsecp256k1 rejects high S; official signers produce both)."""
    r_length = der[3]
    s_length = der[5 + r_length]
    s = int.from_bytes(der[6 + r_length : 6 + r_length + s_length], "big")
    return der if s <= _HALF_ORDER else normalize_signature(der)


def check_signature(message: Mapping[str, Any]) -> SignatureError | None:
    """``None`` when *message* verifies (any canon version); otherwise the reason."""
    if verify_fast(message):
        return None
    try:
        verify_message(message)
    except SignatureError as exc:
        return exc
    except ProtocolError as exc:  # a message the canonical encoder refuses (lone surrogate...)
        sender = message.get("EE_SENDER")
        return SignatureError(
            f"cannot canonicalise: {exc}",
            reason="corrupted_digest",
            sender=sender if isinstance(sender, str) else None,
        )
    return None
