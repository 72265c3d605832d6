"""The lab's certificate authority (the one of the project), made with `cryptography`.

`make_ca` and `issue_cert` make keys (EC P-256) and certificates; `Authority` keeps a throwaway
CA in a directory for one lab run or test (valid two days): brokers get server certificates with
their IP addresses and names as subjectAltName; gateways and test clients get client
certificates whose common name is their broker account (`gateway.<id>` for a gateway:
plant/broker_access.py; Mosquitto's `use_identity_as_username` makes that the MQTT user
name). The lab stack's broker set (providers/lab_pki.py) is issued with the same two functions.
Private keys are written 0600 and stay in the lab's directory; nothing here is
ever committed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from plantctl.core import atomic

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RUN_DAYS = 2  # an Authority lives for one lab run or test


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "plantctl lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _window(days: int) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)


def make_ca(cn: str = "plantctl lab CA", days: int = 730):
    """A new CA key and self-signed certificate (also used by tests for a foreign CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _window(days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
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


def issue_cert(
    ca_key,
    ca_cert,
    cn: str,
    *,
    server_ip: str | None = None,
    ips: tuple[str, ...] = (),
    dns: tuple[str, ...] = (),
    server: bool = False,
    days: int = 730,
):
    """A key and a certificate for `cn`: client use, or server use (`server`, or a `server_ip`)
    with the common name, `dns` names and the addresses as subjectAltName."""
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _window(days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    addresses = (*((server_ip,) if server_ip else ()), *ips)
    if server or addresses:
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dict.fromkeys((cn, *dns))]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        builder = builder.add_extension(
            x509.SubjectAlternativeName(names), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


@dataclass(frozen=True)
class Credential:
    name: str
    cert: Path
    key: Path


class Authority:
    """A throwaway CA in `directory` (ca.pem, ca.key) issuing `<name>.pem` and `<name>.key`."""

    def __init__(self, directory: Path, name: str = "plantctl-lab-ca"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert = self.dir / "ca.pem"
        self.key = self.dir / "ca.key"
        if not self.cert.exists():
            ca_key, ca_cert = make_ca(_checked(name), RUN_DAYS)
            atomic.write_bytes(self.key, key_pem(ca_key), 0o600)
            atomic.write_bytes(self.cert, cert_pem(ca_cert), 0o644)

    def issue(
        self,
        name: str,
        *,
        server: bool = False,
        ips: tuple[str, ...] = (),
        dns: tuple[str, ...] = (),
    ) -> Credential:
        """A key and certificate for `name` (client use, or server use with SANs)."""
        ca_key = serialization.load_pem_private_key(self.key.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        key, cert = issue_cert(
            ca_key,
            ca_cert,
            _checked(name),
            ips=tuple(ips) if server else (),
            dns=tuple(_checked(d) for d in dns) if server else (),
            server=server,
            days=RUN_DAYS,
        )
        key_path, cert_path = self.dir / f"{name}.key", self.dir / f"{name}.pem"
        atomic.write_bytes(key_path, key_pem(key), 0o600)
        atomic.write_bytes(cert_path, cert_pem(cert), 0o644)
        return Credential(name, cert_path, key_path)


def _checked(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(f"certificate names are letters, digits, '.', '_' and '-': {name!r}")
    return name
