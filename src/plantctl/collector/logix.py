"""An EtherNet/IP client for Rockwell Logix controllers that can only read tags.

`LogixReader` exposes `read` (tags by name, one multi-service request where they fit) and
nothing else; the pycomm3 driver it wraps is private. The tags' types come from the
configuration (no tag-list upload is needed), and every CIP request the driver would send passes
a check just before it is encoded (`send`): tag reads, identity and attribute reads and
connection housekeeping only; a Write Tag, Read-Modify-Write or Set_Attribute raises
ReadOnlyViolation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from plantctl.collector.readonly import CIP_READ_SERVICES, ReadOnlyViolation

log = logging.getLogger(__name__)

_CONNECTION_MANAGER = 0x06
_CONNECTION_SERVICES = frozenset({0x54, 0x5B, 0x4E})  # Forward Open, Large Forward Open, Close
_ATTRIBUTE_READS = frozenset({0x01, 0x03, 0x0E})  # Get_Attributes_All, _List, _Single


class LogixError(IOError):
    """A read failed (no connection, timeout, error status)."""


def _code(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, bytes | bytearray) and len(value) == 1:
        return value[0]
    return None


def check_request(request: Any) -> None:
    """The wire check for one pycomm3 request packet."""
    from pycomm3.packets import (
        GenericConnectedRequestPacket,
        GenericUnconnectedRequestPacket,
        ListIdentityRequestPacket,
        MultiServiceRequestPacket,
        ReadTagFragmentedRequestPacket,
        ReadTagRequestPacket,
        RegisterSessionRequestPacket,
        UnRegisterSessionRequestPacket,
    )

    kind = type(request)
    if kind in (RegisterSessionRequestPacket, UnRegisterSessionRequestPacket):
        return
    if kind is ListIdentityRequestPacket:
        return
    if kind in (ReadTagRequestPacket, ReadTagFragmentedRequestPacket):
        if _code(request.tag_service) in CIP_READ_SERVICES:
            return
    elif kind is MultiServiceRequestPacket:
        for inner in request.requests:
            check_request(inner)
        return
    elif kind in (GenericConnectedRequestPacket, GenericUnconnectedRequestPacket):
        service = _code(request.service)
        if service in _ATTRIBUTE_READS:
            return
        if _code(request.class_code) == _CONNECTION_MANAGER and service in _CONNECTION_SERVICES:
            return
        raise ReadOnlyViolation(f"CIP service {service!r} is not a read; refusing to send it")
    raise ReadOnlyViolation(
        f"EtherNet/IP request {kind.__name__} is not a read; refusing to send it"
    )


def _tag_definition(name: str, kind: str, array: bool = False) -> dict:
    """A pycomm3 tag definition for an atomic tag of type `kind`, or a one-dimensional array of
    them (instead of a tag-list upload; the controller checks the bounds)."""
    from pycomm3.cip import Array, DataTypes

    element = DataTypes.get(kind)

    return {
        "tag_name": name,
        "dim": 1 if array else 0,
        "dimensions": [65535 if array else 0, 0, 0],
        "alias": False,
        "instance_id": 0,
        "symbol_address": 0,
        "symbol_object_address": 0,
        "software_control": 0,
        "external_access": "Read Only",
        "data_type": kind,
        "data_type_name": kind,
        "tag_type": "atomic",
        "type_class": Array(length_=65535, element_type_=element) if array else element,
    }


def _base(tag: str) -> str:
    return tag.split(".")[0].split("[")[0]


class LogixReader:
    """Reads tags of one Logix controller by name."""

    __slots__ = ("__driver", "host", "port", "types")

    def __init__(self, host: str, port: int, types: dict[str, str], timeout: float = 3.0):
        from pycomm3 import LogixDriver

        self.host = host
        self.port = port
        self.types = dict(types)
        driver = LogixDriver(
            f"{host}:{port}", init_tags=False, init_program_tags=False, init_info=False
        )
        driver.socket_timeout = timeout
        send = driver.send

        def only_reads(request):
            check_request(request)
            return send(request)

        driver.send = only_reads  # type: ignore[method-assign]  # pycomm3: replaced on purpose
        driver._tags = {
            _base(t): _tag_definition(_base(t), k, array="[" in t.split(".")[0])
            for t, k in self.types.items()
        }
        self.__driver = driver

    @property
    def connected(self) -> bool:
        return bool(self.__driver.connected)

    def connect(self) -> None:
        if self.connected:
            return
        try:
            self.__driver.open()
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            raise LogixError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc

    def close(self) -> None:
        try:
            self.__driver.close()
        except Exception as exc:  # the controller may already be gone
            log.debug("close %s: %s", self.host, exc)

    def read(self, tags: Sequence[str]) -> list[Any]:
        """The current values of `tags`, in order."""
        self.connect()
        try:
            results = self.__driver.read(*tags)
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            self.close()
            raise LogixError(f"{self.host}:{self.port}: read failed ({exc})") from exc
        if not isinstance(results, list):
            results = [results]
        bad = [r for r in results if r.error]
        if bad:
            raise LogixError(f"{self.host}:{self.port}: {bad[0].tag}: {bad[0].error}")
        return [r.value for r in results]
