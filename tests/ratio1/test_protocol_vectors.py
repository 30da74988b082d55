"""Every reference vector (shared/reference/ratio1-test-vectors.json, §24), byte for byte."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any

import pytest

from tether.ratio1._protocol.addresses import decode_address, encode_address, eth_address
from tether.ratio1._protocol.canon import canonical_json, canonical_message
from tether.ratio1._protocol.compression import (
    decode_code,
    decode_heartbeat,
    decompress_text,
    encode_code,
)
from tether.ratio1._protocol.crypto import (
    EncryptionFormat,
    decrypt,
    detect_format,
    encrypt_multi,
    encrypt_single,
    shared_key,
    shared_secret,
)
from tether.ratio1._protocol.identity import Identity
from tether.ratio1._protocol.signing import (
    decode_signature,
    is_high_s,
    sign_message,
    verify_message,
)

SIGNED = ["T1_heartbeat_v2", "T2_sdk_command_plain", "T3_payload_edge_cases", "T4_legacy_v1"]


def _wire(vectors: dict[str, Any], name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(vectors["signed_messages"][name]["wire_text"])
    return message


@pytest.mark.parametrize("name", SIGNED)
def test_canonical_string_and_hash_match_byte_for_byte(vectors: dict[str, Any], name: str) -> None:
    vector = vectors["signed_messages"][name]
    message = _wire(vectors, name)
    version = message.get("SIGN_CANON_V", "unversioned")
    canon = canonical_message(message, version=version)
    assert canon.encode("utf-8") == vector["canonical"].encode("utf-8")
    if "canonical_len_bytes" in vector:
        assert len(canon.encode("utf-8")) == vector["canonical_len_bytes"]
    assert hashlib.sha256(canon.encode("utf-8")).hexdigest() == vector["EE_HASH"]
    assert message["EE_HASH"] == vector["EE_HASH"]


def test_t3_canonical_bytes_match_the_base64_copy(vectors: dict[str, Any]) -> None:
    # the reference also gives T3's canonical bytes in base64 to rule out copy damage
    expected = base64.b64decode(
        "eyJFRV9BRERSIjoiMHhhaV9BdEZXTFJPSmZFY2Vsc1JsWTNLMG9IR3lJYnFzRmN1OUdYWF9SS2pKVWppUiIsIk"
        "VFX0VWRU5UX1RZUEUiOiJQQVlMT0FEIiwiRUVfRk9STUFUVEVSIjpudWxsLCJFRV9JRCI6InRlc3Qtbm9kZS0w"
        "MSIsIkVFX0lTX0VOQ1JZUFRFRCI6ZmFsc2UsIkVFX01FU1NBR0VfSUQiOiIwMDAwMDAwMC0wMDAwLTQwMDAtOD"
        "AwMC0wMDAwMDAwMDAwMDMiLCJFRV9NRVNTQUdFX1NFUSI6MywiRUVfUEFZTE9BRF9QQVRIIjpbInRlc3Qtbm9k"
        "ZS0wMSIsInRlc3RfcGlwZSIsIlRFU1RfU0lHTkFUVVJFXzAxIiwiaW5zdF8xIl0sIkVFX1RJTUVTVEFNUCI6Ij"
        "IwMjYtMDEtMDIgMDM6MDQ6MDcuMDAwMDAxIiwiRUVfVElNRVpPTkUiOiJVVEMrMiIsIkVFX1RPVEFMX01FU1NB"
        "R0VTIjozLCJFRV9UWiI6IkV1cm9wZS9CdWNoYXJlc3QiLCJFRV9WRVJTSU9OIjoiMi4wLjAiLCJFTVBUWSI6e3"
        "0sIkVNUFRZX0xJU1QiOltdLCJGTE9BVFMiOlsxLjAsMC4xLDFlLTA3LDFlKzE2LDIuNWUtMDUsLTAuMCwxMjM0"
        "NTY3ODkuMTI1XSwiSU5JVElBVE9SX0FERFIiOiIweGFpX0FscC1QZW1MdW1PV3lhYzZ6MEYxczZzc212WGhUS1"
        "k5NF9oa2kwTnBJT2tRIiwiSU5JVElBVE9SX0lEIjoidGVzdC1zZGsiLCJJTlNUQU5DRV9JRCI6Imluc3RfMSIs"
        "IklOVFMiOlswLC0xLDEyMzQ1Njc4OTAxMjM0NTY3ODkwXSwiTU9ESUZJRURfQllfQUREUiI6IjB4YWlfQWxwLV"
        "BlbUx1bU9XeWFjNnowRjFzNnNzbXZYaFRLWTk0X2hraTBOcElPa1EiLCJNT0RJRklFRF9CWV9JRCI6InRlc3Qt"
        "c2RrIiwiTkVTVEVEIjp7ImEiOnsiQSI6MiwiXyI6MywieiI6MX0sImIiOlt0cnVlLGZhbHNlLG51bGxdfSwiU0"
        "JfSU1QTEVNRU5UQVRJT04iOm51bGwsIlNFU1NJT05fSUQiOiJ0ZXN0LXNkayIsIlNJR05BVFVSRSI6IlRFU1Rf"
        "U0lHTkFUVVJFXzAxIiwiU0lHTl9DQU5PTl9WIjoidjIiLCJTVFJFQU1fTkFNRSI6InRlc3RfcGlwZSIsIlRFWF"
        "QiOiJjYWbDqSDinJMgXCJxXCIgXFwgLyA8dGFiPlx0In0="
    )
    message = _wire(vectors, "T3_payload_edge_cases")
    assert canonical_message(message).encode("utf-8") == expected


@pytest.mark.parametrize("name", SIGNED)
def test_reference_signatures_verify(vectors: dict[str, Any], name: str) -> None:
    message = _wire(vectors, name)
    result = verify_message(message)
    assert result.sender == message["EE_SENDER"]
    assert result.canon_version == message.get("SIGN_CANON_V", "unversioned")


@pytest.mark.parametrize(
    ("name", "high"),
    [
        ("T1_heartbeat_v2", False),
        ("T2_sdk_command_plain", True),
        ("T3_payload_edge_cases", True),
        ("T4_legacy_v1", True),
    ],
)
def test_high_s_vectors_are_high_s_and_still_verify(
    vectors: dict[str, Any], name: str, high: bool
) -> None:
    message = _wire(vectors, name)
    assert is_high_s(decode_signature(message["EE_SIGN"])) is high
    assert verify_message(message).high_s is high


def test_t4_verifies_without_its_version_tag(vectors: dict[str, Any]) -> None:
    # unversioned: current encoder first, then the legacy fallback
    message = _wire(vectors, "T4_legacy_v1")
    del message["SIGN_CANON_V"]
    assert verify_message(message).canon_version == "v1"


def test_unversioned_example_hash(vectors: dict[str, Any]) -> None:
    example = vectors["unversioned_example"]
    text = canonical_json({"EE_ID": "test-node-01", "X": 1.0})
    assert text == example["canonical"]
    assert hashlib.sha256(text.encode()).hexdigest() == example["sha256"]


def test_resigning_t1_keeps_the_hash_and_verifies(
    vectors: dict[str, Any], node_key: Identity
) -> None:
    original = _wire(vectors, "T1_heartbeat_v2")
    resigned = sign_message(original, node_key)
    assert resigned["EE_HASH"] == original["EE_HASH"]
    assert resigned["EE_SENDER"] == original["EE_SENDER"]
    assert resigned["EE_ETH_SENDER"] == original["EE_ETH_SENDER"]
    assert resigned["EE_ETH_SIGN"] == "0xBEEF"
    assert verify_message(resigned).canon_version == "v2"


@pytest.mark.parametrize("who", ["node", "sdk"])
def test_key_derivation(vectors: dict[str, Any], who: str) -> None:
    key = vectors["test_keys"][who]
    identity = Identity.from_seed(key["seed"])
    assert identity.signer.secret.hex() == key["d_hex"]
    assert identity.public_key.hex() == key["compressed_pubkey_hex"]
    assert identity.address == key["address"]
    assert identity.eth_address == key["eth_address"]
    uncompressed = bytes.fromhex(key["uncompressed_pubkey_hex"])
    assert encode_address(uncompressed) == key["address"]
    assert decode_address(key["address"]).hex() == key["compressed_pubkey_hex"]
    assert eth_address(uncompressed) == key["eth_address"]
    from_pem = Identity.from_pem(key["pem_pkcs8"])
    assert from_pem.address == key["address"]
    assert from_pem.to_pem() == key["pem_pkcs8"]


def test_ecdh_and_hkdf(vectors: dict[str, Any], node_key: Identity, sdk_key: Identity) -> None:
    assert shared_secret(node_key, sdk_key.address).hex() == vectors["ecdh"]["shared_x_hex"]
    assert shared_secret(sdk_key, node_key.address).hex() == vectors["ecdh"]["shared_x_hex"]
    assert shared_key(node_key, sdk_key.address).hex() == vectors["ecdh"]["hkdf_key_hex"]
    assert shared_key(sdk_key, node_key.address).hex() == vectors["ecdh"]["hkdf_key_hex"]


def test_single_recipient_vector(
    vectors: dict[str, Any], node_key: Identity, sdk_key: Identity
) -> None:
    vector = vectors["single_recipient"]
    assert zlib.compress(vector["plaintext"].encode()).hex() == vector["zlib_hex"]
    assert len(base64.b64decode(vector["EE_ENCRYPTED_DATA"])) == vector["blob_len"]
    assert detect_format(vector["EE_ENCRYPTED_DATA"]) is EncryptionFormat.SINGLE
    assert decrypt(node_key, vector["EE_ENCRYPTED_DATA"], vector["sender"]) == vector["plaintext"]
    again = encrypt_single(
        sdk_key, vector["plaintext"], vector["recipient"], nonce=bytes.fromhex(vector["nonce_hex"])
    )
    assert again == vector["EE_ENCRYPTED_DATA"]


def test_multi_recipient_vector(
    vectors: dict[str, Any], node_key: Identity, sdk_key: Identity
) -> None:
    vector = vectors["multi_recipient"]
    data = vector["EE_ENCRYPTED_DATA"]
    assert detect_format(data) is EncryptionFormat.MULTI
    assert json.loads(zlib.decompress(base64.b64decode(data))) == json.loads(vector["package_json"])
    assert decrypt(sdk_key, data, vector["sender"]) == vector["plaintext"]
    again = encrypt_multi(
        node_key,
        vector["plaintext"],
        vector["recipients"],
        symmetric_key=bytes.fromhex(vector["sym_key_hex"]),
        nonce=bytes.fromhex(vector["nonce_hex"]),
        key_nonces=[bytes.fromhex(vector["key_nonce_hex"])],
    )
    # compare after decoding: compressed bytes may differ between zlib builds
    assert zlib.decompress(base64.b64decode(again)) == vector["package_json"].encode()


def test_heartbeat_codec_vector(vectors: dict[str, Any]) -> None:
    codec = vectors["heartbeat_codec"]
    assert decompress_text(codec["ENCODED_DATA"]) == codec["status_text"]
    heartbeat = _wire(vectors, "T1_heartbeat_v2")
    assert heartbeat["ENCODED_DATA"] == codec["ENCODED_DATA"]
    merged = decode_heartbeat(heartbeat)
    status = json.loads(codec["status_text"])
    for key, value in status.items():
        assert merged[key] == value
    assert merged["EE_ID"] == "test-node-01"


def test_code_encoding_vector(vectors: dict[str, Any]) -> None:
    vector = vectors["code_encoding"]
    assert decode_code(vector["b64"]) == vector["source"]
    assert decode_code(encode_code(vector["source"])) == vector["source"]
