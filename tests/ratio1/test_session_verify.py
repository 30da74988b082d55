"""The receive-path verifier: its fast path agrees with the reference verifier."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tether.ratio1._protocol.identity import Identity
from tether.ratio1._protocol.signing import is_valid_signature, sign_message
from tether.ratio1._verify import check_signature, verify_fast


def _parsed(message: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(json.dumps(message, ensure_ascii=False))
    return parsed


@pytest.mark.parametrize(
    ("name", "fast"),
    [
        ("T1_heartbeat_v2", True),
        ("T2_sdk_command_plain", True),
        ("T3_payload_edge_cases", True),  # high-S, floats, non-ASCII, big ints
        ("T4_legacy_v1", False),  # v1: only the reference verifier knows it
    ],
)
def test_reference_vectors(vectors: dict[str, Any], name: str, fast: bool) -> None:
    message = json.loads(vectors["signed_messages"][name]["wire_text"])
    assert verify_fast(message) is fast
    assert check_signature(message) is None
    tampered = dict(message)
    tampered["EE_ID"] = "someone-else"
    error = check_signature(tampered)
    assert error is not None and error.reason == "corrupted_digest"


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.randint(-(2**70), 2**70)
    if kind == 1:
        return rng.choice([0.0, -0.0, 1.0, 0.1, 1e-7, 1e16, 2.5e-05, rng.random() * 1e6])
    if kind == 2:
        return "".join(rng.choice('aé✓"\\/\t\n\u2028𝄞z_') for _ in range(rng.randrange(8)))
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.randrange(100)
    if kind == 5:
        return ""
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        rng.choice(["a", "A", "_", "z", "Z", "10", "9", "é"]) + str(i): _random_value(
            rng, depth + 1
        )
        for i in range(rng.randrange(4))
    }


def test_fast_path_agrees_with_the_reference_on_random_messages() -> None:
    rng = random.Random(1234)
    signer = Identity.from_seed("fuzz")
    for _ in range(300):
        message = {f"K{i}": _random_value(rng) for i in range(rng.randrange(1, 6))}
        signed = _parsed(sign_message(message, signer))
        assert verify_fast(signed), signed
        assert is_valid_signature(signed)
        key = rng.choice(sorted(k for k in signed if not k.startswith(("EE_", "SIGN"))))
        broken = dict(signed)
        broken[key] = "changed" if broken[key] != "changed" else "other"
        assert not verify_fast(broken)
        assert check_signature(broken) is not None


def test_slow_path_cases_and_reasons() -> None:
    signer = Identity.from_seed("edge")
    # NaN is hashed as null by the signer; json keeps NaN, so only the reference path accepts
    signed = sign_message({"X": float("nan")}, signer)
    parsed = json.loads(json.dumps(signed))
    assert not verify_fast(parsed) and check_signature(parsed) is None
    unsigned = {"EE_SENDER": signer.address, "X": 1}
    error = check_signature(unsigned)
    assert error is not None and error.reason == "missing_signature"
    error = check_signature({"X": 1})
    assert error is not None and error.reason == "missing_sender"
    impostor = dict(_parsed(sign_message({"X": 1}, Identity.from_seed("other"))))
    impostor["EE_SENDER"] = signer.address
    error = check_signature(impostor)
    assert error is not None and error.reason in ("invalid_signature", "corrupted_digest")
    garbage = dict(_parsed(sign_message({"X": 1}, signer)))
    garbage["EE_SENDER"] = "0xai_notakey"
    error = check_signature(garbage)
    assert error is not None and error.reason == "bad_sender"
    # a lone surrogate cannot be canonicalised: reported, not raised
    # (the reference verifier raises CanonicalizationError here instead of SignatureError)
    surrogate = _parsed(sign_message({"X": 1}, signer))
    surrogate["X"] = json.loads('"\\ud800"')
    error = check_signature(surrogate)
    assert error is not None and error.reason == "corrupted_digest"
