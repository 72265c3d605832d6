"""Taking samples: each configured signal read at its interval, or subscribed to.

Modbus signals with the same interval and function code are read together: neighbouring
addresses (at most MAX_GAP apart, within the function's size limit) become one read request, and
each signal takes its words or bits from the answer. OPC UA `read` signals with the same interval
are one Read service call; `subscribe` signals become one subscription per interval whose
data-change notifications are the samples. S7 signals with the same interval are read as byte
ranges: one per area and data block where neighbouring values lie at most MAX_GAP bytes apart,
each range within one S7 PDU (S7_MAX_BYTES). Logix signals with the same interval are one
pycomm3 read (a multi-service request where they fit); elements of one array (`Name[i]`) are
read together as `Name[start]{count}`. The S7 and Logix clients block, so their
reads run in a worker thread. A source that fails is reconnected with backoff;
samples are never invented for the time it was away.

Register values: one register is an unsigned 16-bit value; two or more registers are one
unsigned value, high word first. `scale` multiplies the raw value. Bits are booleans (a list
when count > 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from plantctl.collector import s7 as s7wire
from plantctl.collector.config import LogixPoint, ModbusPoint, OpcUaPoint, S7Point, Signal, Source
from plantctl.collector.logix import LogixError, LogixReader
from plantctl.collector.modbus import ModbusError, ModbusReader
from plantctl.collector.opcua import OpcUaError, OpcUaReader

log = logging.getLogger(__name__)

MAX_GAP = 16
LIMITS = {1: 2000, 2: 2000, 3: 125, 4: 125}
LOGIX_MAX_ELEMENTS = 100  # elements of one array read at once (pycomm3 fragments larger replies)
S7_MAX_BYTES = 200  # the payload of one read in a 240-byte PDU, with room to spare
BACKOFF_S = (1, 2, 5, 10)
CLOSE_S = 3.0  # an OPC UA session close that takes longer is abandoned

# sink(samples): samples are (topic, payload fields) pairs; called on the event loop.
Sink = Callable[[list[tuple[str, dict[str, Any]]]], None]


# Each signal of a source carries the point of the source's protocol (collector/config.py).
def _modbus(sig: Signal) -> ModbusPoint:
    return cast(ModbusPoint, sig.modbus)


def _opcua(sig: Signal) -> OpcUaPoint:
    return cast(OpcUaPoint, sig.opcua)


def _s7(sig: Signal) -> S7Point:
    return cast(S7Point, sig.s7)


def _logix(sig: Signal) -> LogixPoint:
    return cast(LogixPoint, sig.logix)


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
        by_function.setdefault(_modbus(sig).function, []).append(sig)
    for function, sigs in sorted(by_function.items()):
        current: Block | None = None
        for sig in sorted(sigs, key=lambda s: _modbus(s).address):
            start, end = _modbus(sig).address, _modbus(sig).address + _modbus(sig).count
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
    point = _modbus(sig)
    offset = point.address - block.address
    part = values[offset : offset + point.count]
    if point.function in (1, 2):
        return bool(part[0]) if point.count == 1 else [bool(b) for b in part]
    raw = 0
    for word in part:
        raw = (raw << 16) | (word & 0xFFFF)
    if point.scale is not None:
        return round(raw * point.scale, 6)
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

    def _failed(self, exc: BaseException, failures: int) -> None:
        """A read that failed: counted, and logged the 1st, 10th and every 100th time in a row."""
        self.read_errors += 1
        if failures in (1, 10) or failures % 100 == 0:
            log.warning("%s: %s", self.source.id, exc)

    @staticmethod
    async def _back_off(failures: int) -> None:
        await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S)) - 1])

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
            items: list[tuple[Signal, Any]] = []
            try:
                for block in blocks:
                    values = await reader.read(block.function, block.address, block.count)
                    items.extend((sig, decode(sig, block, values)) for sig in block.signals)
            except ModbusError as exc:
                failures += 1
                self._failed(exc, failures)
                await self._back_off(failures)
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
                        s for s in src.signals if _opcua(s).operation == "read"
                    ).items():
                        tasks.create_task(self._poll(reader, interval, sigs))
                    tasks.create_task(self._watch(reader))
            except* (OpcUaError, ConnectionError, TimeoutError) as group:
                failures += 1
                self._failed(group.exceptions[0], failures)
            finally:
                # Bounded: closing a session the server no longer answers must not hold a stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_S):
                        await reader.close()
            await self._back_off(failures)

    async def _subscribe(self, reader: OpcUaReader) -> None:
        subs = [s for s in self.source.signals if _opcua(s).operation == "subscribe"]
        for interval, sigs in by_interval(subs).items():
            by_node = {_opcua(s).node_id: s for s in sigs}

            def notify(node_id: str, value: Any, ts: float | None, by_node=by_node) -> None:
                sig = by_node.get(node_id)
                if sig is not None:
                    self.emit([(sig, value)], time.time())

            await reader.subscribe(list(by_node), interval, notify)

    async def _poll(self, reader: OpcUaReader, interval: float, sigs: list[Signal]) -> None:
        node_ids = [_opcua(s).node_id for s in sigs]

        async def step():
            ts = time.time()
            values = await reader.read(node_ids)
            self.emit(list(zip(sigs, values, strict=True)), ts)

        await self._ticks(interval, step)

    async def _watch(self, reader: OpcUaReader) -> None:
        while reader.connected:
            await asyncio.sleep(1)
        raise OpcUaError(f"{reader.url}: connection lost")


@dataclass
class S7Range:
    """One S7 read (area, data block, byte range) and the signals it serves."""

    area: str
    db: int
    offset: int
    size: int
    signals: list[Signal] = field(default_factory=list)


def plan_s7(signals: list[Signal]) -> list[S7Range]:
    ranges: list[S7Range] = []
    by_area: dict[tuple[str, int], list[Signal]] = {}
    for sig in signals:
        by_area.setdefault((_s7(sig).area, _s7(sig).db), []).append(sig)
    for (area, db), sigs in sorted(by_area.items()):
        current: S7Range | None = None
        for sig in sorted(sigs, key=lambda s: _s7(s).offset):
            start, end = _s7(sig).offset, _s7(sig).offset + _s7(sig).size
            top = current.offset + current.size if current else 0
            if (
                current is not None
                and start <= top + MAX_GAP
                and max(end, top) - current.offset <= S7_MAX_BYTES
            ):
                current.size = max(end, top) - current.offset
                current.signals.append(sig)
            else:
                current = S7Range(area, db, start, end - start, [sig])
                ranges.append(current)
    return ranges


class _BlockingSource(SourceRunner):
    """A source whose client blocks: each interval's reads run in a worker thread."""

    errors: tuple[type[Exception], ...] = ()

    def _reader(self):
        raise NotImplementedError

    def _plan(self, signals: list[Signal]):
        raise NotImplementedError

    def _read(self, reader, plan) -> list[tuple[Signal, Any]]:
        raise NotImplementedError

    async def run(self) -> None:
        reader = self._reader()
        plans = {iv: self._plan(sigs) for iv, sigs in by_interval(self.source.signals).items()}
        lock = asyncio.Lock()  # one request at a time on the connection
        try:
            async with asyncio.TaskGroup() as tasks:
                for interval, plan in plans.items():
                    tasks.create_task(self._poll(reader, interval, plan, lock))
        finally:
            await asyncio.to_thread(reader.close)

    async def _poll(self, reader, interval: float, plan, lock: asyncio.Lock) -> None:
        failures = 0

        async def step():
            nonlocal failures
            ts = time.time()
            try:
                async with lock:
                    items = await asyncio.to_thread(self._read, reader, plan)
            except self.errors as exc:
                failures += 1
                self._failed(exc, failures)
                await self._back_off(failures)
                return
            if failures:
                log.info("%s: reading again", self.source.id)
            failures = 0
            self.emit(items, ts)

        await self._ticks(interval, step)


class S7Source(_BlockingSource):
    errors = (s7wire.S7Error,)

    def _reader(self):
        src = self.source
        return s7wire.S7Reader(src.address, src.port, src.rack, src.slot)

    def _plan(self, signals):
        return plan_s7(signals)

    def _read(self, reader, plan):
        items = []
        for rng in plan:
            data = reader.read_area(rng.area, rng.db, rng.offset, rng.size)
            for sig in rng.signals:
                point = _s7(sig)
                at = point.offset - rng.offset
                raw = data[at : at + point.size]
                items.append((sig, s7wire.decode(point.type, raw, point.bit)))
        return items


_ELEMENT = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<index>[0-9]+)\]$")


@dataclass
class LogixRead:
    """One tag read: a single tag, or `count` elements of an array from `start` (read as
    `name[start]{count}`) serving the signals that name elements of it."""

    tag: str
    start: int | None = None
    count: int = 1
    signals: list[Signal] = field(default_factory=list)

    @property
    def request(self) -> str:
        return self.tag if self.start is None else f"{self.tag}[{self.start}]{{{self.count}}}"


def plan_logix(signals: list[Signal]) -> list[LogixRead]:
    """Elements of one array (same type, at most MAX_GAP apart, LOGIX_MAX_ELEMENTS in all)
    become one read; every other tag is read on its own (pycomm3 packs those into
    multi-service requests)."""
    reads: list[LogixRead] = []
    arrays: dict[tuple[str, str], list[tuple[int, Signal]]] = {}
    for sig in signals:
        point = _logix(sig)
        m = _ELEMENT.match(point.tag)
        if m and point.type != "BOOL":
            arrays.setdefault((m["base"], point.type), []).append((int(m["index"]), sig))
        else:
            reads.append(LogixRead(point.tag, signals=[sig]))
    for (base, _), members in sorted(arrays.items()):
        current: LogixRead | None = None
        start = 0  # the first element `current` reads
        for index, sig in sorted(members, key=lambda x: x[0]):
            if (
                current is not None
                and index <= start + current.count - 1 + MAX_GAP
                and index - start < LOGIX_MAX_ELEMENTS
            ):
                current.count = max(current.count, index - start + 1)
                current.signals.append(sig)
            else:
                current = LogixRead(base, index, 1, [sig])
                start = index
                reads.append(current)
    return reads


class LogixSource(_BlockingSource):
    errors = (LogixError,)

    def _reader(self):
        src = self.source
        types = {_logix(s).tag: _logix(s).type for s in src.signals}
        return LogixReader(src.address, src.port, types)

    def _plan(self, signals):
        return plan_logix(signals)

    def _read(self, reader, plan):
        values = reader.read([r.request for r in plan])
        items = []
        for read, value in zip(plan, values, strict=True):
            if read.start is None:
                items.append((read.signals[0], value))
                continue
            elements = value if isinstance(value, list) else [value]  # {1} reads a scalar
            for sig in read.signals:
                element = cast(re.Match[str], _ELEMENT.match(_logix(sig).tag))  # planned as one
                at = int(element["index"]) - read.start
                items.append((sig, elements[at]))
        return items


RUNNERS = {
    "modbus-tcp": ModbusSource,
    "opcua": OpcUaSource,
    "s7": S7Source,
    "ethernet-ip": LogixSource,
}


def runner_for(source: Source, sink: Sink, gateway: str) -> SourceRunner:
    return RUNNERS[source.protocol](source, sink, gateway)
