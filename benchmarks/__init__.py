"""Benchmarks for tether: each module measures one thing against raw clients and official SDKs.

Run them with ``python -m benchmarks [name ...] [--quick]``; results go to
``benchmarks/results/<name>.json``. See ``benchmarks/README.md`` for the module contract.
"""
