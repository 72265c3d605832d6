"""A throwaway certificate authority for one lab run (openssl, EC P-256, valid two days).

Brokers get server certificates with their IP addresses and names as subjectAltName; gateways
and test clients get client certificates whose common name is their id (Mosquitto's
`use_identity_as_username` makes that the MQTT user name). Private keys stay in the lab's
directory; nothing here is ever committed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from plantctl.lab import process

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DAYS = "2"


@dataclass(frozen=True)
class Credential:
    name: str
    cert: Path
    key: Path


class Authority:
    def __init__(self, directory: Path, name: str = "plantctl-lab-ca"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert = self.dir / "ca.pem"
        self.key = self.dir / "ca.key"
        if not self.cert.exists():
            process.run([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(self.key),
                "-out", str(self.cert), "-days", DAYS, "-subj", f"/CN={_checked(name)}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])  # fmt: skip
            self.key.chmod(0o600)

    def issue(
        self,
        name: str,
        *,
        server: bool = False,
        ips: tuple[str, ...] = (),
        dns: tuple[str, ...] = (),
    ) -> Credential:
        """A key and certificate for `name` (client use, or server use with SANs)."""
        _checked(name)
        key, csr, cert = (
            self.dir / f"{name}.key",
            self.dir / f"{name}.csr",
            self.dir / f"{name}.pem",
        )
        process.run(
            [
                "openssl",
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(csr),
                "-subj",
                f"/CN={name}",
            ]
        )
        key.chmod(0o600)
        ext = self.dir / f"{name}.ext"
        lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature"]
        if server:
            sans = [f"IP:{ipaddress.ip_address(ip)}" for ip in ips]
            sans += [f"DNS:{_checked(d)}" for d in (*dns, name)]
            lines += ["extendedKeyUsage=serverAuth", "subjectAltName=" + ",".join(sans)]
        else:
            lines += ["extendedKeyUsage=clientAuth"]
        ext.write_text("\n".join(lines) + "\n")
        process.run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                str(csr),
                "-CA",
                str(self.cert),
                "-CAkey",
                str(self.key),
                "-CAcreateserial",
                "-out",
                str(cert),
                "-days",
                DAYS,
                "-extfile",
                str(ext),
            ]
        )
        csr.unlink()
        return Credential(name, cert, key)


def _checked(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(f"certificate names are letters, digits, '.', '_' and '-': {name!r}")
    return name
