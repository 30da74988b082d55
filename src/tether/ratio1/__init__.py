"""Ratio1 edge-node network support (MQTT).

The wire protocol lives in :mod:`tether.ratio1._protocol` (pure functions, no I/O): addresses,
canonical JSON, secp256k1 signatures, encryption, compression and message envelopes. The
public client API is built on top of it.
"""
