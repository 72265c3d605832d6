"""No code path of the collector can send a write to a machine: refused in the configuration,
absent from the API, and stopped on the wire. The recording simulators prove nothing arrived."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys

import pytest

from plantctl.collector import config
from plantctl.collector.modbus import ModbusReader, only_reads
from plantctl.collector.opcua import OpcUaReader
from plantctl.collector.readonly import ReadOnlyViolation
from plantctl.model.loader import load
from plantctl.plant import collector_config


def _doc(inventory, gateway="gw-rw-02") -> dict:
    return copy.deepcopy(collector_config.render(inventory, gateway))


@pytest.mark.parametrize("function", [5, 6, 15, 16, 22, 23, 8, 0x2B])
def test_a_modbus_write_function_is_refused(inventory, function):
    doc = _doc(inventory)
    doc["sources"][0]["signals"][1]["modbus"]["function"] = function
    with pytest.raises(config.ConfigError) as err:
        config.parse(doc)
    assert f"Modbus function code {function} is not a read" in str(err.value)
    assert "col-rw-press-01/shot-count" in str(err.value)


@pytest.mark.parametrize("operation", ["write", "call", "history-update"])
def test_an_opcua_write_operation_is_refused(inventory, operation):
    doc = _doc(inventory, "gw-rw-01")
    doc["sources"][0]["signals"][0]["opcua"]["operation"] = operation
    with pytest.raises(config.ConfigError, match=f"OPC UA operation '{operation}' is not allowed"):
        config.parse(doc)


def test_the_inventory_cannot_render_a_writing_collector(sample):
    path = sample / "sites/ridgeway/collectors.yaml"
    text = path.read_text()
    path.write_text(
        text.replace("modbus: {function: 3, address: 0}", "modbus: {function: 6, address: 0}", 1)
    )
    inv = load(sample)
    with pytest.raises(config.ConfigError, match="function code 6 is not a read"):
        collector_config.render(inv, "gw-rw-02")


def test_the_collector_exits_2_on_a_write_config_and_reads_nothing(loopback_config, plcs, tmp_path):
    doc = loopback_config("gw-rw-02")
    sims = plcs(doc)
    doc["sources"][0]["signals"][0]["modbus"]["function"] = 16
    path = tmp_path / "writes.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.run(
        [sys.executable, "-m", "plantctl.collector", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "invalid configuration" in proc.stderr
    assert "Modbus function code 16 is not a read" in proc.stderr
    assert "nothing was read" in proc.stderr
    for sim in sims.values():
        assert sim.requests() == []


def test_check_mode_accepts_the_rendered_configuration(inventory, tmp_path):
    path = tmp_path / "gw.json"
    path.write_text(json.dumps(collector_config.render(inventory, "gw-rw-01")))
    proc = subprocess.run(
        [sys.executable, "-m", "plantctl.collector", "--config", str(path), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid (6 signals, 2 machines, reads only)" in proc.stdout


def test_the_modbus_reader_has_no_write_method():
    public = [n for n in dir(ModbusReader) if not n.startswith("_")]
    assert sorted(public) == [
        "close",
        "connect",
        "connected",
        "host",
        "port",
        "read",
        "read_coils",
        "read_discrete_inputs",
        "read_holding_registers",
        "read_input_registers",
        "unit_id",
    ]


def test_the_wire_check_stops_a_modbus_write_pdu():
    from pymodbus.pdu.register_message import WriteSingleRegisterRequest

    with pytest.raises(ReadOnlyViolation, match="function code 6"):
        only_reads(True, WriteSingleRegisterRequest(address=0, registers=[1], dev_id=1))


def test_a_write_through_the_modbus_internals_never_reaches_the_plc(loopback_config, plcs):
    doc = loopback_config("gw-rw-02")
    sim = plcs(doc)["rw-press-01"]
    src = config.parse(doc).sources[0]

    async def attempt():
        reader = ModbusReader(src.address, src.port, src.unit_id)
        await reader.connect()
        assert await reader.read_holding_registers(0) == [sim.expected("status")]
        with pytest.raises(ReadOnlyViolation):
            await reader.read(6, 0, 1)
        client = reader._ModbusReader__client  # reaching past the API on purpose
        with pytest.raises(ReadOnlyViolation):
            await client.write_register(0, 42, device_id=src.unit_id)
        reader.close()

    asyncio.run(attempt())
    assert [r["function"] for r in sim.requests()] == [3]
    assert sim.writes() == []


def test_a_write_through_the_opcua_internals_never_reaches_the_plc(loopback_config, plcs):
    from asyncua import ua

    doc = loopback_config("gw-rw-01")
    sim = plcs(doc)["rw-cnc-01"]
    src = config.parse(doc).sources[0]
    node = src.signals[1].opcua.node_id

    async def attempt():
        reader = OpcUaReader(f"opc.tcp://{src.address}:{src.port}/")
        await reader.connect()
        try:
            assert (await reader.read([node]))[0] >= 1000
            client = reader._OpcUaReader__client  # reaching past the API on purpose
            with pytest.raises(ReadOnlyViolation, match="Write"):
                await client.get_node(node).write_value(ua.Variant(0, ua.VariantType.UInt32))
            with pytest.raises(ReadOnlyViolation, match="Call"):
                await client.nodes.server.call_method(
                    ua.NodeId(ua.ObjectIds.Server_GetMonitoredItems),
                    ua.Variant(1, ua.VariantType.UInt32),
                )
        finally:
            await reader.close()

    asyncio.run(attempt())
    services = [r["service"] for r in sim.requests()]
    assert "Read" in services
    assert sim.writes() == []
    assert not {"Write", "Call"} & set(services)
