"""Connection settings and the session identity, resolved without surprises.

Precedence for each broker setting (reference §1.4, minus the official SDK's quirks):

1. the explicit argument;
2. the official SDK's environment variables, in its order (``AIXP_*`` first, ``EE_MQTT_*``
   last);
3. the default.

Unlike the official SDK, nothing is read from ``~/.ratio1/config`` or ``.env`` files, an
explicit ``root_topic=`` beats ``EE_ROOT_TOPIC``, there is no default (production) broker, and
no dAuth request is ever made: give ``host=`` or set ``EE_MQTT_HOST``.

The identity is an :class:`~tether.ratio1.Identity` you pass, or a PEM file at a path you choose
(loaded when it exists, created with mode 0600 otherwise), or — by default — an ephemeral key
that lives only in memory. Nothing is written to the home directory.
"""

from __future__ import annotations

import logging
import os
import ssl
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import attrs

from tether._core.errors import ValidationError
from tether.ratio1._protocol.envelope import DEFAULT_ROOT_TOPIC
from tether.ratio1._protocol.errors import IdentityError
from tether.ratio1._protocol.identity import Identity, load_identity, save_identity

__all__ = [
    "ENV_CERT_PATH",
    "ENV_HOST",
    "ENV_PASSWORD",
    "ENV_PORT",
    "ENV_ROOT_TOPIC",
    "ENV_SDK_ALIAS",
    "ENV_SECURED",
    "ENV_USER",
    "ConnectionSettings",
    "resolve_identity",
    "resolve_settings",
]

logger = logging.getLogger("tether.ratio1")

ENV_HOST: Final = ("AIXP_HOSTNAME", "AIXP_HOST", "EE_HOSTNAME", "EE_HOST", "EE_MQTT_HOST")
ENV_PORT: Final = ("AIXP_PORT", "EE_PORT", "EE_MQTT_PORT")
ENV_USER: Final = ("AIXP_USERNAME", "AIXP_USER", "EE_USERNAME", "EE_USER", "EE_MQTT_USER")
ENV_PASSWORD: Final = (
    "AIXP_PASSWORD",
    "AIXP_PASS",
    "AIXP_PWD",
    "EE_PASSWORD",
    "EE_PASS",
    "EE_PWD",
    "EE_MQTT",
)
ENV_SECURED: Final = ("AIXP_SECURED", "EE_SECURED", "EE_MQTT_SECURED")
ENV_CERT_PATH: Final = ("AIXP_CERT_PATH", "EE_CERT_PATH")
ENV_ROOT_TOPIC: Final = ("EE_ROOT_TOPIC",)
ENV_SDK_ALIAS: Final = ("EE_SDK_ALIAS",)
ENV_HEARTBEAT_QOS: Final = ("EE_MQTT_HEARTBEAT_QOS", "MQTT_HEARTBEAT_QOS")
ENV_COMMAND_QOS: Final = ("EE_MQTT_COMMAND_QOS", "MQTT_COMMAND_QOS")
ENV_DISABLE_ADDRESSED: Final = ("EE_DISABLE_ADDRESSED_PAYLOAD_SUBS",)


@attrs.frozen(kw_only=True)
class ConnectionSettings:
    """Where the session's broker is and how to talk to it. The password is never shown.

    Attributes:
        host: the broker.
        port: the broker.
        user: MQTT credentials (``None``: anonymous).
        password: MQTT credentials (``None``: anonymous).
        secured: TLS on.
        cert_path: CA file for TLS (``None``: the system trust store).
        root_topic: the topic root (``naeural``).
        name: the client alias sent as ``INITIATOR_ID`` / ``SESSION_ID``.
        heartbeat_qos: QoS of the heartbeat subscription and of commands.
        command_qos: QoS of the heartbeat subscription and of commands.
        addressed_payloads: subscribe to ``<root>/<own address>/payloads``.
    """

    host: str
    port: int
    user: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    secured: bool = False
    cert_path: str | None = None
    root_topic: str = DEFAULT_ROOT_TOPIC
    name: str = "tether"
    heartbeat_qos: int = 0
    command_qos: int = 0
    addressed_payloads: bool = True

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context (server certificate and hostname verified), or ``None``."""
        if not self.secured:
            return None
        if self.cert_path is not None:
            return ssl.create_default_context(cafile=self.cert_path)
        return ssl.create_default_context()


def _env(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and value != "":
            return value
    return None


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "1")


def _qos(env: Mapping[str, str], names: tuple[str, ...]) -> int:
    value = _env(env, names)
    if value is None:
        return 0
    try:
        qos = int(value)
    except ValueError:
        raise ValidationError(f"{names[0]} must be 0, 1 or 2, not {value!r}") from None
    if qos not in (0, 1, 2):
        raise ValidationError(f"{names[0]} must be 0, 1 or 2, not {value!r}")
    return qos


def resolve_settings(
    *,
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    pwd: str | None = None,
    secured: bool | None = None,
    cert_path: str | None = None,
    root_topic: str | None = None,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ConnectionSettings:
    """Resolve the broker settings: arguments, then the official environment variables.

    Raises:
        ValidationError: no host anywhere, a bad port, a missing CA file, an empty name.

    Example::

        resolve_settings(env={"EE_MQTT_HOST": "127.0.0.1", "EE_MQTT_PORT": "1883"})
    """
    source = os.environ if env is None else env
    resolved_host = host if host is not None else _env(source, ENV_HOST)
    if not resolved_host:
        raise ValidationError(
            "no MQTT broker: pass host= (and port=, user=, pwd=) or set EE_MQTT_HOST; tether "
            "never falls back to a production broker and never calls dAuth"
        )
    use_tls = secured
    if use_tls is None:
        flag = _env(source, ENV_SECURED)
        use_tls = _truthy(flag) if flag is not None else False
    resolved_port: int
    if port is not None:
        resolved_port = port
    else:
        text = _env(source, ENV_PORT)
        if text is None:
            resolved_port = 8883 if use_tls else 1883
        else:
            try:
                resolved_port = int(text)
            except ValueError:
                raise ValidationError(f"EE_MQTT_PORT must be a number, not {text!r}") from None
    if isinstance(resolved_port, bool) or not 0 < resolved_port < 65536:
        raise ValidationError(f"port must be between 1 and 65535, not {resolved_port!r}")
    ca = cert_path if cert_path is not None else _env(source, ENV_CERT_PATH)
    if use_tls and ca is not None and not Path(ca).is_file():
        raise ValidationError(f"the CA file {ca!r} does not exist")
    topic = root_topic if root_topic is not None else _env(source, ENV_ROOT_TOPIC)
    topic = topic or DEFAULT_ROOT_TOPIC
    if "+" in topic or "#" in topic or topic.startswith("/") or topic.endswith("/"):
        raise ValidationError(f"invalid root topic {topic!r}")
    alias = name if name is not None else _env(source, ENV_SDK_ALIAS)
    if alias is None:
        alias = f"tether-{uuid.uuid4().hex[:8]}"
    if not isinstance(alias, str) or not alias.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValidationError("name must be a non-empty string")
    disable = _env(source, ENV_DISABLE_ADDRESSED)
    return ConnectionSettings(
        host=resolved_host,
        port=resolved_port,
        user=user if user is not None else _env(source, ENV_USER),
        password=pwd if pwd is not None else _env(source, ENV_PASSWORD),
        secured=use_tls,
        cert_path=ca,
        root_topic=topic,
        name=alias,
        heartbeat_qos=_qos(source, ENV_HEARTBEAT_QOS),
        command_qos=_qos(source, ENV_COMMAND_QOS),
        addressed_payloads=not (
            disable is not None and disable.strip().lower() in ("1", "true", "yes")
        ),
    )


def resolve_identity(
    identity: Identity | None = None,
    pem_path: str | os.PathLike[str] | None = None,
    pem_password: str | None = None,
) -> Identity:
    """The session key: *identity*, else the PEM at *pem_path* (created if missing), else a
    fresh in-memory key.

    Raises:
        ValidationError: both given, or the PEM cannot be read or written.
    """
    if identity is not None and pem_path is not None:
        raise ValidationError("give identity= or pem_path=, not both")
    if identity is not None:
        if not isinstance(identity, Identity):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValidationError(f"identity must be an Identity, not {type(identity).__name__}")
        return identity
    if pem_path is None:
        return Identity.generate()
    path = Path(pem_path)
    try:
        if path.exists():
            return load_identity(path, pem_password)
        created = Identity.generate()
        save_identity(created, path, password=pem_password)
    except IdentityError as exc:
        raise ValidationError(str(exc)) from None
    logger.info("created a new Ratio1 identity %s in %s", created.address, path)
    return created
