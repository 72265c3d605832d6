"""An EtherNet/IP (Logix) PLC: cpppo's server behind a recording proxy that decodes every
encapsulation request and the CIP services in it."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

from plantctl.collector.config import Signal, Source
from plantctl.lab.plc.model import (
    _ELEMENT,
    ENIP_CIP_COMMANDS,
    Recorder,
    _ready,
    expected,
    logix_point,
)


def _cip(msg: bytes, out: list[list[int]]) -> None:
    """Appends [service, target] of a CIP request: 0x91 for a symbolic (tag) path, else the
    class of a logical path; the requests inside Unconnected Send and Multiple Service Packet."""
    if not msg:
        return
    service = msg[0]
    words = msg[1] if len(msg) > 1 else 0
    path, body = msg[2 : 2 + 2 * words], msg[2 + 2 * words :]
    target = path[1] if path[:1] == b"\x20" and len(path) > 1 else (path[0] if path else -1)
    out.append([service, target])
    if service == 0x52 and path[:2] == b"\x20\x06" and len(body) >= 4:  # Unconnected Send
        size = struct.unpack("<H", body[2:4])[0]
        _cip(body[4 : 4 + size], out)
    elif service == 0x0A and len(body) >= 2:  # Multiple Service Packet
        count = struct.unpack("<H", body[:2])[0]
        offsets = [struct.unpack("<H", body[2 + 2 * i : 4 + 2 * i])[0] for i in range(count)]
        for i, start in enumerate(offsets):
            end = offsets[i + 1] if i + 1 < count else len(body)
            _cip(body[start:end], out)


def enip_requests(stream: bytes) -> tuple[list[tuple[int, list[list[int]]]], bytes]:
    """(encapsulation command, [[service, target], ...]) of every complete EtherNet/IP request
    in `stream`, and the undecoded rest."""
    out = []
    while len(stream) >= 24:
        command, length = struct.unpack("<HH", stream[:4])
        if len(stream) < 24 + length:
            break
        data, stream = stream[24 : 24 + length], stream[24 + length :]
        services: list[list[int]] = []
        if command in ENIP_CIP_COMMANDS and len(data) >= 8:
            count = struct.unpack("<H", data[6:8])[0]
            at = 8
            for _ in range(count):
                kind, size = struct.unpack("<HH", data[at : at + 4])
                item = data[at + 4 : at + 4 + size]
                at += 4 + size
                if kind == 0xB2:  # unconnected data
                    _cip(item, services)
                elif kind == 0xB1:  # connected data: a sequence count first
                    _cip(item[2:], services)
        out.append((command, services))
    return out, stream


class RecordingProxy:
    """Listens on `listen`, forwards every connection to `upstream` unchanged and hands what the
    clients sent, decoded by `decoder` (s7_requests, enip_requests), to `record` (one call per
    decoded request)."""

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int], decoder, record):
        self.upstream = upstream
        self.decoder = decoder
        self.record = record
        self._server = socket.create_server(listen)
        self.port = self._server.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        pending = b""
        try:
            while data := src.recv(65536):
                if record:
                    pending += data
                    found, pending = self.decoder(pending)
                    for request in found:
                        self.record(request)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stop = True
        self._server.close()


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_enip(source: Source, bind: str, port: int, recorder: Recorder) -> None:
    """cpppo's EtherNet/IP server (cpppo.server.enip.main) with the source's tags, on this
    namespace's loopback; the values come from the model on every read (an Attribute class, as
    cpppo documents for remote data); a recording proxy on `bind`:`port` in front of it decodes
    and records every request."""
    from cpppo.server.enip import device
    from cpppo.server.enip import main as enip_main

    scalars: dict[str, Signal] = {}
    arrays: dict[str, dict[int, Signal]] = {}
    kinds: dict[str, str] = {}
    for sig in source.signals:
        m = _ELEMENT.match(logix_point(sig).tag)
        if m:
            arrays.setdefault(m["base"], {})[int(m["index"])] = sig
            kinds[m["base"]] = logix_point(sig).type
        else:
            scalars[logix_point(sig).tag] = sig
            kinds[logix_point(sig).tag] = logix_point(sig).type
    started = time.time()

    def wire(sig: Signal, elapsed: float):
        value = expected(sig, elapsed)
        return int(value) if isinstance(value, bool) else value

    def current(name: str):
        elapsed = time.time() - started
        if name in scalars:
            return wire(scalars[name], elapsed)
        elements = arrays[name]
        zero = 0.0 if kinds[name] in ("REAL", "LREAL") else 0
        return [
            wire(elements[i], elapsed) if i in elements else zero for i in range(max(elements) + 1)
        ]

    class ModelAttribute(device.Attribute):
        @property
        def value(self):
            return current(self.name) if self.name in kinds else self.default

        @value.setter
        def value(self, v) -> None:  # a write: recorded by the proxy, the model stays
            pass

    tags = []
    for name, kind in kinds.items():
        size = max(arrays[name]) + 1 if name in arrays else 0
        tags.append(f"{name}={kind}[{size}]" if size else f"{name}={kind}")
    inner = _free_loopback_port()

    def record(request) -> None:
        command, services = request
        recorder.record(protocol="enip", command=command, services=services)

    def announce() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", inner), 0.2):
                _ready(started, recorder)
                return
            time.sleep(0.1)

    proxy = RecordingProxy((bind, port), ("127.0.0.1", inner), enip_requests, record)
    threading.Thread(target=announce, daemon=True).start()
    try:
        enip_main.main(["--address", f"127.0.0.1:{inner}", *tags], attribute_class=ModelAttribute)
    finally:
        proxy.close()
