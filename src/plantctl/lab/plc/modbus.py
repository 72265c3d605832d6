"""A Modbus TCP PLC: pymodbus's server with the source's coils, inputs and registers."""

from __future__ import annotations

import asyncio
import time
from typing import cast

from plantctl.collector.config import Signal, Source
from plantctl.lab.plc.model import Model, Recorder, _ready, expected, modbus_point
from plantctl.lab.plc.scenario import Scenario


async def serve_modbus(
    source: Source, bind: str, port: int, recorder: Recorder, scenario: Scenario | None = None
) -> None:
    from pymodbus.datastore import (
        ModbusDeviceContext,
        ModbusSequentialDataBlock,
        ModbusServerContext,
    )
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator.simutils import SimUtils

    started = time.time()
    tables: dict[int, list[Signal]] = {1: [], 2: [], 3: [], 4: []}
    for sig in source.signals:
        tables[modbus_point(sig).function].append(sig)

    def size(fc: int) -> int:
        return max([modbus_point(s).address + modbus_point(s).count for s in tables[fc]] + [1]) + 1

    # ModbusSequentialDataBlock(1, ...): protocol address 0 is values[0].
    device = ModbusDeviceContext(
        co=ModbusSequentialDataBlock(1, [False] * _round16(size(1))),
        di=ModbusSequentialDataBlock(1, [False] * _round16(size(2))),
        hr=ModbusSequentialDataBlock(1, [0] * size(3)),
        ir=ModbusSequentialDataBlock(1, [0] * size(4)),
    )

    async def refresh(fc, start_address, address, count, registers, values):
        """Called by pymodbus on every access: write the current model values in place."""
        now = time.time()
        elapsed = now - started
        table = tables.get(fc, [])

        def scripted(sig: Signal) -> bool:
            return scenario is not None and scenario.scripts(sig.name)

        if fc in (1, 2):
            bits = SimUtils.registersToBits(registers)
            for sig in table:
                for i in range(modbus_point(sig).count):
                    bit = modbus_point(sig).address + i - start_address * 16
                    if 0 <= bit < len(bits):
                        if scripted(sig):
                            bits[bit] = bool(cast(Scenario, scenario).raw(sig.name, now))
                        else:
                            bits[bit] = bool(expected(sig, elapsed))
            registers[:] = SimUtils.bitsToRegisters(bits)[: len(registers)]
        elif fc in (3, 4):
            for sig in table:
                if scripted(sig):
                    raw = cast(Scenario, scenario).raw(sig.name, now)
                else:
                    raw = Model.of(sig).raw(elapsed)
                words = [
                    (raw >> (16 * (modbus_point(sig).count - 1 - i))) & 0xFFFF
                    for i in range(modbus_point(sig).count)
                ]
                offset = modbus_point(sig).address - start_address
                registers[offset : offset + len(words)] = words
        return None

    device.simdevice.action = refresh
    context = ModbusServerContext(devices={source.unit_id: device}, single=False)

    def trace(sending: bool, pdu):
        if not sending:
            recorder.record(
                protocol="modbus",
                function=pdu.function_code,
                device_id=getattr(pdu, "dev_id", None),
                address=getattr(pdu, "address", None),
                count=getattr(pdu, "count", None),
            )
        return pdu

    server = ModbusTcpServer(context, address=(bind, port), trace_pdu=trace)
    await server.serve_forever(background=True)
    _ready(started, recorder)
    await asyncio.Event().wait()


def _round16(n: int) -> int:
    return ((n + 15) // 16) * 16
