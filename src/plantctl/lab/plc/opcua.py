"""An OPC UA PLC: asyncua's server with the source's variables."""

from __future__ import annotations

import asyncio
import time

from plantctl.collector.config import Source
from plantctl.lab.plc.model import Recorder, _opcua_type, _ready, expected, opcua_point


async def serve_opcua(source: Source, bind: str, port: int, recorder: Recorder) -> None:
    from asyncua import Server, ua
    from asyncua.server import uaprocessor

    original = uaprocessor.UaProcessor._process_message

    async def recording(self, typeid, requesthdr, seqhdr, body):
        name = ua.ObjectIdNames.get(typeid.Identifier, str(typeid.Identifier))
        recorder.record(
            protocol="opcua", service=name.removesuffix("Request_Encoding_DefaultBinary")
        )
        return await original(self, typeid, requesthdr, seqhdr, body)

    # This process is the simulator and nothing else: recording every service it answers.
    uaprocessor.UaProcessor._process_message = recording  # type: ignore[method-assign]

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{bind}:{port}/")
    server.set_server_name(f"plantctl lab PLC {source.machine}")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    needed = max(int(opcua_point(s).node_id.split(";")[0][3:]) for s in source.signals)
    while len(await server.get_namespace_array()) <= needed:
        await server.register_namespace(
            f"urn:plantctl:lab:{source.machine}:{len(await server.get_namespace_array())}"
        )
    started = time.time()
    nodes = []
    for sig in source.signals:
        vtype = getattr(ua.VariantType, _opcua_type(sig))
        node = await server.nodes.objects.add_variable(
            ua.NodeId.from_string(opcua_point(sig).node_id),
            f"2:{sig.name}",
            ua.Variant(expected(sig, 0), vtype),
        )
        nodes.append((sig, node, vtype))
    async with server:
        _ready(started, recorder)
        while True:
            elapsed = time.time() - started
            for sig, node, vtype in nodes:
                await node.write_value(ua.Variant(expected(sig, elapsed), vtype))
            await asyncio.sleep(0.25)
