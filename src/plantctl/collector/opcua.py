"""An OPC UA client that can only read and subscribe.

`OpcUaReader` exposes `read` (one Read service call for many nodes) and `subscribe` (data-change
notifications); the asyncua client it wraps is private. Every service request the client would
send passes an allowlist check (readonly.OPCUA_ALLOWED_SERVICES) just before it is encoded, so
no Write, Call or HistoryUpdate can leave the gateway even through the library's own node API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from plantctl.collector.readonly import OPCUA_ALLOWED_SERVICES, ReadOnlyViolation

log = logging.getLogger(__name__)


class OpcUaError(IOError):
    """A read or subscription failed (no connection, timeout, bad status)."""


def service_name(request: Any) -> str:
    return type(request).__name__.removesuffix("Request")


def _guard(send):
    async def only_reads(request, *args, **kwargs):
        name = service_name(request)
        if name not in OPCUA_ALLOWED_SERVICES:
            raise ReadOnlyViolation(f"OPC UA service {name} is not a read; refusing to send it")
        return await send(request, *args, **kwargs)

    return only_reads


class _Handler:
    def __init__(self, callback: Callable[[str, Any, float | None], None], names: dict):
        self._callback = callback
        self._names = names

    def datachange_notification(self, node, val, data) -> None:
        stamp = data.monitored_item.Value.SourceTimestamp
        ts = stamp.timestamp() if stamp is not None else None
        self._callback(self._names.get(node.nodeid.to_string(), ""), val, ts)

    def status_change_notification(self, status) -> None:
        log.warning("OPC UA subscription status changed: %s", status)


class OpcUaReader:
    """Reads and subscribes to variables of one OPC UA server."""

    __slots__ = ("__client", "__subscriptions", "url")

    def __init__(self, url: str, timeout: float = 4.0):
        from asyncua import Client

        self.url = url
        self.__client = Client(url, timeout=timeout)
        # The wire check: every service request goes through UaClient._send_request (wrapped:
        # asyncua's types do not foresee a method replaced on an instance).
        uaclient = self.__client.uaclient
        uaclient._send_request = _guard(uaclient._send_request)  # type: ignore[method-assign]
        self.__subscriptions: list = []

    async def connect(self) -> None:
        try:
            await self.__client.connect()
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            raise OpcUaError(f"cannot connect to {self.url}: {exc}") from exc

    async def close(self) -> None:
        self.__subscriptions.clear()
        try:
            await self.__client.disconnect()
        except Exception as exc:  # the server may already be gone
            log.debug("disconnect from %s: %s", self.url, exc)

    @property
    def connected(self) -> bool:
        return getattr(self.__client.state, "name", "") == "CONNECTED"

    async def read(self, node_ids: Sequence[str]) -> list[Any]:
        """Current values of `node_ids`, one Read service call."""
        nodes = [self.__client.get_node(n) for n in node_ids]
        try:
            return await self.__client.read_values(nodes)
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            raise OpcUaError(f"{self.url}: read failed ({exc})") from exc

    async def subscribe(
        self,
        node_ids: Sequence[str],
        interval_s: float,
        callback: Callable[[str, Any, float | None], None],
    ) -> None:
        """Data-change notifications for `node_ids`, sampled and published every
        `interval_s`; callback(node_id, value, source_timestamp)."""
        names = {self.__client.get_node(n).nodeid.to_string(): n for n in node_ids}
        try:
            sub = await self.__client.create_subscription(
                interval_s * 1000, _Handler(callback, names)
            )
            # asyncua types sampling_interval as ua.Duration (a float subclass) yet defaults it
            # to a plain float: its overloads refuse the float they are meant to take.
            await sub.subscribe_data_change(  # type: ignore[call-overload]
                [self.__client.get_node(n) for n in node_ids], sampling_interval=interval_s * 1000
            )
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            raise OpcUaError(f"{self.url}: subscribe failed ({exc})") from exc
        self.__subscriptions.append(sub)
