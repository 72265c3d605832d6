"""The signed policy bundle: `opa build` of policies/ without what does not judge (the tests,
their fixture lib/fixture.rego, the input schemas of schema/), signed with a key given at build
time. `plantctl check --bundle B --verification-key K` (or PLANTCTL_BUNDLE and
PLANTCTL_VERIFICATION_KEY) has OPA verify the signature and every file's digest before it loads
anything; a bundle that does not verify is refused (exit 4). Keys are never in the repository."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path

from plantctl.gate.engine import EngineUnavailable, opa_binary


class BuildFailed(Exception):
    """opa build refused the policies or the key."""


def build(policies: Path, signing_key: Path, output: Path, alg: str = "RS256") -> str:
    """Write the signed bundle to output (replaced whole); returns its sha256."""
    policies, signing_key, output = Path(policies), Path(signing_key), Path(output)
    if not policies.is_dir():
        raise BuildFailed(f"policies folder {policies} does not exist")
    if not signing_key.is_file():
        raise BuildFailed(f"signing key {signing_key} does not exist")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".bundle-") as tmp:
        partial = Path(tmp) / output.name
        try:
            opa = opa_binary()
        except EngineUnavailable as exc:
            raise BuildFailed(str(exc)) from None
        # Run inside policies/ so that the bundle's paths are relative (approvals/...).
        done = subprocess.run(
            [
                opa,
                "build",
                "--bundle",
                ".",
                "--ignore",
                "*_test.rego",
                # Neither the input schemas (opa check --schema) nor the tests' fixture judge.
                "--ignore",
                "schema",
                "--ignore",
                "fixture.rego",
                "--signing-key",
                str(signing_key.resolve()),
                "--signing-alg",
                alg,
                "--output",
                str(partial.resolve()),
            ],
            cwd=policies,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BuildFailed(f"opa build failed: {done.stderr.strip()[-1500:]}")
        partial.replace(output)
    return hashlib.sha256(output.read_bytes()).hexdigest()
