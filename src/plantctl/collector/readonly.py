"""The read-only rule, in one place: what the collector may ever send to a machine.

Three layers keep writes out, each enough on its own:
1. configuration: config.parse refuses any signal asking for a write (exit 2, nothing read);
2. API: the protocol wrappers (modbus.py, opcua.py, s7.py, logix.py) have no method that writes;
3. wire: each wrapper checks every request just before it is encoded and raises
   ReadOnlyViolation for anything not on the allowlists below.
"""

from __future__ import annotations

# Modbus: 1 read coils, 2 read discrete inputs, 3 read holding registers, 4 read input registers.
MODBUS_READ_FUNCTIONS = frozenset({1, 2, 3, 4})

# OPC UA services (request type names without "Request") the collector's client may send:
# reading values, subscriptions, and the session housekeeping both need. Write, Call,
# HistoryUpdate, AddNodes, DeleteNodes, AddReferences, DeleteReferences are absent on purpose.
OPCUA_ALLOWED_SERVICES = frozenset({
    "CreateSession", "ActivateSession", "CloseSession", "GetEndpoints", "FindServers",
    "Read", "Browse", "BrowseNext", "TranslateBrowsePathsToNodeIds",
    "CreateSubscription", "ModifySubscription", "DeleteSubscriptions", "SetPublishingMode",
    "CreateMonitoredItems", "ModifyMonitoredItems", "DeleteMonitoredItems",
    "SetMonitoringMode", "Publish", "Republish",
})  # fmt: skip


# S7comm job functions (the byte after the 10-byte S7 header of a job PDU) the S7 client may
# send: setup communication (PDU size negotiation) and read var. Write var (0x05), block
# download/upload, PLC control/stop and every user-data function (clock, passwords, SZL) are
# absent on purpose.
S7_READ_FUNCTIONS = frozenset({0xF0, 0x04})

# CIP services the EtherNet/IP client may send: Get_Attributes_All (0x01, identity),
# Get_Attribute_Single (0x0E), Multiple_Service_Packet (0x0A, its inner services checked too),
# Read Tag (0x4C), Read Tag Fragmented (0x52 inside a connection), Unconnected Send (0x52),
# Forward Open/Close (0x54, 0x5B, 0x4E). Set_Attribute* (0x02, 0x04, 0x10), Write Tag (0x4D,
# 0x53), Read-Modify-Write Tag (0x4E on a tag), Reset (0x05) are absent on purpose.
CIP_READ_SERVICES = frozenset({0x01, 0x0E, 0x0A, 0x4C, 0x52, 0x54, 0x5B, 0x4E})
# EtherNet/IP encapsulation commands the client may send: ListIdentity, RegisterSession,
# UnRegisterSession, SendRRData, SendUnitData.
ENIP_COMMANDS = frozenset({0x63, 0x65, 0x66, 0x6F, 0x70})


class ReadOnlyViolation(RuntimeError):
    """Something tried to send a request that is not a read. Never caught by the collector."""
