"""A recording TCP proxy between a client and a third-party PLC simulator.

It forwards bytes unchanged both ways and decodes, independently of the collector's own code,
what the client sent: S7comm (TPKT, COTP, S7 header) or EtherNet/IP (encapsulation, CPF items,
CIP services, including those inside Unconnected Send and Multiple Service Packet).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


def s7_requests(stream: bytes) -> tuple[list[tuple[int, int]], bytes]:
    """(ROSCTR, function) of every S7 PDU in `stream`; the undecoded rest."""
    out = []
    while len(stream) >= 4:
        size = struct.unpack(">H", stream[2:4])[0]
        if len(stream) < size:
            break
        frame, stream = stream[:size], stream[size:]
        cotp = frame[4:]
        li = cotp[0]
        if cotp[1] != 0xF0:  # connection request etc.: not an S7 PDU
            continue
        pdu = cotp[1 + li :]
        if pdu and pdu[0] == 0x32:
            # job and ack headers are 10 bytes; a user-data PDU's parameters follow the same 10
            out.append((pdu[1], pdu[10] if len(pdu) > 10 else -1))
    return out, stream


def _cip(msg: bytes, out: list[tuple[int, int]]) -> None:
    """Appends (service, path segment type or class): 0x91 for a symbolic (tag) path, the
    class id for a logical class path."""
    if not msg:
        return
    service = msg[0]
    path_words = msg[1] if len(msg) > 1 else 0
    body = msg[2 + 2 * path_words :]
    path = msg[2 : 2 + 2 * path_words]
    target = path[1] if path[:1] == b"\x20" and len(path) > 1 else (path[0] if path else -1)
    out.append((service, target))
    if service == 0x52 and path[:2] == b"\x20\x06":  # Unconnected Send to the connection manager
        size = struct.unpack("<H", body[2:4])[0]
        _cip(body[4 : 4 + size], out)
    elif service == 0x0A:  # Multiple Service Packet
        count = struct.unpack("<H", body[:2])[0]
        offsets = [struct.unpack("<H", body[2 + 2 * i : 4 + 2 * i])[0] for i in range(count)]
        for i, start in enumerate(offsets):
            end = offsets[i + 1] if i + 1 < count else len(body)
            _cip(body[start:end], out)


def enip_requests(stream: bytes) -> tuple[list[tuple[int, list[tuple[int, int]]]], bytes]:
    """(encapsulation command, [CIP services]) of every request in `stream`; the rest."""
    out = []
    while len(stream) >= 24:
        command, length = struct.unpack("<HH", stream[:4])
        if len(stream) < 24 + length:
            break
        data, stream = stream[24 : 24 + length], stream[24 + length :]
        services: list[tuple[int, int]] = []
        if command in (0x6F, 0x70):  # SendRRData, SendUnitData
            count = struct.unpack("<H", data[6:8])[0]
            at = 8
            for _ in range(count):
                kind, size = struct.unpack("<HH", data[at : at + 4])
                item = data[at + 4 : at + 4 + size]
                at += 4 + size
                if kind == 0xB2:
                    _cip(item, services)
                elif kind == 0xB1:
                    _cip(item[2:], services)
        out.append((command, services))
    return out, stream


class RecordingProxy:
    """Listen on 127.0.0.1:`port`, forward to `upstream`; `requests` is what clients sent."""

    def __init__(self, port: int, upstream: tuple[str, int], decoder):
        self.port = port
        self.upstream = upstream
        self.decoder = decoder
        self.requests: list = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", port), reuse_port=False)
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
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        pending = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    pending += data
                    found, pending = self.decoder(pending)
                    with self._lock:
                        self.requests.extend(found)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._stop = True
        self._server.close()
