"""secp256k1 identities: generate, derive, load and save keys.

An :class:`Identity` holds one private key and what follows from it: the public key, the
Ratio1 address and the EVM address. Its ``repr`` shows the address only. Nothing here reads or
writes the home directory: :func:`load_identity` / :func:`save_identity` take the path you give.

>>> ident = Identity.from_seed("ratio1-reference-test-key/node/v1")
>>> ident.address
'0xai_AtFWLROJfEcelsRlY3K0oHGyIbqsFcu9GXX_RKjJUjiR'
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import attrs
from coincurve import PrivateKey
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tether.ratio1._protocol.addresses import encode_address, eth_address
from tether.ratio1._protocol.errors import IdentityError

__all__ = ["SECP256K1_ORDER", "Identity", "load_identity", "save_identity"]

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The order ``n`` of the secp256k1 group."""


@attrs.frozen(slots=True, repr=False, eq=False)
class Identity:
    """One secp256k1 key pair and its Ratio1 / EVM addresses. Build it with a class method.

    Attributes:
        public_key: 33-byte compressed SEC1 public key.
        address: ``0xai_…`` address (what goes in ``EE_SENDER``).
        eth_address: EIP-55 EVM address (what goes in ``EE_ETH_SENDER``).
    """

    public_key: bytes
    address: str
    eth_address: str
    _signer: PrivateKey = attrs.field(alias="signer")
    _ec_key: ec.EllipticCurvePrivateKey = attrs.field(alias="ec_key")
    _shared_keys: dict[str, bytes] = attrs.field(alias="shared_keys", factory=dict[str, bytes])

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_secret(cls, secret: bytes | int) -> Identity:
        """Build from a raw 32-byte private scalar (or an int in ``[1, n)``)."""
        if isinstance(secret, int):
            if not 0 < secret < SECP256K1_ORDER:
                raise IdentityError("private scalar out of range [1, n)")
            raw = secret.to_bytes(32, "big")
        else:
            raw = bytes(secret)
            if len(raw) != 32:
                raise IdentityError(f"a private key has 32 bytes, got {len(raw)}")
        try:
            signer = PrivateKey(raw)
        except ValueError:
            raise IdentityError("invalid secp256k1 private key") from None
        ec_key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256K1())
        public_key = signer.public_key.format(compressed=True)
        return cls(
            public_key=public_key,
            address=encode_address(public_key),
            eth_address=eth_address(public_key),
            signer=signer,
            ec_key=ec_key,
        )

    @classmethod
    def generate(cls) -> Identity:
        """Generate a fresh random key."""
        return cls.from_secret(PrivateKey().secret)

    @classmethod
    def from_seed(cls, seed: str | bytes) -> Identity:
        """Derive a deterministic key: ``d = SHA-256(seed) mod n``. For tests and simulators only.

        The reference test keys are made this way.
        """
        data = seed.encode("utf-8") if isinstance(seed, str) else bytes(seed)
        scalar = int.from_bytes(hashlib.sha256(data).digest(), "big") % SECP256K1_ORDER
        if scalar == 0:  # pragma: no cover - probability 2**-256
            raise IdentityError("seed maps to the zero scalar; choose another seed")
        return cls.from_secret(scalar)

    @classmethod
    def from_pem(cls, pem: str | bytes, password: str | None = None) -> Identity:
        """Load a PKCS#8 (or SEC1) PEM private key, as the official SDK stores it."""
        data = pem.encode("ascii") if isinstance(pem, str) else bytes(pem)
        try:
            key = serialization.load_pem_private_key(
                data, password.encode("utf-8") if password is not None else None
            )
        except (ValueError, TypeError) as exc:
            raise IdentityError(f"cannot load PEM private key: {type(exc).__name__}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256K1
        ):
            raise IdentityError("the PEM key is not a secp256k1 EC key")
        return cls.from_secret(key.private_numbers().private_value)

    # -- export ------------------------------------------------------------------------------

    def to_pem(self, password: str | None = None) -> str:
        """Return the key as PKCS#8 PEM, encrypted when *password* is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode("utf-8"))
            if password
            else serialization.NoEncryption()
        )
        return self._ec_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode("ascii")

    # -- internals used by signing / crypto ----------------------------------------------------

    @property
    def signer(self) -> PrivateKey:
        """The coincurve private key (used by :mod:`.signing`)."""
        return self._signer

    @property
    def ec_key(self) -> ec.EllipticCurvePrivateKey:
        """The ``cryptography`` private key (used for ECDH by :mod:`.crypto`)."""
        return self._ec_key

    @property
    def shared_key_cache(self) -> dict[str, bytes]:
        """Derived per-peer AES keys, keyed by peer address (bounded by :mod:`.crypto`)."""
        return self._shared_keys

    def __repr__(self) -> str:
        return f"Identity(address={self.address!r})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Identity) and other.public_key == self.public_key

    def __hash__(self) -> int:
        return hash(self.public_key)


def load_identity(path: str | os.PathLike[str], password: str | None = None) -> Identity:
    """Load a PEM key from *path* (the official SDK's ``_pk.pem`` works)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise IdentityError(f"cannot read key file {os.fspath(path)!r}: {exc.strerror}") from None
    return Identity.from_pem(data, password)


def save_identity(
    identity: Identity,
    path: str | os.PathLike[str],
    *,
    password: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write *identity* as PKCS#8 PEM to *path*, readable by the owner only (mode 0600).

    Refuses to replace an existing file unless ``overwrite=True``. Returns the path.
    """
    target = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        raise IdentityError(f"key file {os.fspath(target)!r} exists; pass overwrite=True") from None
    except OSError as exc:
        where = os.fspath(target)
        raise IdentityError(f"cannot write key file {where!r}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(identity.to_pem(password))
    os.chmod(target, 0o600)
    return target
