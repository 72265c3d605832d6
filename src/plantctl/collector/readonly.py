"""The read-only rule, in one place: what the collector may ever send to a machine.

Three layers keep writes out, each enough on its own:
1. configuration: config.parse refuses any signal asking for a write (exit 2, nothing read);
2. API: the protocol wrappers (modbus.py, opcua.py) have no method that writes;
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


class ReadOnlyViolation(RuntimeError):
    """Something tried to send a request that is not a read. Never caught by the collector."""
