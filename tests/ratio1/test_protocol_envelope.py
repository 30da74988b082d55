"""Topic table, envelope builders and openers for every message kind (§2, §3)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tether.ratio1._protocol.compression import ENCODED_DATA
from tether.ratio1._protocol.constants import NOTIFICATION_CODES
from tether.ratio1._protocol.envelope import (
    ENCRYPTED_CLEAR_FIELDS,
    TOPIC_TABLE,
    Channel,
    MessageKind,
    NodeInfo,
    PayloadPath,
    PipelineMeta,
    TopicMatch,
    Topics,
    build_command,
    build_heartbeat,
    build_net_config_request,
    build_netmon,
    build_notification,
    build_payload,
    build_set_config,
    format_timestamp,
    heartbeat_status,
    netmon_entry,
    node_envelope,
    open_command,
    open_message,
    parse_json,
)
from tether.ratio1._protocol.errors import AddressError, DecryptionError, EnvelopeError
from tether.ratio1._protocol.identity import Identity
from tether.ratio1._protocol.signing import sign_message

CLIENT = Identity.from_seed("tests/envelope/client")
NODE = Identity.from_seed("tests/envelope/node")
INFO = NodeInfo(identity=NODE, alias="node-01")
META = PipelineMeta(
    session_id="sdk",
    initiator_id="sdk",
    initiator_addr=CLIENT.address,
    modified_by_id="sdk",
    modified_by_addr=CLIENT.address,
)
MOMENT = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)


def wire(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


# --- topics -----------------------------------------------------------------------------------


def test_topic_names() -> None:
    t = Topics()
    assert (t.ctrl, t.notif, t.payloads) == ("naeural/ctrl", "naeural/notif", "naeural/payloads")
    assert t.ctrl_for("A") == "naeural/ctrl/A"
    assert t.payloads_for("A") == "naeural/A/payloads"
    assert t.config_for("A") == "naeural/A/config"
    assert Topics("custom").ctrl == "custom/ctrl"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("naeural/ctrl", TopicMatch(Channel.CTRL)),
        ("naeural/notif", TopicMatch(Channel.NOTIF)),
        ("naeural/payloads", TopicMatch(Channel.PAYLOADS)),
        ("naeural/ctrl/0xai_A", TopicMatch(Channel.CTRL_TARGETED, "0xai_A")),
        ("naeural/0xai_A/payloads", TopicMatch(Channel.ADDRESSED_PAYLOADS, "0xai_A")),
        ("naeural/node-01/config", TopicMatch(Channel.CONFIG, "node-01")),
        ("naeural/x/y/z", None),
        ("other/ctrl", None),
        ("naeural//config", None),
    ],
)
def test_topic_match(topic: str, expected: TopicMatch | None) -> None:
    assert Topics().match(topic) == expected


def test_every_kind_has_a_route_and_a_topic() -> None:
    t = Topics()
    assert set(TOPIC_TABLE) == set(MessageKind)
    for kind, route in TOPIC_TABLE.items():
        topic = t.for_kind(kind, "0xai_X")
        found = t.match(topic)
        assert found is not None
        assert found.channel in (route.channel, Channel.ADDRESSED_PAYLOADS)
    assert t.for_kind(MessageKind.PAYLOAD) == "naeural/payloads"
    with pytest.raises(EnvelopeError, match="receiver address"):
        t.for_kind(MessageKind.COMMAND)


# --- node envelope ----------------------------------------------------------------------------


def test_node_envelope_fields() -> None:
    message = node_envelope(
        INFO,
        {"VALUE": 2},
        event_type="PAYLOAD",
        path=PayloadPath(None, "pipe", "SIG_01", "i1"),
        meta=META,
        seq=7,
        now=MOMENT,
        message_id="id-1",
    )
    assert message["EE_TIMESTAMP"] == "2026-01-02 03:04:05.123456"
    assert (message["EE_TIMEZONE"], message["EE_TZ"]) == ("UTC+0", "UTC")
    assert message["EE_MESSAGE_SEQ"] == message["EE_TOTAL_MESSAGES"] == 7
    assert message["EE_PAYLOAD_PATH"] == ["node-01", "pipe", "SIG_01", "i1"]
    assert message["EE_ADDR"] == NODE.address
    assert message["INITIATOR_ADDR"] == CLIENT.address
    assert message["EE_IS_ENCRYPTED"] is False
    assert list(message)[:10] == [
        "EE_TIMESTAMP", "EE_TIMEZONE", "EE_TZ", "EE_MESSAGE_SEQ", "EE_MESSAGE_ID",
        "EE_TOTAL_MESSAGES", "EE_ADDR", "EE_ID", "EE_EVENT_TYPE", "EE_VERSION",
    ]  # fmt: skip


def test_timezone_labels() -> None:
    plus = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    minus = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    assert (
        node_envelope(INFO, {}, event_type="X", path=PayloadPath(), now=plus)["EE_TIMEZONE"]
        == "UTC+5:30"
    )
    assert (
        node_envelope(INFO, {}, event_type="X", path=PayloadPath(), now=minus)["EE_TIMEZONE"]
        == "UTC-3"
    )
    assert len(format_timestamp()) == 26


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_heartbeat(version: str) -> None:
    status = heartbeat_status(INFO, whitelist=[CLIENT.address], secured=True, is_supervisor=True)
    message = build_heartbeat(INFO, status, version=version, now=MOMENT)
    assert message["EE_EVENT_TYPE"] == "HEARTBEAT"
    assert message["HEARTBEAT_VERSION"] == version
    assert (ENCODED_DATA in message) is (version == "v2")
    opened = open_message(wire(message), topic="naeural/ctrl")
    assert opened.kind is MessageKind.HEARTBEAT
    assert opened.verified
    assert opened.data["EE_WHITELIST"] == [CLIENT.address]
    assert opened.data["EE_IS_SUPER"] is True
    assert opened.data["EE_ADDR"] == NODE.address
    assert opened.path == PayloadPath("node-01")
    with pytest.raises(EnvelopeError):
        build_heartbeat(INFO, status, version="v3")


def test_heartbeat_without_topic_is_recognised_by_event_type() -> None:
    message = build_heartbeat(INFO, heartbeat_status(INFO))
    assert open_message(message).kind is MessageKind.HEARTBEAT


@pytest.mark.parametrize("compress", [False, True])
def test_net_summary(compress: bool) -> None:
    network = {"node-01": netmon_entry(NODE.address, "node-01", eth_address=NODE.eth_address)}
    message = build_netmon(INFO, network, compress=compress)
    assert ("CURRENT_NETWORK" in message) is not compress
    opened = open_message(wire(message), topic="naeural/payloads")
    assert opened.kind is MessageKind.NET_MON
    assert opened.verified
    entry = opened.data["CURRENT_NETWORK"]["node-01"]
    assert entry["working"] == "ONLINE"
    assert entry["address"] == NODE.address
    assert opened.path.to_list() == ["node-01", "admin_pipeline", "NET_MON_01", "NET_MON_01_INST"]
    assert netmon_entry(NODE.address, "x", online=False)["working"] != "ONLINE"


def test_notification() -> None:
    message = build_notification(
        INFO,
        code=NOTIFICATION_CODES.PLUGIN_CONFIG_OK,
        text="ok " * 200,
        path=PayloadPath(None, "pipe", "SIG", "i1"),
        meta=META,
    )
    assert message["NOTIFICATION_TAG"] == "PLUGIN_CONFIG_OK"
    assert message["NOTIFICATION_TYPE"] == "NORMAL"
    assert len(message["NOTIFICATION"]) == 255
    opened = open_message(wire(message), topic="naeural/notif")
    assert opened.kind is MessageKind.NOTIFICATION
    assert opened.notification_code == 100
    failed = build_notification(INFO, code=-1, text="no", path=PayloadPath(), info="why")
    assert failed["NOTIFICATION_TYPE"] == "EXCEPTION"
    assert failed["INFO"] == "why"
    string_code = dict(message, NOTIFICATION_CODE="100")
    assert open_message(string_code, verify=False).notification_code is None


def test_plain_payload() -> None:
    message = build_payload(INFO, {"VALUE": 1.5}, path=PayloadPath(None, "p", "S", "i"), meta=META)
    opened = open_message(wire(message), identity=CLIENT, topic="naeural/payloads")
    assert opened.kind is MessageKind.PAYLOAD
    assert opened.verified and not opened.encrypted
    assert opened.data["VALUE"] == 1.5
    assert opened.data["SESSION_ID"] == "sdk"


def test_encrypted_payload_to_us_and_to_someone_else() -> None:
    message = build_payload(
        INFO, {"SECRET": 42}, path=PayloadPath(None, "p", "S", "i"), meta=META,
        encrypt_to=CLIENT.address,
    )  # fmt: skip
    assert "SECRET" not in message and "EE_ID" not in message
    assert set(message) - {"EE_ENCRYPTED_DATA", "EE_SIGN", "EE_SENDER", "EE_HASH",
                           "EE_ETH_SENDER", "EE_ETH_SIGN", "SIGN_CANON_V"} <= set(
        ENCRYPTED_CLEAR_FIELDS
    )  # fmt: skip
    topic = Topics().payloads_for(CLIENT.address)
    mine = open_message(wire(message), identity=CLIENT, topic=topic)
    assert mine.verified and mine.encrypted and mine.decrypted
    assert mine.data["SECRET"] == 42
    assert mine.data["EE_ID"] == "node-01"
    assert "EE_ENCRYPTED_DATA" not in mine.data
    other = open_message(wire(message), identity=NODE, topic=topic)
    assert other.encrypted and not other.decrypted and other.decryption_error is None
    assert "SECRET" not in other.data
    assert other.path.node == "node-01"


def test_encrypted_payload_that_does_not_decrypt_is_reported() -> None:
    message = build_payload(
        INFO, {"X": 1}, path=PayloadPath(None, "p", "S", "i"), encrypt_to=CLIENT.address
    )
    message["EE_ENCRYPTED_DATA"] = message["EE_ENCRYPTED_DATA"][:-8] + "AAAAAAA="
    opened = open_message(message, identity=CLIENT)
    assert not opened.decrypted
    assert isinstance(opened.decryption_error, DecryptionError)
    assert (
        opened.signature_error is not None and opened.signature_error.reason == "corrupted_digest"
    )


def test_set_config_single_and_multi() -> None:
    pipelines = [{"NAME": "p", "TYPE": "Void", "PLUGINS": []}]
    for dest in (CLIENT.address, [CLIENT.address]):
        message = build_set_config(INFO, dest, pipelines=pipelines, plugin_statuses=[])
        opened = open_message(wire(message), identity=CLIENT, topic="naeural/x/payloads")
        assert opened.kind is MessageKind.NET_CONFIG_REPLY
        assert opened.decrypted and opened.verified
        assert opened.data["NET_CONFIG_DATA"]["OP"] == "SET_CONFIG"
        assert opened.data["NET_CONFIG_DATA"]["PIPELINES"] == pipelines
        assert opened.data["EE_DEST"] == dest


def test_net_config_request() -> None:
    message = build_net_config_request(CLIENT, [NODE.address], session_id="sdk")
    assert message["EE_PAYLOAD_PATH"] == [
        CLIENT.address,
        "admin_pipeline",
        "NET_CONFIG_MONITOR",
        None,
    ]
    assert message["EE_ID"] is None and message["EE_DEST"] == [NODE.address]
    topic = Topics().payloads_for(NODE.address)
    at_node = open_message(wire(message), identity=NODE, topic=topic)
    assert at_node.kind is MessageKind.NET_CONFIG_REQUEST
    assert at_node.decrypted and at_node.verified
    assert at_node.data["NET_CONFIG_DATA"] == {"OP": "GET_CONFIG", "DEST": [NODE.address]}
    seen_by_other = open_message(wire(message), identity=CLIENT, topic=topic)
    assert seen_by_other.kind is MessageKind.NET_CONFIG_REQUEST
    assert not seen_by_other.decrypted


@pytest.mark.parametrize("encrypt", [True, False])
def test_command_round_trip(encrypt: bool) -> None:
    payload = {"NAME": "p", "PLUGINS": [{"SIGNATURE": "S", "INSTANCES": [{"INSTANCE_ID": "i"}]}]}
    message = build_command(
        CLIENT, NODE.address, "update_config", payload, session_id="sdk", encrypt=encrypt
    )
    assert message["EE_IS_ENCRYPTED"] is encrypt
    assert ("PAYLOAD" in message) is not encrypt
    assert "EE_PAYLOAD_PATH" not in message and "EE_TIMESTAMP" not in message
    command = open_command(wire(message), NODE, aliases=["node-01"])
    assert command.action == "UPDATE_CONFIG"
    assert command.payload == payload
    assert command.sender == CLIENT.address
    assert (command.session_id, command.initiator_id) == ("sdk", "sdk")
    assert command.verified and command.encrypted is encrypt
    opened = open_message(wire(message), topic=Topics().config_for(NODE.address))
    assert opened.kind is MessageKind.COMMAND


def test_command_addressed_by_alias_or_eth_address() -> None:
    for target in ("node-01", NODE.eth_address):
        message = build_command(
            CLIENT, NODE.address, "STOP", None, session_id="s", destination_id=target
        )
        assert open_command(message, NODE, aliases=["node-01"]).action == "STOP"


def test_command_for_another_node_is_refused() -> None:
    other = Identity.from_seed("tests/envelope/other")
    message = build_command(CLIENT, other.address, "STOP", None, session_id="s")
    with pytest.raises(EnvelopeError, match="targets"):
        open_command(message, NODE)


def test_badly_signed_command_is_reported_not_raised() -> None:
    message = build_command(CLIENT, NODE.address, "STOP", None, session_id="s", encrypt=False)
    forged = sign_message(message, Identity.from_seed("tests/envelope/forger"))
    forged["EE_SENDER"] = CLIENT.address
    command = open_command(forged, NODE)
    assert not command.verified
    assert command.signature_error is not None
    assert command.signature_error.reason == "invalid_signature"


def test_command_errors() -> None:
    with pytest.raises(AddressError):
        build_command(CLIENT, "node-01", "STOP", None, session_id="s")
    message = build_command(CLIENT, NODE.address, "STOP", None, session_id="s")
    with pytest.raises(DecryptionError):
        open_command(message, Identity.from_seed("tests/x"), aliases=[NODE.address])
    no_action = build_command(CLIENT, NODE.address, "", None, session_id="s", encrypt=False)
    with pytest.raises(EnvelopeError, match="ACTION"):
        open_command(no_action, NODE)
    no_sender = {k: v for k, v in message.items() if k != "EE_SENDER"}
    with pytest.raises(EnvelopeError, match="EE_SENDER"):
        open_command(no_sender, NODE)


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"not json", "not JSON"), (b"[1, 2]", "list"), (b"\xff", "not JSON")],
)
def test_parse_json_errors(raw: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        parse_json(raw)


def test_payload_path_validation() -> None:
    assert PayloadPath.from_message({}) == PayloadPath()
    with pytest.raises(EnvelopeError, match="4 items"):
        PayloadPath.from_message({"EE_PAYLOAD_PATH": ["a", "b"]})
    with pytest.raises(EnvelopeError):
        open_message({"EE_PAYLOAD_PATH": "x"}, verify=False)


def test_unverified_opening_skips_the_signature_check() -> None:
    message = build_payload(INFO, {"X": 1}, path=PayloadPath(), sign=False)
    opened = open_message(message, verify=False)
    assert opened.verification is None and opened.signature_error is None
    checked = open_message(message)
    assert checked.signature_error is not None
    assert checked.signature_error.reason == "missing_sender"
