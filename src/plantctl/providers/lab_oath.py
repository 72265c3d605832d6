"""TOTP seeds of the lab bastion's MFA grant accounts, made at apply time on the bastion's side.

The seeds live in one file, pam_oath's users file (`<directory>/users.oath`, 0600, in the lab
state directory next to the lab's keys and CA), which the bastion machine gets a copy of at
/etc/plantctl/oath/users.oath. Pulumi's state holds the file's path and a fingerprint, never a
seed. An account keeps its seed across updates (its grantee enrolled it once); a new MFA account
gets a new one, a removed account's seed is dropped. `plantctl access otp-uri` reads the file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from plantctl.configs import pam_oath

USERS = "users.oath"


def users_file(directory: str | Path) -> Path:
    return Path(directory) / USERS


def issue(directory: str | Path, accounts: list[str]) -> dict:
    """Write the users file for `accounts` (existing seeds kept); its path and fingerprint."""
    path = users_file(directory)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    known = pam_oath.parse_users(path.read_text()) if path.exists() else {}
    seeds = [
        pam_oath.Seed(a, known.get(a) or secrets.token_hex(pam_oath.SEED_BYTES))
        for a in sorted(set(accounts))
    ]
    text = pam_oath.render_users(seeds)
    tmp = path.with_suffix(".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return {"users_file": str(path), "fingerprint": hashlib.sha256(text.encode()).hexdigest()}


def _clean(props: dict) -> dict:
    return {k: v for k, v in props.items() if k != "__provider"}


class OathSeedsProvider(ResourceProvider):
    def create(self, props):
        props = _clean(props)
        outs = issue(props["directory"], list(props["accounts"]))
        return CreateResult(id_=outs["users_file"], outs={**props, **outs})

    def diff(self, _id, olds, news):
        changed = [k for k in ("directory", "accounts") if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k == "directory"]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id, olds, news):
        news = _clean(news)
        return UpdateResult(outs={**news, **issue(news["directory"], list(news["accounts"]))})

    def delete(self, _id, props):
        users_file(props["directory"]).unlink(missing_ok=True)


class OathSeeds(pulumi.dynamic.Resource):
    users_file: pulumi.Output[str]
    fingerprint: pulumi.Output[str]

    def __init__(self, name, *, directory: str, accounts: list[str], opts=None):
        super().__init__(
            OathSeedsProvider(),
            name,
            {"directory": directory, "accounts": accounts, "users_file": None, "fingerprint": None},
            opts,
        )
