"""Canonical JSON edge cases, signing and verification (§4)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tether._core.errors import TetherError
from tether.ratio1._protocol.canon import (
    NON_DATA_FIELDS,
    canonical_bytes,
    canonical_json,
    canonical_message,
    message_digest,
)
from tether.ratio1._protocol.errors import (
    CanonicalizationError,
    ProtocolError,
    SignatureError,
    UnknownCanonVersionError,
)
from tether.ratio1._protocol.identity import SECP256K1_ORDER, Identity
from tether.ratio1._protocol.signing import (
    decode_signature,
    encode_signature,
    is_high_s,
    is_valid_signature,
    normalize_signature,
    sign_digest,
    sign_message,
    verify_digest,
    verify_message,
)


@pytest.fixture(scope="module")
def key() -> Identity:
    return Identity.from_seed("tests/signing")


# --- canonical JSON ---------------------------------------------------------------------------


def test_non_finite_floats_become_null_everywhere() -> None:
    data = {"a": float("nan"), "b": [float("inf"), {"c": -float("inf")}], "d": [[float("nan")]]}
    assert canonical_json(data) == '{"a":null,"b":[null,{"c":null}],"d":[[null]]}'


def test_non_string_keys_are_stringified_before_sorting() -> None:
    # the round trip turns 10 and 9 into "10" and "9", which sort as text
    assert canonical_json({10: "a", 9: "b", True: "c"}) == '{"10":"a","9":"b","true":"c"}'


def test_sorting_is_by_code_point_and_nested() -> None:
    data = {"b": {"z": 1, "A": 2, "_": 3, "é": 4}, "a": [{"y": 1, "x": 2}]}
    assert canonical_json(data) == '{"a":[{"x":2,"y":1}],"b":{"A":2,"_":3,"z":1,"é":4}}'


def test_string_escapes_follow_python_json() -> None:
    text = 'q" b\\ / \n\r\t\b\f \x01 \x7f \u2028 é'
    assert (
        canonical_json({"t": text}) == '{"t":"q\\" b\\\\ / \\n\\r\\t\\b\\f \\u0001 \x7f \u2028 é"}'
    )


def test_tuples_datetimes_and_mappings_are_converted() -> None:
    from types import MappingProxyType

    data = {
        "t": (1, 2),
        "d": dt.datetime(2026, 1, 2, 3, 4, 5, 678),
        "m": MappingProxyType({"k": 1}),
    }
    assert canonical_json(data) == '{"d":"2026-01-02 03:04:05","m":{"k":1},"t":[1,2]}'


def test_numpy_like_values_use_tolist() -> None:
    class FakeArray:
        def tolist(self) -> list[float]:
            return [1.0, 2.5]

    assert canonical_json({"x": FakeArray()}) == '{"x":[1.0,2.5]}'


def test_unsupported_values_raise_a_typed_error() -> None:
    with pytest.raises(CanonicalizationError, match="set"):
        canonical_json({"x": {1, 2}})
    with pytest.raises(CanonicalizationError, match="surrogate"):
        canonical_bytes({"x": "\udc80"})
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(CanonicalizationError):
        canonical_json({"x": circular})
    assert issubclass(CanonicalizationError, ProtocolError)
    assert issubclass(ProtocolError, TetherError)


@pytest.mark.parametrize(
    ("value", "legacy"),
    [
        (1.0, "1"),
        (100.0, "100"),
        (2.5, "2.5"),
        (-0.0, "0"),
        (1e-07, "1e-07"),
        (1.2e20, "120"),  # legacy quirk: "1.2e+20".rstrip("0") == "1.2e+2" -> 120.0 -> "120"
        (float("nan"), "null"),
    ],
)
def test_legacy_float_encoder(value: float, legacy: str) -> None:
    assert canonical_json({"x": value}, legacy=True) == '{"x":' + legacy + "}"


def test_canonical_message_drops_the_signature_block() -> None:
    message = {k: "x" for k in NON_DATA_FIELDS} | {"A": 1}
    assert canonical_message(message, version="unversioned") == '{"A":1}'
    assert canonical_message(message, version="v2") == '{"A":1,"SIGN_CANON_V":"v2"}'
    assert canonical_message(message, version="v1") == '{"A":1}'


# --- signing ----------------------------------------------------------------------------------


def test_sign_and_verify_round_trip(key: Identity) -> None:
    message = {"EE_ID": "n", "X": 1.0, "TEXT": "café", "N": [1, None, True]}
    signed = sign_message(message, key)
    assert message == {"EE_ID": "n", "X": 1.0, "TEXT": "café", "N": [1, None, True]}  # no mutation
    assert signed["SIGN_CANON_V"] == "v2"
    assert signed["EE_HASH"] == message_digest(signed).hex()
    assert len(signed["EE_SIGN"]) in (92, 96)  # 68..72 DER bytes, urlsafe base64 with padding
    assert "=" in signed["EE_SIGN"] or len(signed["EE_SIGN"]) % 4 == 0
    assert verify_message(signed).sender == key.address
    assert is_valid_signature(signed)


def test_eth_fields_and_wire_order_do_not_matter(key: Identity) -> None:
    signed = sign_message({"B": 2, "A": 1}, key)
    signed["EE_ETH_SIGN"] = "0xDEAD"
    signed["EE_ETH_SENDER"] = "0x0"
    reordered = dict(reversed(list(signed.items())))
    assert verify_message(reordered).canon_version == "v2"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m.update(X=2.0), "corrupted_digest"),
        (lambda m: m.update(SIGN_CANON_V="v1"), "corrupted_digest"),
        (lambda m: m.pop("EE_SENDER"), "missing_sender"),
        (lambda m: m.pop("EE_SIGN"), "missing_signature"),
        (lambda m: m.update(EE_SENDER="0xai_nope"), "bad_sender"),
        (lambda m: m.update(EE_SIGN="!!!not base64!!!"), "bad_signature_encoding"),
        (
            lambda m: m.update(EE_SIGN=base64.urlsafe_b64encode(b"\x30\x00").decode()),
            "bad_signature_encoding",
        ),
    ],
)
def test_verification_failures_are_typed(key: Identity, mutate: Any, reason: str) -> None:
    signed = sign_message({"EE_ID": "n", "X": 1.0}, key)
    mutate(signed)
    with pytest.raises(SignatureError) as info:
        verify_message(signed)
    assert info.value.reason == reason
    assert not is_valid_signature(signed)


def test_wrong_signer_is_an_invalid_signature(key: Identity) -> None:
    other = Identity.from_seed("tests/other")
    signed = sign_message({"EE_ID": "n"}, other)
    signed["EE_SENDER"] = key.address
    with pytest.raises(SignatureError) as info:
        verify_message(signed)
    assert info.value.reason == "invalid_signature"
    assert info.value.sender == key.address


def test_unknown_canon_version_is_rejected(key: Identity) -> None:
    signed = sign_message({"EE_ID": "n"}, key)
    signed["SIGN_CANON_V"] = "v3"
    with pytest.raises(UnknownCanonVersionError, match="Unknown signing canon version"):
        verify_message(signed)


def _cryptography_sign(secret: int, data: bytes) -> bytes:
    """Sign the way the official SDK does: OpenSSL ECDSA-SHA256, random nonce, no low-S rule."""
    private = ec.derive_private_key(secret, ec.SECP256K1())
    return private.sign(data, ec.ECDSA(hashes.SHA256()))


def test_official_style_signers_produce_high_s_and_we_accept_them(key: Identity) -> None:
    secret = int.from_bytes(key.signer.secret, "big")
    high = 0
    for i in range(64):
        message = {"EE_ID": "n", "I": i, "SIGN_CANON_V": "v2"}
        digest = message_digest(message)
        der = _cryptography_sign(secret, digest)
        high += is_high_s(der)
        wire = message | {
            "EE_SIGN": encode_signature(der),
            "EE_SENDER": key.address,
            "EE_HASH": digest.hex(),
        }
        assert verify_message(wire).high_s == is_high_s(der)
    # a fair coin: 64 flips all on one side has probability 2**-63
    assert 0 < high < 64


def test_normalize_signature_flips_high_s_only(key: Identity) -> None:
    digest = hashlib.sha256(b"x").digest()
    low = sign_digest(key, digest)  # libsecp256k1 always signs low-S
    assert not is_high_s(low)
    assert normalize_signature(low) == low
    # build the high-S twin: same r, s' = n - s
    r_len = low[3]
    s = int.from_bytes(low[6 + r_len :], "big")
    s_high = SECP256K1_ORDER - s
    body = b"\x02" + bytes([r_len]) + low[4 : 4 + r_len]
    s_bytes = s_high.to_bytes((s_high.bit_length() + 7) // 8, "big")
    if s_bytes[0] & 0x80:
        s_bytes = b"\x00" + s_bytes
    body += b"\x02" + bytes([len(s_bytes)]) + s_bytes
    high = b"\x30" + bytes([len(body)]) + body
    assert is_high_s(high)
    assert normalize_signature(high) == low
    assert verify_digest(key.public_key, digest, high)
    assert verify_digest(key.public_key, digest, low)
    assert not verify_digest(key.public_key, hashlib.sha256(b"y").digest(), high)


def test_messages_without_ee_hash_are_verified_over_the_text(key: Identity) -> None:
    # legacy form: the signature covers the canonical text, there is no EE_HASH
    message = {"EE_ID": "n", "X": 2.5}
    text = canonical_message(message, version="unversioned").encode()
    der = _cryptography_sign(int.from_bytes(key.signer.secret, "big"), text)
    wire = message | {"EE_SIGN": encode_signature(der), "EE_SENDER": key.address}
    assert verify_message(wire).canon_version == "unversioned"


def test_signature_text_round_trip() -> None:
    raw = bytes(range(70))
    assert decode_signature(encode_signature(raw)) == raw
    assert decode_signature(encode_signature(raw).rstrip("=")) == raw


def test_json_wire_formatting_is_irrelevant(key: Identity) -> None:
    signed = sign_message({"TEXT": "é ✓", "F": 0.1}, key)
    ascii_wire = json.loads(json.dumps(signed))
    compact_wire = json.loads(json.dumps(signed, ensure_ascii=False, separators=(",", ":")))
    assert verify_message(ascii_wire).sender == key.address
    assert verify_message(compact_wire).sender == key.address


def test_a_message_that_cannot_be_canonicalised_is_a_signature_failure() -> None:
    from tether.ratio1._protocol.errors import SignatureError as _SignatureError
    from tether.ratio1._protocol.identity import Identity as _Identity
    from tether.ratio1._protocol.signing import sign_message as _sign
    from tether.ratio1._protocol.signing import verify_message as _verify

    signed = _sign({"DATA": "ok"}, _Identity.from_seed("surrogate"))
    crafted = {**signed, "DATA": "\ud800"}  # a lone surrogate cannot be encoded as UTF-8
    with pytest.raises(_SignatureError) as info:
        _verify(crafted)
    assert info.value.reason == "corrupted_digest"
