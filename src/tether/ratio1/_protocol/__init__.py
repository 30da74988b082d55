"""The Ratio1 wire protocol: pure functions, no I/O.

Modules:

- :mod:`.addresses` — ``0xai_`` addresses ↔ public keys, EVM addresses;
- :mod:`.canon` — canonical JSON (v2, v1, unversioned) and message digests;
- :mod:`.signing` — sign / verify messages (high-S tolerant);
- :mod:`.crypto` — single- and multi-recipient encryption;
- :mod:`.compression` — heartbeat / NET_MON / custom-code codecs;
- :mod:`.envelope` — topic table, message builders and openers;
- :mod:`.identity` — secp256k1 keys, PEM load/save;
- :mod:`.constants` — the official SDK's constant tables;
- :mod:`.errors` — typed errors.
"""
