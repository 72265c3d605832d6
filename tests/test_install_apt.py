"""tools/install-apt.sh touches only what it installs in that run (issue 16 item 3).

The script runs for real, from a copy beside its own package list, with fake `dpkg-query`,
`apt-get`, `systemctl` and `id` first on PATH: they keep the "installed" packages in a file and
write every call to a log, so nothing is installed and no service is touched on this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAKES = {
    "dpkg-query": r"""#!/usr/bin/env bash
echo "dpkg-query $*" >> "$FAKE_LOG"
pkg=${@: -1}
if grep -qx "$pkg" "$FAKE_INSTALLED"; then printf installed; exit 0; fi
echo "dpkg-query: no packages found matching $pkg" >&2; exit 1
""",
    "apt-get": r"""#!/usr/bin/env bash
echo "apt-get $*" >> "$FAKE_LOG"
[ "$1" = update ] && exit 0
simulate=0; pkgs=()
for a in "$@"; do
  case "$a" in -s) simulate=1 ;; -*|install) ;; *) pkgs+=("$a") ;; esac
done
# FAKE_DEPS: "pkg:dep" pairs (a new dependency); FAKE_UPGRADE: an installed package apt upgrades;
# FAKE_REMOVE: one it removes
all=("${pkgs[@]}")
for pair in ${FAKE_DEPS:-}; do
  for p in "${pkgs[@]}"; do [ "${pair%%:*}" = "$p" ] && all+=("${pair#*:}"); done
done
if [ "$simulate" = 1 ]; then
  for p in "${all[@]}"; do echo "Inst $p (1.0 Debian:12/stable [amd64])"; done
  [ -n "${FAKE_UPGRADE:-}" ] && echo "Inst $FAKE_UPGRADE [1.0] (1.1 Debian:12/stable [amd64])"
  [ -n "${FAKE_REMOVE:-}" ] && echo "Remv $FAKE_REMOVE [1.0]"
  for p in "${all[@]}"; do echo "Conf $p (1.0 Debian:12/stable [amd64])"; done
  exit 0
fi
printf '%s\n' "${all[@]}" >> "$FAKE_INSTALLED"
if [ -x "$PLANTCTL_POLICY_RC_D" ]; then
  echo "apt-get saw policy-rc.d: $("$PLANTCTL_POLICY_RC_D"; echo $?)" >> "$FAKE_LOG"
fi
exit 0
""",
    "systemctl": r"""#!/usr/bin/env bash
echo "systemctl $*" >> "$FAKE_LOG"
[ "$1" = is-system-running ] && { echo running; exit 0; }
exit 0
""",
    "id": r"""#!/usr/bin/env bash
[ "$1" = -u ] && { echo "${FAKE_UID:-0}"; exit 0; }
exec /usr/bin/id "$@"
""",
}

WANTED = ["iproute2", "openssh-server", "mosquitto", "mosquitto-clients", "oathtool"]


class Machine:
    """A copy of the script and its list, fakes on PATH, and what they recorded."""

    def __init__(self, tmp: Path, installed: list[str]):
        self.tools = tmp / "tools"
        self.tools.mkdir()
        shutil.copy(ROOT / "tools" / "install-apt.sh", self.tools)
        (self.tools / "apt-packages.txt").write_text(
            "# the list of this test\n" + "\n".join(WANTED) + "\n\n"
        )
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for name, text in FAKES.items():
            path = self.bin / name
            path.write_text(text)
            path.chmod(0o755)
        self.log = tmp / "calls.log"
        self.log.touch()
        self.installed = tmp / "installed"
        self.installed.write_text("".join(f"{p}\n" for p in installed))
        self.policy_rc = tmp / "policy-rc.d"  # the hook's place (on a machine /usr/sbin)

    def run(self, **env: str) -> subprocess.CompletedProcess:
        full = {
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "FAKE_LOG": str(self.log),
            "FAKE_INSTALLED": str(self.installed),
            "PLANTCTL_POLICY_RC_D": str(self.policy_rc),
            **env,
        }
        return subprocess.run(
            ["bash", str(self.tools / "install-apt.sh")],
            env=full,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def calls(self, tool: str) -> list[str]:
        return [c for c in self.log.read_text().splitlines() if c.split(" ", 1)[0] == tool]


def everything_but(*missing: str) -> list[str]:
    return [p for p in WANTED if p not in missing]


def test_nothing_missing_no_apt_no_systemctl(tmp_path):
    m = Machine(tmp_path, everything_but())
    done = m.run()
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert m.calls("apt-get") == [] and m.calls("systemctl") == []


def test_only_a_tool_missing_installs_it_and_touches_no_service(tmp_path):
    m = Machine(tmp_path, everything_but("oathtool"))
    done = m.run(FAKE_DEPS="oathtool:liboath0")
    assert done.returncode == 0, done.stderr
    installs = [c for c in m.calls("apt-get") if " -s " not in c and "install" in c]
    assert len(installs) == 1 and installs[0].endswith(" oathtool")
    assert "--no-upgrade" in installs[0]
    assert m.calls("systemctl") == []  # ssh and mosquitto were already there: left alone
    assert "installed oathtool (and the dependencies liboath0)" in done.stdout


def test_mosquitto_installed_now_only_mosquitto_service_is_touched(tmp_path):
    m = Machine(tmp_path, everything_but("mosquitto", "oathtool"))
    done = m.run()
    assert done.returncode == 0, done.stderr
    touched = [c for c in m.calls("systemctl") if c != "systemctl is-system-running"]
    assert touched == [
        "systemctl disable --quiet mosquitto.service",
        "systemctl stop mosquitto.service",
    ]
    assert "ssh" not in "".join(m.calls("systemctl"))
    assert "installed mosquitto oathtool" in done.stdout
    assert "disabled mosquitto.service at boot" in done.stdout
    assert "stopped mosquitto.service" in done.stdout


def test_openssh_server_pulled_in_as_a_dependency_counts_as_installed_now(tmp_path):
    m = Machine(tmp_path, everything_but("openssh-server", "oathtool"))
    done = m.run(FAKE_DEPS="oathtool:liboath0")
    assert done.returncode == 0, done.stderr
    touched = {c.split()[-1] for c in m.calls("systemctl") if c != "systemctl is-system-running"}
    assert touched == {"ssh.service"}


def test_an_upgrade_a_new_package_needs_goes_ahead_and_is_named(tmp_path):
    # systemd-container of a newer point release needs its systemd: apt upgrades it, and says so
    m = Machine(tmp_path, everything_but("oathtool"))
    done = m.run(FAKE_UPGRADE="libsystemd0")
    assert done.returncode == 0, done.stderr
    assert "installed oathtool\n" in done.stdout  # the upgraded one is not a new dependency
    assert "upgraded libsystemd0 (the packages installed now need their newer version)" in (
        done.stdout
    )
    assert m.calls("systemctl") == []
    # while apt ran, the hook forbade every service start and restart; it is gone after
    assert "apt-get saw policy-rc.d: 101" in m.log.read_text()
    assert not m.policy_rc.exists()


def test_a_machine_s_own_policy_rc_d_is_left_as_it_is(tmp_path):
    m = Machine(tmp_path, everything_but("oathtool"))
    m.policy_rc.write_text("#!/bin/sh\nexit 0\n")
    m.policy_rc.chmod(0o755)
    done = m.run()
    assert done.returncode == 0, done.stderr
    assert "apt-get saw policy-rc.d: 0" in m.log.read_text()
    assert m.policy_rc.read_text() == "#!/bin/sh\nexit 0\n"


def test_a_removal_of_an_installed_package_is_refused_before_anything_changes(tmp_path):
    m = Machine(tmp_path, everything_but("oathtool"))
    before = m.installed.read_text()
    done = m.run(FAKE_REMOVE="openssh-server")
    assert done.returncode == 1
    assert "would remove installed packages" in done.stderr
    assert "Remv openssh-server" in done.stderr
    assert m.installed.read_text() == before
    assert [c.split()[1] for c in m.calls("apt-get") if "-s" not in c.split()] == ["update"]
    assert m.calls("systemctl") == []


def test_not_root_says_what_is_missing_and_changes_nothing(tmp_path):
    m = Machine(tmp_path, everything_but("oathtool"))
    done = m.run(FAKE_UID="1000")
    assert done.returncode == 1
    assert "missing Debian packages: oathtool" in done.stderr
    assert m.calls("apt-get") == [] and m.calls("systemctl") == []
