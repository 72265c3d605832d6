"""The lab broker's certificates at apply time, from the lab's one CA (plantctl.lab.pki).

    <dir>/ca.crt, ca.key            the lab CA (EC P-256, 2 years)
    <dir>/server.crt, server.key    the broker: CN and DNS = its id, IP SAN = its address
    <dir>/clients/<account>.crt/.key  one client certificate per broker account (CN = account:
                                      gateway.<id> or role.<id>)

Issuing is idempotent: what exists and still fits is kept, what is missing is made, certificates
of accounts that are gone are removed. Private keys are written 0600 and never leave the lab
state directory (Pulumi's state holds only their paths and a fingerprint of the certificates).
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from plantctl.core import atomic
from plantctl.lab.pki import issue_cert, key_pem, make_ca
from plantctl.plant.broker_access import ACCOUNT


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic.write_bytes(path, data, mode)


def _load(directory: Path):
    key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    return key, cert


def _server_fits(directory: Path, cn: str, ip: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate((directory / "server.crt").read_bytes())
    except FileNotFoundError:
        return False
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
        and ipaddress.ip_address(ip) in sans.get_values_for_type(x509.IPAddress)
        and (directory / "server.key").exists()
    )


def issue(directory: Path, server: dict, accounts: list[str]) -> dict:
    """Make what is missing; return {ca_file, fingerprint} (fingerprint of every certificate)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (directory / "ca.key").exists() or not (directory / "ca.crt").exists():
        ca_key, ca_cert = make_ca()
        _write(directory / "ca.key", key_pem(ca_key), 0o600)
        _write(directory / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    ca_key, ca_cert = _load(directory)
    if not _server_fits(directory, server["id"], server["address"]):
        key, cert = issue_cert(ca_key, ca_cert, server["id"], server_ip=server["address"])
        _write(directory / "server.key", key_pem(key), 0o600)
        _write(directory / "server.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)
    clients = directory / "clients"
    clients.mkdir(exist_ok=True, mode=0o700)
    wanted = set()
    for account in accounts:
        if not ACCOUNT.fullmatch(account):
            raise ValueError(f"broker account {account!r} is not gateway.<id> or role.<id>")
        wanted.add(account)
        if not (clients / f"{account}.crt").exists() or not (clients / f"{account}.key").exists():
            key, cert = issue_cert(ca_key, ca_cert, account)
            _write(clients / f"{account}.key", key_pem(key), 0o600)
            _write(clients / f"{account}.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)
    for path in clients.iterdir():
        if path.suffix in (".crt", ".key") and path.stem not in wanted:
            path.unlink()
    digest = hashlib.sha256()
    for path in sorted([directory / "ca.crt", directory / "server.crt", *clients.glob("*.crt")]):
        digest.update(path.name.encode() + path.read_bytes())
    return {"ca_file": str(directory / "ca.crt"), "fingerprint": digest.hexdigest()}
