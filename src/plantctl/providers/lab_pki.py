"""The lab's certificate authority for the broker, made with `cryptography` at apply time.

    <dir>/ca.crt, ca.key            the lab CA (EC P-256, 2 years)
    <dir>/server.crt, server.key    the broker: CN and DNS = its id, IP SAN = its address
    <dir>/clients/<account>.crt/.key  one client certificate per broker account (CN = account)

Issuing is idempotent: what exists and still fits is kept, what is missing is made, certificates
of accounts that are gone are removed. Private keys are written 0600 and never leave the lab
state directory (Pulumi's state holds only their paths and a fingerprint of the certificates).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ACCOUNT = re.compile(r"(collector|role)\.[a-z][a-z0-9-]{0,62}")
VALID_DAYS = 730


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "plantctl lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_ca(cn: str = "plantctl lab CA"):
    """A new CA key and self-signed certificate (also used by tests for a foreign CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_cert(ca_key, ca_cert, cn: str, *, server_ip: str | None = None):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if server_ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(cn), x509.IPAddress(ipaddress.ip_address(server_ip))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


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
        _write(directory / "ca.key", _key_pem(ca_key), 0o600)
        _write(directory / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    ca_key, ca_cert = _load(directory)
    if not _server_fits(directory, server["id"], server["address"]):
        key, cert = issue_cert(ca_key, ca_cert, server["id"], server_ip=server["address"])
        _write(directory / "server.key", _key_pem(key), 0o600)
        _write(directory / "server.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)
    clients = directory / "clients"
    clients.mkdir(exist_ok=True, mode=0o700)
    wanted = set()
    for account in accounts:
        if not ACCOUNT.fullmatch(account):
            raise ValueError(f"broker account {account!r} is not collector.<id> or role.<id>")
        wanted.add(account)
        if not (clients / f"{account}.crt").exists() or not (clients / f"{account}.key").exists():
            key, cert = issue_cert(ca_key, ca_cert, account)
            _write(clients / f"{account}.key", _key_pem(key), 0o600)
            _write(clients / f"{account}.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644)
    for path in clients.iterdir():
        if path.suffix in (".crt", ".key") and path.stem not in wanted:
            path.unlink()
    digest = hashlib.sha256()
    for path in sorted([directory / "ca.crt", directory / "server.crt", *clients.glob("*.crt")]):
        digest.update(path.name.encode() + path.read_bytes())
    return {"ca_file": str(directory / "ca.crt"), "fingerprint": digest.hexdigest()}
