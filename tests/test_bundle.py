"""The signed policy bundle: built with a key made here (openssl, never committed), verified by
OPA before anything is evaluated; a tampered, unsigned or foreign-signed bundle is refused with
exit 4 and a clear message, and nothing is evaluated."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from plantctl.gate import bundle

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-22T12:00:00Z"


def _keypair(folder: Path, name: str) -> tuple[Path, Path]:
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", str(private)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-out", str(public)],
        check=True, capture_output=True,
    )  # fmt: skip
    return private, public


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return _keypair(folder, "signing"), _keypair(folder, "other")


@pytest.fixture(scope="module")
def signed(keys, tmp_path_factory) -> Path:
    (private, _), _ = keys
    out = tmp_path_factory.mktemp("bundle") / "policies.tar.gz"
    done = subprocess.run(
        ["make", "--no-print-directory", "bundle", f"SIGNING_KEY={private}", f"BUNDLE={out}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _rewrite(src: Path, dst: Path, change) -> Path:
    """A copy of the bundle with change(name, data) -> data applied to every member."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w:gz") as tout:
        for member in tin.getmembers():
            data = tin.extractfile(member).read() if member.isfile() else b""
            data = change(member.name, data)
            if data is None:
                continue
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
    return dst


def _check(plantctl, *args):
    return plantctl("check", "--inventory", str(ROOT / "inventory"), "--now", NOW, *args)


def test_the_signed_bundle_verifies_and_judges(plantctl, keys, signed):
    (_, public), _ = keys
    with tarfile.open(signed) as tar:
        names = tar.getnames()
    assert "/.signatures.json" in names or ".signatures.json" in names
    assert not [n for n in names if n.endswith("_test.rego")]
    assert not [n for n in names if n.endswith(("fixture.rego", ".jsonschema"))]
    run = _check(plantctl, "--bundle", str(signed), "--verification-key", str(public))
    assert run.code == 0, run.err
    assert "PASS" in run.out
    assert plantctl("bundle", "verify", str(signed), "--verification-key", str(public)).code == 0


def test_the_bundle_holds_neither_the_input_schemas_nor_the_test_fixture(keys, tmp_path):
    """What judges is in the bundle; policies/schema/ (opa check --schema) and lib/fixture.rego
    (the Rego tests' sample input) are not, though both are in the policies folder."""
    (private, _), _ = keys
    out = tmp_path / "policies.tar.gz"
    bundle.build(ROOT / "policies", private, out)
    with tarfile.open(out) as tar:
        names = {n.lstrip("/") for n in tar.getnames()}
    assert {"gate/gate.rego", "decision.rego", "lib/org.rego", "plan/plan.rego"} <= names
    assert (ROOT / "policies" / "schema" / "input.jsonschema").is_file()
    assert (ROOT / "policies" / "lib" / "fixture.rego").is_file()
    assert [n for n in names if n.startswith("schema/") or n.endswith(".jsonschema")] == []
    assert "lib/fixture.rego" not in names
    assert [n for n in names if n.endswith("_test.rego")] == []


def test_the_bundle_from_the_environment(plantctl, keys, signed, monkeypatch):
    monkeypatch.setenv("PLANTCTL_BUNDLE", str(signed))
    monkeypatch.setenv("PLANTCTL_VERIFICATION_KEY", str(keys[1][1]))  # the wrong key
    run = _check(plantctl)
    assert run.code == 4
    monkeypatch.setenv("PLANTCTL_VERIFICATION_KEY", str(keys[0][1]))
    assert _check(plantctl).code == 0


def test_a_tampered_bundle_is_refused(plantctl, keys, signed, tmp_path):
    def weaken(name: str, data: bytes) -> bytes:
        if name.endswith("segmentation/segmentation.rego"):
            return data.replace(b"severity: high", b"severity: low")
        return data

    tampered = _rewrite(signed, tmp_path / "tampered.tar.gz", weaken)
    run = _check(plantctl, "--bundle", str(tampered), "--verification-key", str(keys[0][1]))
    assert run.code == 4
    assert "refused" in run.err and "digest mismatch" in run.err
    assert "segmentation/segmentation.rego" in run.err and "nothing was evaluated" in run.err
    assert run.out == ""
    verify = plantctl("bundle", "verify", str(tampered), "--verification-key", str(keys[0][1]))
    assert verify.code == 4


def test_a_bundle_with_an_extra_file_is_refused(plantctl, keys, signed, tmp_path):
    extra = tmp_path / "extra.tar.gz"
    with tarfile.open(signed) as tin, tarfile.open(extra, "w:gz") as tout:
        for member in tin.getmembers():
            tout.addfile(member, tin.extractfile(member) if member.isfile() else None)
        data = b"package plant.gate\n\nbypass := true\n"
        info = tarfile.TarInfo("/gate/bypass.rego")
        info.size = len(data)
        tout.addfile(info, io.BytesIO(data))
    run = _check(plantctl, "--bundle", str(extra), "--verification-key", str(keys[0][1]))
    assert run.code == 4, run.err


def test_a_bundle_signed_with_another_key_is_refused(plantctl, keys, signed):
    run = _check(plantctl, "--bundle", str(signed), "--verification-key", str(keys[1][1]))
    assert run.code == 4 and "refused" in run.err


def test_an_unsigned_bundle_is_refused(plantctl, keys, signed, tmp_path):
    unsigned = _rewrite(
        signed, tmp_path / "unsigned.tar.gz", lambda n, d: None if "signatures" in n else d
    )
    run = _check(plantctl, "--bundle", str(unsigned), "--verification-key", str(keys[0][1]))
    assert run.code == 4 and "signatures" in run.err


def test_a_verification_key_without_a_bundle_is_refused(plantctl, keys):
    run = _check(plantctl, "--verification-key", str(keys[0][1]))
    assert run.code == 4 and "no policy bundle" in run.err


def test_no_private_key_is_committed():
    tracked = subprocess.run(
        ["git", "grep", "-l", "PRIVATE KEY-----"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert [p for p in tracked if not p.startswith(("tests/", "src/"))] == []
