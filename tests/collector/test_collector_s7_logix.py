"""S7 and EtherNet/IP collection against simulators the project did not write: python-snap7's
own S7 server and cpppo's EtherNet/IP (Logix) server, on free loopback ports. Each test records
what the simulator received, through the simulator's own events (snap7) and a recording proxy
that decodes the wire independently of the collector (both), and proves only reads arrived."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import subprocess
import sys
import time

import pytest
from wire_proxy import RecordingProxy, enip_requests, s7_requests

from plantctl.collector import config
from plantctl.collector.logix import LogixReader
from plantctl.collector.readonly import ReadOnlyViolation
from plantctl.collector.s7 import S7Reader
from plantctl.collector.sampling import runner_for
from plantctl.lab.mosquitto import free_port

BROKER = {
    "host": "127.0.0.1",
    "port": 8883,
    "client_id": "gw-test",
    "tls": {"ca_file": "ca.pem", "cert_file": "gw.pem", "key_file": "gw.key"},
}


def _doc(source: dict) -> dict:
    return {
        "version": 1,
        "site": "ridgeway",
        "gateway": "gw-test",
        "state_dir": "/tmp/unused",
        "broker": BROKER,
        "sources": [source],
    }


def _sample(source: dict, seconds: float = 1.2) -> dict[str, object]:
    """Run the source's collector loop for `seconds`; the last value of every signal."""
    src = config.parse(_doc(source)).sources[0]
    got: dict[str, object] = {}

    def sink(samples):
        for topic, fields in samples:
            got[topic.rsplit("/", 1)[1]] = fields["value"]

    runner = runner_for(src, sink, "gw-test")

    async def go():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.run(), seconds)

    asyncio.run(go())
    assert runner.read_errors == 0
    return got


# S7 ---------------------------------------------------------------------------------------------

S7_SIGNALS = [
    ("status", {"area": "db", "db": 10, "offset": 0, "type": "int"}, -3),
    ("shot-count", {"area": "db", "db": 10, "offset": 2, "type": "dint"}, 123456),
    ("barrel-temp", {"area": "db", "db": 10, "offset": 6, "type": "real"}, 21.5),
    ("running", {"area": "db", "db": 10, "offset": 10, "bit": 3, "type": "bool"}, True),
    ("energy", {"area": "db", "db": 20, "offset": 0, "type": "lreal"}, 3.25),
    ("door-closed", {"area": "inputs", "offset": 0, "type": "byte"}, 0x5A),
    ("valve", {"area": "outputs", "offset": 1, "type": "word"}, 0x1234),
    ("cycles", {"area": "markers", "offset": 4, "type": "udint"}, 4_000_000_000),
]


@pytest.fixture
def s7_server():
    """snap7's own server (snap7.server.Server) on a free port, with known area contents."""
    from snap7.server import Server
    from snap7.type import SrvArea

    db10 = bytearray(32)
    db10[0:2] = struct.pack(">h", -3)
    db10[2:6] = struct.pack(">i", 123456)
    db10[6:10] = struct.pack(">f", 21.5)
    db10[10] = 1 << 3
    db20 = bytearray(struct.pack(">d", 3.25) + bytes(8))
    pe = bytearray(8)
    pe[0] = 0x5A
    pa = bytearray(8)
    pa[1:3] = b"\x12\x34"
    mk = bytearray(16)
    mk[4:8] = struct.pack(">I", 4_000_000_000)
    server = Server()
    for area, number, data in (
        (SrvArea.DB, 10, db10),
        (SrvArea.DB, 20, db20),
        (SrvArea.PE, 0, pe),
        (SrvArea.PA, 0, pa),
        (SrvArea.MK, 0, mk),
    ):
        server.register_area(area, number, data)
    port = free_port()
    server.start(tcp_port=port)
    proxy = RecordingProxy(free_port(), ("127.0.0.1", port), s7_requests)
    server.db10 = db10
    try:
        yield server, proxy
    finally:
        proxy.close()
        server.stop()
        server.destroy()


def _s7_events(server) -> list[int]:
    codes = []
    while event := server.pick_event():
        codes.append(event.EvtCode)
    return codes


def _s7_source(port: int) -> dict:
    return {
        "id": "col-rw-s7-01",
        "machine": "rw-s7-01",
        "protocol": "s7",
        "address": "127.0.0.1",
        "port": port,
        "rack": 0,
        "slot": 1,
        "topic_prefix": "ridgeway/cell-molding/rw-s7-01",
        "signals": [
            {"name": n, "data_class": "machine-status", "interval_s": 0.2, "s7": p}
            for n, p, _ in S7_SIGNALS
        ],
    }


def test_s7_collection_reads_every_area_and_type_from_the_snap7_server(s7_server):
    from snap7.server import EVC_CLIENT_ADDED, EVC_CLIENT_DISCONNECTED, EVC_DATA_READ

    server, proxy = s7_server
    _s7_events(server)  # "server started"
    got = _sample(_s7_source(proxy.port))
    assert got == {name: value for name, _, value in S7_SIGNALS}
    time.sleep(0.2)
    events = _s7_events(server)
    assert events.count(EVC_DATA_READ) >= 4  # the server saw reads, and nothing else
    assert set(events) <= {EVC_CLIENT_ADDED, EVC_CLIENT_DISCONNECTED, EVC_DATA_READ}
    # the wire, decoded by the proxy: setup communication (0xf0) once, then only read var (0x04)
    jobs = proxy.requests
    assert jobs[0] == (0x01, 0xF0)
    assert {j for j in jobs[1:]} == {(0x01, 0x04)}
    # four ranges per cycle: DB 10 (one range for four signals), DB 20, inputs, outputs, markers
    assert len(jobs) >= 6


def test_an_s7_write_through_the_internals_never_reaches_the_snap7_server(s7_server):
    from snap7.server import EVC_DATA_WRITE
    from snap7.type import Area

    server, proxy = s7_server
    reader = S7Reader("127.0.0.1", proxy.port, 0, 1)
    try:
        assert reader.read_area("db", 10, 0, 2) == struct.pack(">h", -3)
        client = reader._S7Reader__client  # reaching past the API on purpose
        with pytest.raises(ReadOnlyViolation, match="0x05"):
            client.db_write(10, 0, bytearray(b"\x00\x07"))
        with pytest.raises(ReadOnlyViolation):
            client.write_area(Area.MK, 0, 0, bytearray(b"\x01"))
        with pytest.raises(ReadOnlyViolation):
            client.plc_stop()
        with pytest.raises(ReadOnlyViolation):
            client.set_plc_system_datetime()
    finally:
        reader.close()
    time.sleep(0.2)
    assert EVC_DATA_WRITE not in _s7_events(server)
    assert bytes(server.db10[0:2]) == struct.pack(">h", -3)
    assert {function for _, function in proxy.requests} == {0xF0, 0x04}


# EtherNet/IP (Logix) ----------------------------------------------------------------------------

LOGIX_SIGNALS = [
    ("status", "Status", "DINT", 3),
    ("part-count", "PartCount", "DINT", 1500),
    ("rate", "Rate", "REAL", 0.0),
    ("temps-0", "Temps[0]", "INT", 0),
    ("temps-2", "Temps[2]", "INT", 42),  # with temps-0: one read, Temps[0]{3}
    ("running", "Running", "BOOL", True),
]
_CPPPO_TAGS = ["Status=DINT", "PartCount=DINT", "Temps=INT[4]", "Running=BOOL", "Rate=REAL"]
_CPPPO_VALUES = ["Status=(DINT)3", "PartCount=(DINT)1500", "Temps[2]=(INT)42", "Running=(BOOL)1"]


def _wait_port(port: int, proc: subprocess.Popen, seconds: float = 15) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the cpppo server exited")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


@pytest.fixture
def cpppo_server(tmp_path):
    """cpppo's EtherNet/IP server (python -m cpppo.server.enip) on a free port, with tags set
    by cpppo's own client (the recording proxy sees only the collector)."""
    port = free_port()
    log = open(tmp_path / "cpppo.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cpppo.server.enip",
            "-v",
            "--address",
            f"127.0.0.1:{port}",
            *_CPPPO_TAGS,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_port(port, proc)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cpppo.server.enip.client",
                "--address",
                f"127.0.0.1:{port}",
                *_CPPPO_VALUES,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        proxy = RecordingProxy(free_port(), ("127.0.0.1", port), enip_requests)
        yield proxy, tmp_path / "cpppo.log"
        proxy.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


# CIP services a read-only client may send, as (service, target): 0x91 is a tag (symbolic path),
# 0x06 the connection manager, 0x01 the identity object.
_READS = {
    (0x4C, 0x91),  # Read Tag
    (0x52, 0x91),  # Read Tag Fragmented
    (0x0A, 0x02),  # Multiple Service Packet to the message router
    (0x54, 0x06),  # Forward Open
    (0x5B, 0x06),  # Large Forward Open
    (0x4E, 0x06),  # Forward Close
    (0x52, 0x06),  # Unconnected Send (its inner service recorded too)
    (0x01, 0x01),  # Get_Attributes_All of the identity
    (0x01, 0x64),  # Get_Attributes_All of the program name object (the controller's name)
}
_SESSION = {0x63, 0x65, 0x66}  # ListIdentity, RegisterSession, UnRegisterSession


def _logix_source(port: int) -> dict:
    return {
        "id": "col-rw-lgx-01",
        "machine": "rw-lgx-01",
        "protocol": "ethernet-ip",
        "address": "127.0.0.1",
        "port": port,
        "topic_prefix": "ridgeway/cell-molding/rw-lgx-01",
        "signals": [
            {
                "name": n,
                "data_class": "machine-status",
                "interval_s": 0.2,
                "logix": {"tag": t, "type": k},
            }
            for n, t, k, _ in LOGIX_SIGNALS
        ],
    }


def _services(proxy) -> set[tuple[int, int]]:
    return {s for command, services in proxy.requests for s in services}


def test_logix_collection_reads_tags_by_name_from_the_cpppo_server(cpppo_server):
    proxy, log = cpppo_server
    got = _sample(_logix_source(proxy.port))
    assert got == {n: v for n, _, _, v in LOGIX_SIGNALS}
    commands = {command for command, _ in proxy.requests}
    assert commands <= _SESSION | {0x6F, 0x70}
    services = _services(proxy)
    assert (0x4C, 0x91) in services or (0x0A, 0x02) in services
    assert services <= _READS, services - _READS
    # cpppo's own log: the tags the server set up are the ones read, no others
    text = log.read_text(errors="replace")
    assert "Set Tag Status" in text


def test_a_logix_write_through_the_internals_never_reaches_the_cpppo_server(cpppo_server):
    proxy, _ = cpppo_server
    reader = LogixReader("127.0.0.1", proxy.port, {"Status": "DINT"})
    try:
        assert reader.read(["Status"]) == [3]
        driver = reader._LogixReader__driver  # reaching past the API on purpose
        with pytest.raises(ReadOnlyViolation, match="WriteTag"):
            driver.write(("Status", 9))
        with pytest.raises(ReadOnlyViolation, match="service"):
            driver.generic_message(service=0x10, class_code=0x01, instance=1, attribute=7)
    finally:
        reader.close()
    assert reader_value(proxy.port) == 3
    assert _services(proxy) <= _READS


def reader_value(port: int) -> int:
    reader = LogixReader("127.0.0.1", port, {"Status": "DINT"})
    try:
        return reader.read(["Status"])[0]
    finally:
        reader.close()


def test_a_poll_group_of_logix_tags_is_one_multiple_service_packet_on_one_connection(tmp_path):
    """40 tags polled together: one session and one connection for the whole run, and every
    poll one Multiple Service Packet with all 40 Read Tag requests in it (not one request per
    tag, as the first benchmark did)."""
    port = free_port()
    tags = [f"T{i}" for i in range(40)]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cpppo.server.enip",
            "--address",
            f"127.0.0.1:{port}",
            *(f"{t}=DINT" for t in tags),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc)
        proxy = RecordingProxy(free_port(), ("127.0.0.1", port), enip_requests)
        source = _logix_source(proxy.port)
        source["signals"] = [
            {
                "name": f"t{i}",
                "data_class": "machine-status",
                "interval_s": 0.3,
                "logix": {"tag": t, "type": "DINT"},
            }
            for i, t in enumerate(tags)
        ]
        got = _sample(source, seconds=3)
        proxy.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert got == {f"t{i}": 0 for i in range(40)}
    commands = [command for command, _ in proxy.requests]
    assert commands.count(0x65) == 1, "one RegisterSession: the connection is kept"
    polls = [services for command, services in proxy.requests if (0x4C, 0x91) in services]
    assert len(polls) >= 3
    for services in polls:
        assert services.count((0x0A, 0x02)) == 1
        assert services.count((0x4C, 0x91)) == 40
