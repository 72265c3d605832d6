"""Taking samples: each configured signal read at its interval, or subscribed to.

Modbus signals with the same interval and function code are read together: neighbouring
addresses (at most MAX_GAP apart, within the function's size limit) become one read request, and
each signal takes its words or bits from the answer. OPC UA `read` signals with the same interval
are one Read service call; `subscribe` signals become one subscription per interval whose
data-change notifications are the samples. A source that fails is reconnected with backoff;
samples are never invented for the time it was away.

Register values: one register is an unsigned 16-bit value; two or more registers are one
unsigned value, high word first. `scale` multiplies the raw value. Bits are booleans (a list
when count > 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plantctl.collector.config import Signal, Source
from plantctl.collector.modbus import ModbusError, ModbusReader
from plantctl.collector.opcua import OpcUaError, OpcUaReader

log = logging.getLogger(__name__)

MAX_GAP = 16
LIMITS = {1: 2000, 2: 2000, 3: 125, 4: 125}
BACKOFF_S = (1, 2, 5, 10)
CLOSE_S = 3.0  # an OPC UA session close that takes longer is abandoned

# sink(samples): samples are (topic, payload fields) pairs; called on the event loop.
Sink = Callable[[list[tuple[str, dict[str, Any]]]], None]


@dataclass
class Block:
    """One Modbus read request and the signals it serves."""

    function: int
    address: int
    count: int
    signals: list[Signal] = field(default_factory=list)


def plan_modbus(signals: list[Signal]) -> list[Block]:
    """Merge reads of one function code into as few requests as the size limit allows."""
    blocks: list[Block] = []
    by_function: dict[int, list[Signal]] = {}
    for sig in signals:
        by_function.setdefault(sig.modbus.function, []).append(sig)
    for function, sigs in sorted(by_function.items()):
        current: Block | None = None
        for sig in sorted(sigs, key=lambda s: s.modbus.address):
            start, end = sig.modbus.address, sig.modbus.address + sig.modbus.count
            if (
                current is not None
                and start <= current.address + current.count + MAX_GAP
                and max(end, current.address + current.count) - current.address <= LIMITS[function]
            ):
                current.count = max(end, current.address + current.count) - current.address
                current.signals.append(sig)
            else:
                current = Block(function, start, end - start, [sig])
                blocks.append(current)
    return blocks


def decode(sig: Signal, block: Block, values: list) -> Any:
    offset = sig.modbus.address - block.address
    part = values[offset : offset + sig.modbus.count]
    if sig.modbus.function in (1, 2):
        return bool(part[0]) if sig.modbus.count == 1 else [bool(b) for b in part]
    raw = 0
    for word in part:
        raw = (raw << 16) | (word & 0xFFFF)
    if sig.modbus.scale is not None:
        return round(raw * sig.modbus.scale, 6)
    return raw


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def by_interval(signals) -> dict[float, list[Signal]]:
    groups: dict[float, list[Signal]] = {}
    for sig in signals:
        groups.setdefault(sig.interval_s, []).append(sig)
    return groups


class SourceRunner:
    """Samples one machine until cancelled."""

    def __init__(self, source: Source, sink: Sink, gateway: str):
        self.source = source
        self.sink = sink
        self.gateway = gateway
        self.read_errors = 0
        self.samples = 0

    def emit(self, items: list[tuple[Signal, Any]], ts: float) -> None:
        out = []
        for sig, value in items:
            fields: dict[str, Any] = {"ts": round(ts, 3), "value": jsonable(value)}
            if sig.unit:
                fields["unit"] = sig.unit
            fields["gateway"] = self.gateway
            out.append((self.source.topic(sig), fields))
        if out:
            self.samples += len(out)
            self.sink(out)

    async def run(self) -> None:
        raise NotImplementedError

    async def _ticks(self, interval: float, step) -> None:
        """Call `step()` every `interval` seconds (skipping ticks it overran)."""
        next_t = time.monotonic()
        while True:
            await step()
            next_t += interval
            delay = next_t - time.monotonic()
            if delay < 0:
                next_t = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)


class ModbusSource(SourceRunner):
    async def run(self) -> None:
        src = self.source
        reader = ModbusReader(src.address, src.port, src.unit_id)
        plans = {iv: plan_modbus(sigs) for iv, sigs in by_interval(src.signals).items()}
        try:
            async with asyncio.TaskGroup() as tasks:
                for interval, blocks in plans.items():
                    tasks.create_task(self._poll(reader, interval, blocks))
        finally:
            reader.close()

    async def _poll(self, reader: ModbusReader, interval: float, blocks: list[Block]) -> None:
        failures = 0

        async def step():
            nonlocal failures
            ts = time.time()
            items = []
            try:
                for block in blocks:
                    values = await reader.read(block.function, block.address, block.count)
                    items.extend((sig, decode(sig, block, values)) for sig in block.signals)
            except ModbusError as exc:
                self.read_errors += 1
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("%s: %s", self.source.id, exc)
                await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S)) - 1])
                return
            if failures:
                log.info("%s: reading again", self.source.id)
            failures = 0
            self.emit(items, ts)

        await self._ticks(interval, step)


class OpcUaSource(SourceRunner):
    async def run(self) -> None:
        src = self.source
        url = f"opc.tcp://{src.address}:{src.port}/"
        failures = 0
        while True:
            reader = OpcUaReader(url)
            try:
                await reader.connect()
                await self._subscribe(reader)
                if failures:
                    log.info("%s: connected again", src.id)
                failures = 0
                async with asyncio.TaskGroup() as tasks:
                    for interval, sigs in by_interval(
                        s for s in src.signals if s.opcua.operation == "read"
                    ).items():
                        tasks.create_task(self._poll(reader, interval, sigs))
                    tasks.create_task(self._watch(reader))
            except* (OpcUaError, ConnectionError, TimeoutError) as group:
                self.read_errors += 1
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("%s: %s", src.id, group.exceptions[0])
            finally:
                # Bounded: closing a session the server no longer answers must not hold a stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_S):
                        await reader.close()
            await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S)) - 1])

    async def _subscribe(self, reader: OpcUaReader) -> None:
        subs = [s for s in self.source.signals if s.opcua.operation == "subscribe"]
        for interval, sigs in by_interval(subs).items():
            by_node = {s.opcua.node_id: s for s in sigs}

            def notify(node_id: str, value: Any, ts: float | None, by_node=by_node) -> None:
                sig = by_node.get(node_id)
                if sig is not None:
                    self.emit([(sig, value)], time.time())

            await reader.subscribe(list(by_node), interval, notify)

    async def _poll(self, reader: OpcUaReader, interval: float, sigs: list[Signal]) -> None:
        node_ids = [s.opcua.node_id for s in sigs]

        async def step():
            ts = time.time()
            values = await reader.read(node_ids)
            self.emit(list(zip(sigs, values, strict=True)), ts)

        await self._ticks(interval, step)

    async def _watch(self, reader: OpcUaReader) -> None:
        while reader.connected:
            await asyncio.sleep(1)
        raise OpcUaError(f"{reader.url}: connection lost")


def runner_for(source: Source, sink: Sink, gateway: str) -> SourceRunner:
    cls = ModbusSource if source.protocol == "modbus-tcp" else OpcUaSource
    return cls(source, sink, gateway)
