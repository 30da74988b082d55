"""Typed errors of the Ratio1 wire protocol.

Every error derives from :class:`ProtocolError`, itself a :class:`tether.TetherError`. Messages
name the offending field and never include key material.
"""

from __future__ import annotations

from tether._core.errors import TetherError

__all__ = [
    "AddressError",
    "CanonicalizationError",
    "CompressionError",
    "DecryptionError",
    "EncryptionError",
    "EnvelopeError",
    "IdentityError",
    "ProtocolError",
    "SignatureError",
    "UnknownCanonVersionError",
]


class ProtocolError(TetherError):
    """Root of every Ratio1 wire-protocol error."""


class AddressError(ProtocolError, ValueError):
    """A string is not a valid Ratio1 address (``0xai_`` + a secp256k1 public key)."""


class CanonicalizationError(ProtocolError, ValueError):
    """A message cannot be turned into canonical JSON (unsupported type, lone surrogate, ...)."""


class SignatureError(ProtocolError):
    """A message signature is missing, malformed or does not verify.

    ``reason`` is a short machine-friendly tag: ``missing_sender``, ``missing_signature``,
    ``bad_sender``, ``bad_signature_encoding``, ``unknown_canon_version``, ``corrupted_digest``
    or ``invalid_signature``.
    """

    def __init__(self, message: str, *, reason: str, sender: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.sender = sender


class UnknownCanonVersionError(SignatureError):
    """``SIGN_CANON_V`` holds a value no verifier accepts (only ``v1``, ``v2`` or absent)."""


class EncryptionError(ProtocolError):
    """A message cannot be encrypted (bad receiver address, empty receiver list)."""


class DecryptionError(ProtocolError):
    """``EE_ENCRYPTED_DATA`` cannot be decrypted (wrong key, not for us, corrupted)."""


class CompressionError(ProtocolError, ValueError):
    """A compressed field (``ENCODED_DATA``, ``CODE``) cannot be decoded."""


class EnvelopeError(ProtocolError, ValueError):
    """A message is not a well-formed Ratio1 envelope (not a JSON object, bad path, ...)."""


class IdentityError(ProtocolError):
    """A private key cannot be generated, loaded or saved."""
