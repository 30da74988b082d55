"""Addresses, identities, encryption and compression."""

from __future__ import annotations

import base64
import json
import os
import stat
import zlib
from pathlib import Path

import pytest

from tether.ratio1._protocol.addresses import (
    decode_address,
    encode_address,
    is_valid_address,
    normalize_address,
    strip_prefix,
)
from tether.ratio1._protocol.compression import (
    compress_text,
    decode_heartbeat,
    decode_netmon,
    decompress_text,
    encode_netmon,
    inflate,
)
from tether.ratio1._protocol.crypto import (
    EncryptionFormat,
    decrypt,
    decrypt_bytes,
    detect_format,
    encrypt,
    encrypt_multi,
    encrypt_single,
)
from tether.ratio1._protocol.errors import (
    AddressError,
    CompressionError,
    DecryptionError,
    EncryptionError,
    IdentityError,
)
from tether.ratio1._protocol.identity import Identity, load_identity, save_identity

NODE = "0xai_AtFWLROJfEcelsRlY3K0oHGyIbqsFcu9GXX_RKjJUjiR"


# --- addresses --------------------------------------------------------------------------------


def test_address_prefixes_and_normalisation() -> None:
    body = strip_prefix(NODE)
    assert strip_prefix("aixp_" + body) == body
    assert normalize_address("aixp_" + body) == NODE
    assert decode_address(body) == decode_address(NODE)
    uncompressed = (
        "0xai_"
        + base64.urlsafe_b64encode(
            bytes.fromhex(
                "04d1562d13897c471e96c4656372b4a071b221baac15cbbd1975ff44a8c9523891"
                "c46df6ebbd5c1224f612a7e6207ed968b39d327fb79d8418c947424814b699a0"
            )
        ).decode()
    )
    assert normalize_address(uncompressed) == NODE


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "empty"),
        ("0xai_", "empty"),
        ("0xai_not base64!", "urlsafe base64"),
        ("0xai_AAAA", "3 bytes"),
        ("0xai_" + base64.urlsafe_b64encode(b"\x02" + b"\xff" * 32).decode(), "not a point"),
        ("0xai_" + base64.urlsafe_b64encode(b"\x05" + b"\x01" * 32).decode(), "not a point"),
    ],
)
def test_invalid_addresses_say_why(address: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        decode_address(address)
    assert not is_valid_address(address)


def test_is_valid_address_rejects_non_strings() -> None:
    assert not is_valid_address(None)
    assert not is_valid_address(b"0xai_")
    assert is_valid_address(NODE)


def test_encode_address_rejects_bad_keys() -> None:
    with pytest.raises(AddressError):
        encode_address(b"\x02" + b"\xff" * 32)


# --- identities -------------------------------------------------------------------------------


def test_identity_repr_hides_the_key() -> None:
    identity = Identity.from_seed("tests/repr")
    text = repr(identity)
    assert identity.address in text
    assert identity.signer.secret.hex() not in text
    assert "secret" not in text.lower()


def test_identity_constructors_agree() -> None:
    a = Identity.from_seed("tests/ctor")
    assert Identity.from_secret(a.signer.secret) == a
    assert Identity.from_secret(int.from_bytes(a.signer.secret, "big")) == a
    assert Identity.from_pem(a.to_pem()) == a
    assert Identity.generate() != a
    assert len({a, Identity.from_pem(a.to_pem())}) == 1


@pytest.mark.parametrize("bad", [0, 2**256, b"\x00" * 31, b"\x00" * 32])
def test_identity_rejects_bad_secrets(bad: int | bytes) -> None:
    with pytest.raises(IdentityError):
        Identity.from_secret(bad)


def test_identity_rejects_other_curves() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(IdentityError, match="secp256k1"):
        Identity.from_pem(p256)
    with pytest.raises(IdentityError, match="cannot load"):
        Identity.from_pem("not a pem")


def test_save_and_load_identity(tmp_path: Path) -> None:
    identity = Identity.from_seed("tests/save")
    path = save_identity(identity, tmp_path / "key.pem")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_identity(path) == identity
    with pytest.raises(IdentityError, match="exists"):
        save_identity(identity, path)
    other = Identity.from_seed("tests/save-2")
    save_identity(other, path, overwrite=True)
    assert load_identity(path) == other
    encrypted = save_identity(identity, tmp_path / "enc.pem", password="pw")
    assert "ENCRYPTED" in encrypted.read_text()
    assert load_identity(encrypted, password="pw") == identity
    with pytest.raises(IdentityError):
        load_identity(encrypted, password="wrong")
    with pytest.raises(IdentityError, match="cannot read"):
        load_identity(tmp_path / "missing.pem")


# --- encryption -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alice() -> Identity:
    return Identity.from_seed("tests/alice")


@pytest.fixture(scope="module")
def bob() -> Identity:
    return Identity.from_seed("tests/bob")


def test_single_round_trip_and_format(alice: Identity, bob: Identity) -> None:
    data = encrypt(alice, '{"ACTION": "STOP"} é', bob.address)
    assert detect_format(data) is EncryptionFormat.SINGLE
    assert decrypt(bob, data, alice.address) == '{"ACTION": "STOP"} é'
    raw = base64.b64decode(data)
    assert raw[12] == 1  # zlib flag
    assert data != encrypt(alice, '{"ACTION": "STOP"} é', bob.address)  # random nonce


def test_multi_round_trip_for_every_receiver(alice: Identity, bob: Identity) -> None:
    carol = Identity.from_seed("tests/carol")
    data = encrypt(alice, "hello", [bob.address, carol.address])
    assert detect_format(data) is EncryptionFormat.MULTI
    assert decrypt(bob, data, alice.address) == "hello"
    assert decrypt(carol, data, alice.address) == "hello"
    with pytest.raises(DecryptionError, match="not encrypted for this address"):
        decrypt(Identity.from_seed("tests/eve"), data, alice.address)


def test_single_without_compression_flag(alice: Identity, bob: Identity) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from tether.ratio1._protocol.crypto import shared_key

    nonce = b"\x07" * 12
    sealed = AESGCM(shared_key(alice, bob.address)).encrypt(nonce, b"plain", None)
    data = base64.b64encode(nonce + b"\x00" + sealed).decode()
    assert decrypt_bytes(bob, data, alice.address) == b"plain"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("%%%", "base64"),
        (base64.b64encode(b"short").decode(), "too short"),
    ],
)
def test_decrypt_rejects_garbage(bob: Identity, alice: Identity, data: str, message: str) -> None:
    with pytest.raises(DecryptionError, match=message):
        decrypt(bob, data, alice.address)


def test_decrypt_detects_tampering_and_wrong_sender(alice: Identity, bob: Identity) -> None:
    data = bytearray(base64.b64decode(encrypt_single(alice, "x" * 40, bob.address)))
    data[-1] ^= 1
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt(bob, base64.b64encode(bytes(data)).decode(), alice.address)
    good = encrypt_single(alice, "x", bob.address)
    with pytest.raises(DecryptionError):
        decrypt(bob, good, Identity.from_seed("tests/mallory").address)
    with pytest.raises(DecryptionError, match="bad peer address"):
        decrypt(bob, good, "0xai_bogus")


def test_malformed_multi_package(alice: Identity, bob: Identity) -> None:
    package = {"M": True, "c": "01", "n": "zz", "d": "", "k": [{"a": bob.address, "k": "00"}]}
    data = base64.b64encode(zlib.compress(json.dumps(package).encode())).decode()
    with pytest.raises(DecryptionError):
        decrypt(bob, data, alice.address)


def test_encryption_argument_errors(alice: Identity, bob: Identity) -> None:
    with pytest.raises(EncryptionError, match="at least one"):
        encrypt_multi(alice, "x", [])
    with pytest.raises(EncryptionError, match="12 bytes"):
        encrypt_single(alice, "x", bob.address, nonce=b"1")
    with pytest.raises(EncryptionError, match="one nonce per receiver"):
        encrypt_multi(alice, "x", [bob.address], key_nonces=[])
    with pytest.raises(EncryptionError, match="bad peer address"):
        encrypt_single(alice, "x", "0xai_bogus")


# --- compression ------------------------------------------------------------------------------


def test_compress_round_trip_and_errors() -> None:
    assert decompress_text(compress_text("héllo")) == "héllo"
    with pytest.raises(CompressionError, match="base64"):
        decompress_text("%%%")
    with pytest.raises(CompressionError, match="zlib"):
        decompress_text(base64.b64encode(b"not zlib").decode())
    with pytest.raises(CompressionError, match="truncated"):
        inflate(zlib.compress(b"x" * 100)[:-4])
    with pytest.raises(CompressionError, match="exceeds"):
        inflate(zlib.compress(b"\0" * 10_000), limit=1000)


def test_heartbeat_v1_passes_through() -> None:
    message = {"EE_ID": "n", "HEARTBEAT_VERSION": "v1", "CPU_USED": 3.0}
    assert decode_heartbeat(message) == message


def test_heartbeat_decoded_fields_win() -> None:
    message = {"EE_ID": "n", "NR_PAYLOADS": 0, "HEARTBEAT_VERSION": "v2"}
    message["ENCODED_DATA"] = compress_text(json.dumps({"NR_PAYLOADS": 7, "EE_ADDR": "a"}))
    merged = decode_heartbeat(message)
    assert merged["NR_PAYLOADS"] == 7
    assert "ENCODED_DATA" not in merged
    bad = dict(message, ENCODED_DATA=compress_text("[1]"))
    with pytest.raises(CompressionError, match="not a JSON object"):
        decode_heartbeat(bad)


def test_netmon_v2_round_trip() -> None:
    payload = {
        "EE_ID": "n",
        "EE_SENDER": "x",
        "STREAM_NAME": "admin_pipeline",
        "CURRENT_NETWORK": {"n": {"working": "ONLINE", "eeid": "é"}},
        "STATUS": "ok",
    }
    encoded = encode_netmon(payload)
    assert encoded["NETMON_VERSION"] == "v2"
    assert "CURRENT_NETWORK" not in encoded
    assert encoded["STREAM_NAME"] == "admin_pipeline"
    assert decompress_text(encoded["ENCODED_DATA"]).isascii()
    assert decode_netmon(encoded) == payload | {"NETMON_VERSION": "v2"}
    assert decode_netmon(payload) == payload
    assert encode_netmon({"EE_ID": "only top level"}) == {"EE_ID": "only top level"}
