"""Who is online: the last-seen table, aliases, peering and network summaries (§8, §9).

A node is online while its last-seen time is younger than the online window (60 s by default,
as in the official SDK). Last-seen is refreshed only by the node's heartbeats and by NET_MON_01
entries listing it as ``ONLINE``; payloads and notifications do not count. Waiters are woken by
every change (push), never by polling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

from tether.ratio1._jsonutil import as_list
from tether.ratio1._protocol.addresses import (
    ADDRESS_PREFIX,
    LEGACY_ADDRESS_PREFIX,
    normalize_address,
)
from tether.ratio1._protocol.errors import AddressError

__all__ = ["DEFAULT_ONLINE_TIMEOUT", "Presence", "canonical_address"]

DEFAULT_ONLINE_TIMEOUT: Final = 60.0
_ETH_LENGTH: Final = 42


def canonical_address(address: str) -> str | None:
    """*address* in its canonical ``0xai_`` form, or ``None`` when it is not an address."""
    if address.startswith(ADDRESS_PREFIX) and len(address) == 49:
        return address  # the common case: already canonical (decoded once, when verified)
    try:
        return normalize_address(address)
    except AddressError:
        return None


def looks_like_address(node: str) -> bool:
    """Whether *node* claims to be a Ratio1 address (by its prefix)."""
    return node.startswith((ADDRESS_PREFIX, LEGACY_ADDRESS_PREFIX))


def looks_like_eth(node: str) -> bool:
    """Whether *node* looks like an EVM address (``0x`` + 40 hex digits)."""
    if len(node) != _ETH_LENGTH or not node.startswith("0x"):
        return False
    try:
        int(node[2:], 16)
    except ValueError:
        return False
    return True


class Presence:
    """The session's view of the network. All reads are synchronous and cheap."""

    def __init__(
        self,
        *,
        own_address: str,
        online_timeout: float = DEFAULT_ONLINE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.own_address = own_address
        self.online_timeout = online_timeout
        self._clock = clock
        self.last_seen: dict[str, float] = {}
        self.alias_of: dict[str, str] = {}
        self.address_of_alias: dict[str, str] = {}
        self.address_of_eth: dict[str, str] = {}
        self.eth_of: dict[str, str] = {}
        self.can_send: dict[str, bool] = {}
        self.whitelist: dict[str, list[str]] = {}
        self.heartbeat_supervisors: set[str] = set()
        self.last_heartbeat: dict[str, dict[str, Any]] = {}
        self.network: dict[str, dict[str, dict[str, Any]]] = {}
        """NET_MON_01 ``CURRENT_NETWORK`` by reporting supervisor."""
        self._waiters: list[asyncio.Future[None]] = []

    # -- updates -----------------------------------------------------------------------------

    def _seen(self, address: str, alias: str | None, eth: str | None) -> None:
        self.last_seen[address] = self._clock()
        if alias:
            self.alias_of[address] = alias
            self.address_of_alias[alias] = address  # last writer wins, like the official SDK
        if eth:
            self.address_of_eth[eth] = address
            self.eth_of[address] = eth

    def _peering(self, address: str, whitelist: object, secured: object) -> None:
        allowed = [str(a) for a in as_list(whitelist)]
        if allowed:
            self.whitelist[address] = allowed
        mine = self.own_address in allowed or any(
            canonical_address(a) == self.own_address for a in allowed if a != self.own_address
        )
        self.can_send[address] = not secured or mine or address == self.own_address

    def heartbeat(self, address: str, data: Mapping[str, Any]) -> None:
        """Record a heartbeat (already verified and decoded)."""
        alias = data.get("EE_ID")
        eth = data.get("EE_ETH_SENDER")
        self._seen(address, str(alias) if alias else None, eth if isinstance(eth, str) else None)
        self._peering(address, data.get("EE_WHITELIST"), data.get("SECURED"))
        if data.get("EE_IS_SUPER"):
            self.heartbeat_supervisors.add(address)
        else:
            self.heartbeat_supervisors.discard(address)
        self.last_heartbeat[address] = dict(data)
        self.wake()

    def net_summary(self, reporter: str, network: Mapping[str, Any]) -> list[str]:
        """Record a NET_MON_01 ``CURRENT_NETWORK``; return the addresses listed online."""
        entries: dict[str, dict[str, Any]] = {}
        online: list[str] = []
        whitelist_map = network.get("WHITELIST_MAP") if "WHITELIST_MAP" in network else None
        for key, raw in network.items():
            if not isinstance(raw, dict):
                continue
            entry = dict(cast("dict[str, Any]", raw))
            entries[str(key)] = entry
            address_value = entry.get("address")
            if not isinstance(address_value, str):
                continue
            address = canonical_address(address_value)
            if address is None:
                continue
            whitelist: object = entry.get("whitelist")
            items = as_list(whitelist)
            if isinstance(whitelist_map, dict) and items:
                reverse = {v: k for k, v in cast("dict[str, Any]", whitelist_map).items()}
                whitelist = [reverse.get(i, i) for i in items]
            if entry.get("working") == "ONLINE":
                alias = entry.get("eeid")
                eth = entry.get("eth_address")
                self._seen(
                    address, str(alias) if alias else None, eth if isinstance(eth, str) else None
                )
                online.append(address)
            self._peering(address, whitelist, entry.get("secured"))
        self.network[reporter] = entries
        self.wake()
        return online

    # -- reads -------------------------------------------------------------------------------

    def is_online(self, address: str) -> bool:
        """Seen within the online window."""
        seen = self.last_seen.get(address)
        return seen is not None and self._clock() - seen < self.online_timeout

    def active(self) -> list[str]:
        """Addresses of every node online now."""
        now = self._clock()
        limit = self.online_timeout
        return [a for a, seen in self.last_seen.items() if now - seen < limit]

    def supervisors(self) -> list[str]:
        """Online nodes flagged as supervisors by their heartbeat or by a network summary."""
        flagged = set(self.heartbeat_supervisors)
        for entries in self.network.values():
            for entry in entries.values():
                address = entry.get("address")
                if entry.get("is_supervisor") and isinstance(address, str):
                    canonical = canonical_address(address)
                    if canonical is not None:
                        flagged.add(canonical)
        return [a for a in self.active() if a in flagged]

    def resolve(self, node: str) -> str | None:
        """The address of *node* (an address, an ETH address or an alias), or ``None``."""
        if looks_like_address(node):
            return canonical_address(node)
        if looks_like_eth(node):
            return self.address_of_eth.get(node)
        return self.address_of_alias.get(node)

    def seconds_since_seen(self, address: str) -> float | None:
        """Seconds since the node was last seen, or ``None``."""
        seen = self.last_seen.get(address)
        return None if seen is None else self._clock() - seen

    # -- waiting -----------------------------------------------------------------------------

    def wake(self) -> None:
        """Wake every :meth:`wait_until` (something changed)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until *condition()* holds (checked on every change) or *timeout*; return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            if condition():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                return condition()
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def known(self) -> Iterable[str]:
        """Every address ever seen."""
        return self.last_seen.keys()
