"""PLC simulators: a machine's controller as a server that records requests: pymodbus (Modbus
TCP), asyncua (OPC UA), python-snap7's own server (S7) and cpppo's EtherNet/IP server (Logix
tags), the last two third-party simulators the project did not write.

A simulator serves exactly the signals a collector configuration reads from one machine (a
`config.Source`): Modbus coils, discrete inputs, holding and input registers at the configured
addresses, OPC UA variables with the configured node ids, S7 data blocks, inputs, outputs and
markers at the configured byte offsets, or Logix tags (arrays for `Name[i]` signals). Values
follow a small model so a test can check what arrives (`expected`):

- counters (production counts, energy): start value + 1 per second since the simulator started;
- machine status: cycles through STATUS_CYCLE, one state per STATUS_PERIOD_S seconds;
- everything else: a constant derived from the signal name;
- or, with a `Scenario` (scenario.py, Modbus), a scripted run on a compressed clock: a machine
  that stops for a while, a counter that pauses with it, a sensor that freezes.

Every request the server receives is appended to a JSON-lines record file before it is handled:
Modbus `{"protocol": "modbus", "function": 3, ...}`, OPC UA `{"protocol": "opcua", "service":
"Read"}`, S7 `{"protocol": "s7", "rosctr": 1, "function": 4}` (each S7 PDU as snap7's server
received it, decoded here) and snap7's own data events (`{"protocol": "s7-event", "code": ...}`),
EtherNet/IP `{"protocol": "enip", "command": 111, "services": [[76, 145]]}` (every encapsulation
request and the CIP services in it, nested Unconnected Send and Multiple Service Packet
included, decoded by a recording proxy in front of cpppo's server). `PlcSimulator.writes()`
lists any request that is not a read, so a test can prove none ever arrived.

Run one with `PlcSimulator(source, record=..., netns=...)` (a child process, in a lab namespace
or on loopback), or directly: `python -m plantctl.lab.plc --spec FILE --bind ADDR --port N
--record FILE`.
"""

from __future__ import annotations

from plantctl.lab.plc.model import CIP_READ_SERVICES, S7_EVENT_DATA_READ, Model, expected
from plantctl.lab.plc.scenario import Scenario
from plantctl.lab.plc.simulator import PlcSimulator, main

__all__ = [
    "CIP_READ_SERVICES",
    "S7_EVENT_DATA_READ",
    "Model",
    "PlcSimulator",
    "Scenario",
    "expected",
    "main",
]
