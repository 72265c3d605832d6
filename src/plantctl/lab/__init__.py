"""The lab: a plant on one machine, built from the inventory (see README.md in this folder).

Public interface (small on purpose; the Pulumi lab target builds on it):

    Lab                  one run: prefix, state, cleanup           (run.py)
    Namespace            a network namespace                       (netns.py)
    SiteNetwork, Switch  zones as bridges + a router namespace     (network.py)
    Machine, File        a booted Debian machine (systemd-nspawn)  (machine.py)
    PlcSimulator         a recording Modbus/OPC UA PLC             (plc.py)
    Authority            a throwaway CA                            (pki.py)
    cleanup.remove(prefix), cleanup.remove_stale()                 (cleanup.py)
"""

from plantctl.lab.machine import File, Machine, MachineError
from plantctl.lab.netns import Namespace
from plantctl.lab.network import SiteNetwork, Switch
from plantctl.lab.pki import Authority, Credential
from plantctl.lab.plc import PlcSimulator
from plantctl.lab.run import Lab

__all__ = [
    "Authority",
    "Credential",
    "File",
    "Lab",
    "Machine",
    "MachineError",
    "Namespace",
    "PlcSimulator",
    "SiteNetwork",
    "Switch",
]
