"""A Siemens S7 client that can only read.

`S7Reader` exposes `read_area` (one area, one byte range) and nothing else; the python-snap7
client it wraps is private, and every S7 PDU it would send passes a check on the wire (the
client's `_send_data`, through which every request goes) that raises ReadOnlyViolation for any
job function other than setup communication and read var, and for every user-data request.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

from plantctl.collector.readonly import S7_READ_FUNCTIONS, ReadOnlyViolation

log = logging.getLogger(__name__)

_S7_HEADER = 10  # protocol id, ROSCTR, reserved, PDU ref, param length, data length
_JOB = 0x01


class S7Error(IOError):
    """A read failed (no connection, timeout, error response)."""


def check_pdu(pdu: bytes) -> None:
    """The wire check: `pdu` is an S7 job asking to set up communication or to read."""
    pdu = bytes(pdu)
    if len(pdu) < _S7_HEADER + 1 or pdu[0] != 0x32:
        raise ReadOnlyViolation("not an S7 PDU; refusing to send it")
    if pdu[1] != _JOB:
        raise ReadOnlyViolation(f"S7 PDU type {pdu[1]:#04x} is not a read job; refusing to send it")
    function = pdu[_S7_HEADER]
    if function not in S7_READ_FUNCTIONS:
        raise ReadOnlyViolation(f"S7 function {function:#04x} is not a read; refusing to send it")


def _guard(send):
    def only_reads(conn, request: bytes) -> None:
        check_pdu(request)
        return send(conn, request)

    return only_reads


def decode(kind: str, raw: bytes, bit: int = 0) -> Any:
    """A value of S7 type `kind` from its big-endian bytes."""
    if kind == "bool":
        return bool(raw[0] >> bit & 1)
    if kind == "char":
        return raw[:1].decode("latin-1")
    fmt = {
        "byte": ">B", "word": ">H", "uint": ">H", "int": ">h",
        "dword": ">I", "udint": ">I", "dint": ">i", "real": ">f", "lreal": ">d",
    }[kind]  # fmt: skip
    value = struct.unpack(fmt, bytes(raw))[0]
    return round(value, 6) if kind in ("real", "lreal") else value


class S7Reader:
    """Reads data blocks, inputs, outputs and markers of one S7 CPU."""

    __slots__ = ("__client", "host", "port", "rack", "slot")

    def __init__(self, host: str, port: int, rack: int = 0, slot: int = 1):
        import snap7

        self.host = host
        self.port = port
        self.rack = rack
        self.slot = slot
        self.__client = snap7.Client()
        # Wrapped on the instance (snap7's types do not foresee a method replaced).
        self.__client._send_data = _guard(self.__client._send_data)  # type: ignore[method-assign]

    @property
    def connected(self) -> bool:
        return bool(self.__client.get_connected())

    def connect(self) -> None:
        if self.connected:
            return
        try:
            self.__client.connect(self.host, self.rack, self.slot, tcp_port=self.port)
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            raise S7Error(f"cannot connect to {self.host}:{self.port}: {exc}") from exc

    def close(self) -> None:
        try:
            self.__client.disconnect()
        except Exception as exc:  # the CPU may already be gone
            log.debug("disconnect from %s: %s", self.host, exc)

    def read_area(self, area: str, db: int, offset: int, size: int) -> bytes:
        """`size` bytes at `offset` of area db (number `db`), inputs, outputs or markers."""
        from snap7.type import Area

        code = {"db": Area.DB, "inputs": Area.PE, "outputs": Area.PA, "markers": Area.MK}[area]
        self.connect()
        try:
            return bytes(self.__client.read_area(code, db if area == "db" else 0, offset, size))
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            self.close()
            raise S7Error(f"{self.host}:{self.port} {area} {db}.{offset}: {exc}") from exc
