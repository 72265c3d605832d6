"""An S7 PLC: python-snap7's own server, its PDUs and data events recorded."""

from __future__ import annotations

import struct
import threading
import time

from plantctl.collector.config import Signal, Source
from plantctl.lab.plc.model import _S7_HOUSEKEEPING_EVENTS, Recorder, _ready, expected, s7_point

_S7_FORMATS = {
    "byte": ">B", "word": ">H", "uint": ">H", "int": ">h", "dword": ">I", "udint": ">I",
    "dint": ">i", "real": ">f", "lreal": ">d",
}  # fmt: skip


def s7_bytes(signal: Signal, value, current: int = 0) -> bytes:
    """The big-endian bytes an S7 CPU holds for `value` (a bool: the byte `current` with the
    signal's bit set or cleared)."""
    kind = s7_point(signal).type
    if kind == "bool":
        mask = 1 << s7_point(signal).bit
        return bytes([(current | mask) if value else (current & ~mask & 0xFF)])
    if kind == "char":
        return value.encode("latin-1")
    return struct.pack(_S7_FORMATS[kind], value)


def serve_s7(source: Source, bind: str, port: int, recorder: Recorder) -> None:
    """python-snap7's own server (snap7.server.Server) with the source's areas; every S7 PDU it
    receives recorded (decoded here, before the server handles it), and its data events."""
    from snap7.server import Server
    from snap7.type import SrvArea

    codes = {"db": SrvArea.DB, "inputs": SrvArea.PE, "outputs": SrvArea.PA, "markers": SrvArea.MK}
    sizes: dict[tuple[str, int], int] = {}
    for sig in source.signals:
        key = (s7_point(sig).area, s7_point(sig).db if s7_point(sig).area == "db" else 0)
        sizes[key] = max(sizes.get(key, 0), s7_point(sig).offset + s7_point(sig).size + 16)
    buffers = {key: bytearray(size) for key, size in sizes.items()}
    server = Server(log=False)
    for (area, index), buf in buffers.items():
        server.register_area(codes[area], index, buf)
    started = time.time()

    def refresh() -> None:
        elapsed = time.time() - started
        for sig in source.signals:
            point = s7_point(sig)
            buf = buffers[(point.area, point.db if point.area == "db" else 0)]
            at = s7_point(sig).offset
            data = s7_bytes(sig, expected(sig, elapsed), buf[at])
            buf[at : at + len(data)] = data

    received = server._process_request  # this process is the simulator and nothing else

    def recording(request_data: bytes, client_address):
        pdu = bytes(request_data)
        rosctr = pdu[1] if len(pdu) > 1 else None
        function = pdu[10] if rosctr == 0x01 and len(pdu) > 10 else None
        recorder.record(protocol="s7", rosctr=rosctr, function=function, size=len(pdu))
        refresh()
        return received(request_data, client_address)

    def event(evt) -> None:
        if evt.EvtCode not in _S7_HOUSEKEEPING_EVENTS:
            recorder.record(protocol="s7-event", code=evt.EvtCode, area=evt.EvtParam1)

    server._process_request = recording  # type: ignore[method-assign]  # the recording hook
    server.set_events_callback(event)
    refresh()
    server.start_to(bind, port)
    try:
        _ready(started, recorder)
        threading.Event().wait()
    finally:
        server.stop()


def s7_requests(stream: bytes) -> tuple[list[tuple[int, int]], bytes]:
    """(ROSCTR, function) of every S7 PDU in a TPKT/COTP `stream`, and the undecoded rest."""
    out = []
    while len(stream) >= 4:
        size = struct.unpack(">H", stream[2:4])[0]
        if len(stream) < size:
            break
        frame, stream = stream[:size], stream[size:]
        cotp = frame[4:]
        if len(cotp) < 2 or cotp[1] != 0xF0:  # connection request etc.: not an S7 PDU
            continue
        pdu = cotp[1 + cotp[0] :]
        if pdu and pdu[0] == 0x32:
            out.append((pdu[1], pdu[10] if len(pdu) > 10 else -1))
    return out, stream
