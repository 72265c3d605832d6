"""Tokens that inventory text may contribute to a generated file, each checked before use.

Inventory text is data, never code. Every value that reaches an nftables rule, a Mosquitto
configuration or ACL, an `authorized_keys` option or a file path goes through one of these
functions first: each accepts only the narrow shape that is safe where it is used (no quotes,
spaces, commas, newlines, wildcards or path separators) and raises UnsafeToken otherwise. The
schemas already enforce most of these shapes; this is the second lock, at the point of use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from netaddr import AddrFormatError, IPAddress, IPNetwork

# The inventory's JSON Schemas are the one source of the shapes of ids, Unix accounts and SSH
# key types. Copies that cannot read them (the collector, shipped alone to gateways; the gateway
# roles' asserts) are compared with them by tests/test_single_sources.py.
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "inventory" / "schema"


def schema_pattern(file: str, *pointer: str) -> str:
    """The `pattern` at `pointer` in inventory/schema/`file`, without its ^ and $ anchors.

    Used with fullmatch, which anchors at the very end (the schema's `$` would let a final
    newline through in Python's re): this lock is never weaker than the schema's."""
    node = json.loads((SCHEMA_DIR / file).read_text(encoding="utf-8"))
    for part in pointer:
        node = node[part]
    pattern = str(node["pattern"])
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise RuntimeError(f"{file} {'/'.join(pointer)}: pattern {pattern!r} is not ^...$")
    return pattern[1:-1]


ID = re.compile(schema_pattern("defs.schema.json", "$defs", "id"))
UNIX_USER = re.compile(schema_pattern("defs.schema.json", "$defs", "unix_account"))
# A code-host team (@org/team) or user (@login), as CODEOWNERS names owners.
TEAM_HANDLE = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]{0,38}(/[A-Za-z0-9][A-Za-z0-9._-]{0,99})?")
IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
# A key type and its base64 body, as ssh-keygen writes them; no options, no comment. The key
# types are those of people.yaml's ssh_public_key (`^(<type>|...) <body>( <comment>)?$`): keys
# given from outside the inventory (a stack's sshKeys) are held to the same types.
_PERSON_KEY = schema_pattern(
    "people.schema.json", "properties", "people", "items", "properties", "ssh_public_key"
)
_KEY_TYPES = re.fullmatch(r"(\([a-z0-9@.|\\-]+\)) .*", _PERSON_KEY)
if _KEY_TYPES is None:
    raise RuntimeError(f"people.schema.json: ssh_public_key {_PERSON_KEY!r} is not '(types) ...'")
SSH_KEY_TYPE = re.compile(_KEY_TYPES.group(1))
SSH_KEY_BODY = re.compile(r"[A-Za-z0-9+/]{16,16384}={0,3}")


class UnsafeToken(ValueError):
    """A value that must not reach a generated file in this form."""


def _fail(what: str, value: object, shape: str) -> UnsafeToken:
    return UnsafeToken(f"{what} {value!r} is not {shape}; refusing to write it into a config")


def ident(value: object, what: str = "id") -> str:
    """An inventory id: lower-case letters, digits and dashes, starting with a letter."""
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise _fail(what, value, "an id (a-z, 0-9, '-', starting with a letter)")
    return value


def unix_user(value: object, what: str = "account") -> str:
    if not isinstance(value, str) or not UNIX_USER.fullmatch(value):
        raise _fail(what, value, "a Unix account name (a-z, 0-9, '_', '-', at most 32)")
    return value


def team_handle(value: object, what: str = "team handle") -> str:
    if not isinstance(value, str) or not TEAM_HANDLE.fullmatch(value):
        raise _fail(what, value, "a code-host handle (@org/team)")
    return value


def ifname(value: object, what: str = "interface") -> str:
    if not isinstance(value, str) or not IFNAME.fullmatch(value):
        raise _fail(what, value, "a network interface name (at most 15 of A-Z a-z 0-9 _ . -)")
    return value


def ipv4(value: object, what: str = "address") -> str:
    """A dotted IPv4 address, returned in its canonical form."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9.]{7,15}", value):
        raise _fail(what, value, "an IPv4 address")
    try:
        return str(IPAddress(value, version=4))
    except (AddrFormatError, ValueError) as exc:
        raise _fail(what, value, "an IPv4 address") from exc


def cidr(value: object, what: str = "network") -> str:
    """An IPv4 network (or a single address, which becomes /32), canonical."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9.]{7,15}(/[0-9]{1,2})?", value):
        raise _fail(what, value, "an IPv4 network")
    try:
        net = IPNetwork(value, version=4)
    except (AddrFormatError, ValueError) as exc:
        raise _fail(what, value, "an IPv4 network") from exc
    return str(net.cidr) if net.size > 1 else str(net.ip)


def port(value: object, what: str = "port") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise _fail(what, value, "a port number 1-65535")
    return value


def protocol(value: object, what: str = "protocol") -> str:
    if value not in ("tcp", "udp", "icmp", "any"):
        raise _fail(what, value, "one of tcp, udp, icmp, any")
    return value


def ssh_public_key(value: object, what: str = "public key") -> str:
    """`<type> <base64>` only: anything after (a comment, options) is dropped, never copied."""
    if not isinstance(value, str):
        raise _fail(what, value, "an SSH public key")
    parts = value.strip().split()
    if len(parts) < 2 or not SSH_KEY_TYPE.fullmatch(parts[0]):
        raise _fail(what, value[:40], "an SSH public key ('ssh-ed25519 AAAA...')")
    if not SSH_KEY_BODY.fullmatch(parts[1]):
        raise _fail(what, value[:40], "an SSH public key (base64 body)")
    return f"{parts[0]} {parts[1]}"


def path_segment(value: object, what: str = "file name") -> str:
    """A single file-name segment derived from an id (never '..', never a separator)."""
    return ident(value, what)
