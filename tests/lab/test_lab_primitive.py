"""The lab-machine primitive itself: a booted machine in a zone namespace, commands inside it,
traffic kept inside the lab, and nothing left behind, also when the test using it fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from plantctl.lab import File, Lab, cleanup, netns
from plantctl.model.loader import load

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]


class Boom(Exception):
    pass


def leftovers(prefix: str) -> list[str]:
    found = [f"namespace {n}" for n in netns.list_names(prefix)]
    with open("/proc/self/mountinfo") as fh:
        found += [f"mount {line.split()[4]}" for line in fh if f"/{prefix}" in line.split()[4]]
    for pid in cleanup._nspawn_pids():
        if (cleanup._nspawn_machine(pid) or "").startswith(f"{prefix}-"):
            found.append(f"nspawn {pid}")
    if (cleanup.STATE_ROOT / prefix).exists():
        found.append("state directory")
    return found


def _route_get(address: str) -> tuple[int, str]:
    done = subprocess.run(
        ["ip", "route", "get", address], capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout.split(" uid ")[0]


def test_a_machine_boots_runs_commands_and_everything_goes_away_after_a_failure(root_only):
    inv = load(ROOT / "inventory")
    host_route = _route_get("10.20.20.23")  # the host's own way there, before the lab
    lab = Lab()
    with pytest.raises(Boom), lab:
        net = lab.site_network(inv, "ridgeway")
        ns = net.host("gw-rw-03", "supervisory", "10.20.20.23")
        peer = net.host("rw-broker", "dmz", "10.20.35.10")
        m = lab.machine("gw-rw-03", ns, files={"/etc/plantctl-lab-test": File("hello\n")})
        lab.boot(m)
        assert m.boot_seconds < 60
        assert m.run(["hostname"]).stdout.strip() == "gw-rw-03"
        assert m.run(["cat", "/etc/plantctl-lab-test"]).stdout == "hello\n"
        assert m.run(
            ["systemctl", "is-active", "postgresql.service"], check=False
        ).stdout.strip() in (
            "inactive",
            "masked",
        )
        assert "10.20.20.23/24" in m.run(["ip", "-br", "addr"]).stdout
        # The machine reaches another zone through the site router...
        reach = m.run(["bash", "-c", "exec 3<>/dev/tcp/10.20.35.10/9"], check=False)
        assert "refused" in reach.stderr  # the peer answered (nothing listens on port 9)
        assert peer.run(["ip", "route"]).stdout.startswith("default via 10.20.35.1")
        # ...while nothing of the lab is in the root namespace: the host still routes the
        # address as it did before the lab (its own networks), never into the lab.
        assert _route_get("10.20.20.23") == host_route
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert lab.prefix not in links
        # The host's files are untouched by what the machine writes.
        m.run(["bash", "-c", "echo changed > /etc/plantctl-lab-only"])
        assert not Path("/etc/plantctl-lab-only").exists()
        assert leftovers(lab.prefix)
        raise Boom("a failing test")
    assert leftovers(lab.prefix) == []
    assert cleanup.guard.held_by(cleanup.STATE_ROOT, lab.prefix) == []


def test_leftovers_of_a_dead_run_are_found_and_removed_by_prefix(root_only):
    prefix = "plab" + "00beef"
    ns = netns.Namespace.create(f"{prefix}-orphan")
    try:
        cleanup.claim(cleanup.STATE_ROOT, prefix)
        # The owner is recorded as this process; pretend it died.
        cleanup.owner_file(cleanup.STATE_ROOT, prefix).write_text("999999999 0\n")
        assert prefix in cleanup.stale_prefixes()
        removed = cleanup.remove_stale()[prefix]
        assert f"namespace {ns.name}" in removed
        assert not ns.exists()
        assert prefix not in cleanup.known_prefixes()
    finally:
        ns.delete()


@pytest.fixture
def root_only():
    import os

    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the lab tests need root; CI runs them as root")
        pytest.skip("the lab tests need root")
