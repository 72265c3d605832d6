"""A Modbus TCP client that can only read.

`ModbusReader` exposes the four read functions and nothing else; the pymodbus client it wraps is
private, and every request it would send passes a check on the wire (trace hook) that raises
ReadOnlyViolation for any function code other than 1-4.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from plantctl.collector.readonly import MODBUS_READ_FUNCTIONS, ReadOnlyViolation

log = logging.getLogger(__name__)


class ModbusError(IOError):
    """A read failed (no connection, timeout, exception response)."""


def only_reads(sending: bool, pdu):
    """pymodbus trace hook: sees each PDU just before it is framed and sent."""
    if sending and pdu.function_code not in MODBUS_READ_FUNCTIONS:
        raise ReadOnlyViolation(
            f"Modbus function code {pdu.function_code} is not a read; refusing to send it"
        )
    return pdu


class ModbusReader:
    """Reads coils, discrete inputs, holding and input registers from one device."""

    __slots__ = ("__client", "host", "port", "unit_id")

    def __init__(self, host: str, port: int, unit_id: int, timeout: float = 3.0):
        from pymodbus.client import AsyncModbusTcpClient

        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.__client = AsyncModbusTcpClient(
            host, port=port, timeout=timeout, retries=0, reconnect_delay=0, trace_pdu=only_reads
        )

    @property
    def connected(self) -> bool:
        return bool(self.__client.connected)

    async def connect(self) -> None:
        if not self.__client.connected and not await self.__client.connect():
            raise ModbusError(f"cannot connect to {self.host}:{self.port}")

    def close(self) -> None:
        self.__client.close()

    async def read_coils(self, address: int, count: int = 1) -> list[bool]:
        return (await self.__call(self.__client.read_coils, address, count)).bits[:count]

    async def read_discrete_inputs(self, address: int, count: int = 1) -> list[bool]:
        return (await self.__call(self.__client.read_discrete_inputs, address, count)).bits[:count]

    async def read_holding_registers(self, address: int, count: int = 1) -> list[int]:
        return (await self.__call(self.__client.read_holding_registers, address, count)).registers

    async def read_input_registers(self, address: int, count: int = 1) -> list[int]:
        return (await self.__call(self.__client.read_input_registers, address, count)).registers

    async def read(self, function: int, address: int, count: int = 1) -> list[int] | list[bool]:
        """Dispatch on a read function code (1-4); anything else is refused."""
        methods: dict[int, Callable[[int, int], Awaitable[list[int] | list[bool]]]] = {
            1: self.read_coils,
            2: self.read_discrete_inputs,
            3: self.read_holding_registers,
            4: self.read_input_registers,
        }
        method = methods.get(function)
        if method is None:
            raise ReadOnlyViolation(f"Modbus function code {function} is not a read")
        return await method(address, count)

    async def __call(self, method, address: int, count: int):
        from pymodbus.exceptions import ModbusException

        await self.connect()
        try:
            response = await method(address, count=count, device_id=self.unit_id)
        except ReadOnlyViolation:
            raise
        except (ModbusException, OSError, TimeoutError) as exc:
            self.__client.close()
            raise ModbusError(f"{self.host}:{self.port} unit {self.unit_id}: {exc}") from exc
        if response.isError():
            raise ModbusError(
                f"{self.host}:{self.port} unit {self.unit_id}: exception response {response}"
            )
        return response
