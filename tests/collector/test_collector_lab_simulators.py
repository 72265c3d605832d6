"""The lab's S7 and EtherNet/IP PLC stand-ins (plantctl.lab.plc: python-snap7's own server and
cpppo's EtherNet/IP server, values from the simulator's model, every request recorded) on
loopback, read by the collector's runners: the values are the model's, and the records show the
reads and nothing else. The lab role test (tests/lab) starts the same simulators in the PLCs'
namespaces."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from plantctl.collector import config
from plantctl.collector.sampling import runner_for
from plantctl.lab.mosquitto import free_port
from plantctl.lab.plc import PlcSimulator


def _source(protocol: str, signals: list[dict], **extra) -> config.Source:
    doc = {
        "version": 1,
        "site": "ridgeway",
        "gateway": "gw-test",
        "state_dir": "/tmp/unused",
        "broker": {
            "host": "127.0.0.1",
            "port": 8883,
            "client_id": "gw-test",
            "tls": {"ca_file": "ca.pem", "cert_file": "gw.pem", "key_file": "gw.key"},
        },
        "sources": [
            {
                "id": "col-test",
                "machine": "rw-test-01",
                "protocol": protocol,
                "address": "127.0.0.1",
                "port": free_port(),
                "topic_prefix": "ridgeway/cell-molding/rw-test-01",
                "signals": signals,
                **extra,
            }
        ],
    }
    return config.parse(doc).sources[0]


def _collect(src: config.Source, seconds: float = 2.5) -> dict[str, list[tuple[float, object]]]:
    got: dict[str, list[tuple[float, object]]] = {}

    def sink(samples):
        for topic, fields in samples:
            got.setdefault(topic.rsplit("/", 1)[1], []).append((fields["ts"], fields["value"]))

    runner = runner_for(src, sink, "gw-test")

    async def go():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.run(), seconds)

    asyncio.run(go())
    assert runner.read_errors == 0
    return got


def _signal(name, meaning, point_key, point, interval=0.2):
    return {
        "name": name,
        "data_class": "machine-status",
        "meaning": meaning,
        "interval_s": interval,
        point_key: point,
    }


S7 = [
    _signal("status", "machine-status", "s7", {"area": "db", "db": 10, "offset": 0, "type": "int"}),
    _signal("shot-count", "production-count", "s7", {"area": "db", "db": 10, "offset": 2,
                                                     "type": "dint"}),
    _signal("barrel-temp", "process-value", "s7", {"area": "db", "db": 10, "offset": 6,
                                                   "type": "real"}),
    _signal("door", "alert", "s7", {"area": "inputs", "offset": 0, "bit": 2, "type": "bool"}),
    _signal("mode", "process-value", "s7", {"area": "markers", "offset": 4, "type": "byte"}),
    _signal("energy", "energy-use", "s7", {"area": "db", "db": 20, "offset": 0, "type": "lreal"}),
]  # fmt: skip
LOGIX = [
    _signal("status", "machine-status", "logix", {"tag": "Status", "type": "DINT"}),
    _signal("part-count", "production-count", "logix", {"tag": "PartCount", "type": "DINT"}),
    _signal("rate", "process-value", "logix", {"tag": "Rate", "type": "REAL"}),
    _signal("temp-1", "process-value", "logix", {"tag": "Temps[1]", "type": "INT"}),
    _signal("temp-3", "process-value", "logix", {"tag": "Temps[3]", "type": "INT"}),
    _signal("running", "alert", "logix", {"tag": "Running", "type": "BOOL"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("protocol", "signals", "extra"),
    [("s7", S7, {"rack": 0, "slot": 1}), ("ethernet-ip", LOGIX, {})],
    ids=["s7-snap7-server", "ethernet-ip-cpppo-server"],
)
def test_the_lab_simulator_serves_the_model_and_records_only_reads(
    tmp_path, protocol, signals, extra
):
    src = _source(protocol, signals, **extra)
    with PlcSimulator(src, tmp_path / "plc") as sim:
        got = _collect(src)
        requests = sim.requests()
        writes = sim.writes()
    assert set(got) == {s.name for s in src.signals}
    for sig in src.signals:
        for ts, value in got[sig.name]:
            want = sim.expected(sig.name, ts)
            if sig.meaning in ("production-count", "energy-use"):
                assert abs(value - want) <= 1.5, (sig.name, value, want)
            elif sig.meaning == "machine-status":
                assert value in (1, 2, 3), (sig.name, value)
            else:
                assert value == want, (sig.name, value, want)
    assert requests and writes == []
    if protocol == "s7":
        assert {(r["rosctr"], r["function"]) for r in requests if r["protocol"] == "s7"} == {
            (0x01, 0xF0),
            (0x01, 0x04),
        }
        assert any(r["protocol"] == "s7-event" for r in requests)  # snap7's own data events
    else:
        services = {tuple(s) for r in requests for s in r["services"]}
        assert (0x4C, 0x91) in services or (0x0A, 0x02) in services, services


def test_the_record_would_show_a_write(tmp_path):
    """The check is not vacuous: a Write Tag, an S7 write var and a PLC stop are writes."""
    src = _source("ethernet-ip", LOGIX[:1])
    sim = PlcSimulator(src, tmp_path)
    sim.record_path.write_text(
        '{"protocol": "enip", "command": 111, "services": [[82, 6], [77, 145]]}\n'
        '{"protocol": "enip", "command": 111, "services": [[76, 145]]}\n'
        '{"protocol": "s7", "rosctr": 1, "function": 5}\n'
        '{"protocol": "s7", "rosctr": 1, "function": 41}\n'
        '{"protocol": "s7", "rosctr": 7, "function": null}\n'
        '{"protocol": "s7-event", "code": 262144}\n'
        '{"protocol": "s7", "rosctr": 1, "function": 4}\n'
    )
    assert len(sim.writes()) == 5
