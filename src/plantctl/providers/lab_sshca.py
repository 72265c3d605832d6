"""The lab bastion's SSH user CA and the grants' certificates, made at apply time.

The CA key (`<directory>/ca`, 0600) stays in the lab state directory, beside the people's keys;
Pulumi's state holds its public key, the certificates' paths and a fingerprint. Each grant's
certificate (`<directory>/<grant>-cert.pub`) is what the lab hands to the grantee with their own
key: `ssh -i KEY -o CertificateFile=<grant>-cert.pub`. It is valid from the grant's start to
its end (plantctl.configs.ssh_certs), so sshd itself refuses it before and after. The CA is kept
across updates (a new one would invalidate every certificate handed out); certificates are signed
again on every change of the grants. The key revocation list (`<directory>/revoked.krl`, sshd's
RevokedKeys) lists the key ids of the grants whose revocation is in force; it always exists (an
unreadable RevokedKeys file makes sshd refuse every key), and `plantctl access revoke` rewrites it
with `write_krl` too.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from pathlib import Path

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from plantctl.configs import ssh_certs
from plantctl.lab import process
from plantctl.model import tokens

KRL = "revoked.krl"


def write_krl(directory: str | Path, key_ids: list[str]) -> Path:
    """The KRL of the CA in `directory` revoking these certificate key ids (replaced atomically:
    sshd reads it on every login)."""
    folder = Path(directory)
    spec = folder / "revoked.spec"
    spec.write_text(ssh_certs.krl_spec(key_ids))
    tmp = folder / f"{KRL}.new"
    tmp.unlink(missing_ok=True)
    process.run(["ssh-keygen", "-q", "-k", "-f", str(tmp), "-s", str(folder / "ca.pub"), str(spec)])
    tmp.chmod(0o644)
    return tmp.replace(folder / KRL)


def issue(directory: str | Path, certs: list[dict], revoked: Iterable[str] = ()) -> dict:
    """The CA (made once), one certificate per {grant, key_id, principal, window, public_key}
    and the KRL of the `revoked` key ids."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = folder / "ca"
    if not ca.exists():
        process.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "plantctl-bastion-ca",
                     "-f", str(ca)])  # fmt: skip
    wanted = set()
    digest = hashlib.sha256(ca.with_suffix(".pub").read_bytes())
    paths = {}
    for serial, cert in enumerate(sorted(certs, key=lambda c: c["grant"]), start=1):
        grant = tokens.unix_user(cert["grant"], "grant id")
        pub = folder / f"{grant}.pub"
        pub.write_text(tokens.ssh_public_key(cert["public_key"], "grantee key") + "\n")
        out = folder / f"{grant}-cert.pub"
        out.unlink(missing_ok=True)
        process.run(
            ssh_certs.sign_args(
                str(ca), cert["key_id"], cert["principal"], cert["window"], serial, str(pub)
            )
        )
        wanted |= {pub.name, out.name}
        digest.update(out.read_bytes())
        paths[grant] = str(out)
    for old in folder.glob("*.pub"):
        if old.name not in wanted and old.name != "ca.pub":
            old.unlink()
    krl = write_krl(folder, list(revoked))
    digest.update(krl.read_bytes())
    return {
        "ca_file": str(ca.with_suffix(".pub")),
        "krl_file": str(krl),
        "ca_public": ca.with_suffix(".pub").read_text().strip(),
        "certificates": paths,
        "fingerprint": digest.hexdigest(),
    }


def _clean(props: dict) -> dict:
    return {k: v for k, v in props.items() if k != "__provider"}


class UserCaProvider(ResourceProvider):
    def create(self, props):
        props = _clean(props)
        outs = issue(props["directory"], list(props["certs"]), list(props.get("revoked") or []))
        return CreateResult(id_=outs["ca_file"], outs={**props, **outs})

    def diff(self, _id, olds, news):
        changed = [k for k in ("directory", "certs", "revoked") if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k == "directory"]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id, olds, news):
        news = _clean(news)
        revoked = list(news.get("revoked") or [])
        return UpdateResult(outs={**news, **issue(news["directory"], list(news["certs"]), revoked)})

    def delete(self, _id, props):
        shutil.rmtree(props["directory"], ignore_errors=True)


class UserCa(pulumi.dynamic.Resource):
    ca_file: pulumi.Output[str]
    ca_public: pulumi.Output[str]
    krl_file: pulumi.Output[str]
    certificates: pulumi.Output[dict]
    fingerprint: pulumi.Output[str]

    def __init__(self, name, *, directory: str, certs: list, revoked: Iterable = (), opts=None):
        super().__init__(
            UserCaProvider(),
            name,
            {
                "directory": directory,
                "certs": certs,
                "revoked": list(revoked),
                "ca_file": None,
                "krl_file": None,
                "ca_public": None,
                "certificates": None,
                "fingerprint": None,
            },
            opts,
        )
