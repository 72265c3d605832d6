"""Unit tests of the bastion's forward audit (plantctl.configs.forward_audit, forward_logger): what
the bastion gets, and the logger over conntrack lines recorded on a lab bastion (the lab test,
tests/test_bastion_recording.py, runs it against real forwards)."""

from __future__ import annotations

import ast
import json
import sys
from datetime import UTC, datetime

from plantctl.configs import forward_audit, forward_logger
from plantctl.plant import grants

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForGrantUnitTests00000000000000000000"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MARK = forward_audit.MARK_BASE + 1
# conntrack -E -o timestamp,extended,id on a lab bastion, one forward (shortened to the parts read)
NEW = (f"[1796196307.918016]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.9.1.1 "
       f"dst=10.9.1.20 sport=50290 dport=8443 [UNREPLIED] src=10.9.1.20 dst=10.9.1.1 "
       f"sport=8443 dport=50290 mark={MARK} id=1512923040")  # fmt: skip
ESTABLISHED = NEW.replace("[NEW]", "[UPDATE]").replace("120 SYN_SENT", "432000 ESTABLISHED")
TIME_WAIT = (f"[1796196307.960102]\t [UPDATE] ipv4     2 tcp      6 1 TIME_WAIT src=10.9.1.1 "
             f"dst=10.9.1.20 sport=50290 dport=8443 src=10.9.1.20 dst=10.9.1.1 sport=8443 "
             f"dport=50290 [ASSURED] mark={MARK} id=1512923040")  # fmt: skip
DESTROY = (f"[1796196400.000000]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=10.9.1.1 "
           f"dst=10.9.1.20 sport=50290 dport=8443 packets=6 bytes=3320 src=10.9.1.20 dst=10.9.1.1 "
           f"sport=8443 dport=50290 packets=4 bytes=5216 [ASSURED] mark={MARK} delta-time=92 "
           f"id=1512923040")  # fmt: skip
CONFIG = {
    "port": 22,
    "marks": {
        str(MARK): {
            "grant": "g-rw-0007",
            "person": "dokafor",
            "account": "g-rw-0007",
            "target": "gw-rw-02",
        }
    },
}


def test_every_deployed_grant_gets_a_mark_and_the_logger_knows_it(plant):
    plan = grants.build(plant, "ridgeway", {"dokafor": KEY, "rkessler": KEY}, now=NOW)
    deployed = plan.entries + plan.pending
    nft = forward_audit.render_nft(deployed)
    assert nft.count("ct state new meta skuid") == len(deployed) == 2
    assert f'meta skuid "g-rw-0007" ct mark set {MARK:#x}' in nft
    assert nft.index(f"delete table inet {forward_audit.TABLE}") < nft.index("chain output")
    config = json.loads(forward_audit.render_config(deployed, 22))
    assert config["marks"][str(MARK)]["person"] == "dokafor"
    assert {m["grant"] for m in config["marks"].values()} == {"g-rw-0007", "g-rw-0008"}
    files = forward_audit.files(deployed, 22)
    assert "Requires=plantctl-forward-audit.service" in files[forward_audit.SSH_DROP_IN]["content"]
    unit = files[forward_audit.UNIT_FILE]["content"]
    assert "grep -qx 1 /proc/sys/net/netfilter/nf_conntrack_acct" in unit  # fails closed
    assert "ReloadPropagatedFrom=ssh.service" in unit
    assert forward_audit.SYSCTLS["net.netfilter.nf_conntrack_acct"] == "1"


def test_the_logger_is_standard_library_only():
    tree = ast.parse(forward_audit.logger_source())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}  # fmt: skip
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module}  # fmt: skip
    assert names - {"__future__"} <= set(sys.stdlib_module_names)


def test_a_closed_forward_is_one_event_with_the_bytes_conntrack_counted():
    counted = []

    def count(event):
        counted.append(event["id"])
        return 3320, 5216

    audit = forward_logger.Audit(CONFIG, uids={}, count=count)
    events = [audit.feed(forward_logger.parse(line)) for line in (NEW, ESTABLISHED, TIME_WAIT)]
    assert events[:2] == [None, None]
    event = events[2]
    assert event == {
        "event": "forward", "grant": "g-rw-0007", "person": "dokafor", "account": "g-rw-0007",
        "source": None, "target": "10.9.1.20:8443", "start": "2026-12-02T07:25:07.918Z",
        "end": "2026-12-02T07:25:07.960Z", "bytes_to_target": 3320, "bytes_from_target": 5216,
        "connection": "1512923040",
    }  # fmt: skip
    assert counted == ["1512923040"]
    # conntrack's later DESTROY of the same connection is not a second event
    assert audit.feed(forward_logger.parse(DESTROY)) is None


def test_a_connection_swept_before_it_was_counted_is_reported_from_its_destroy():
    audit = forward_logger.Audit(CONFIG, uids={}, count=lambda event: None)
    assert audit.feed(forward_logger.parse(NEW)) is None
    assert audit.feed(forward_logger.parse(TIME_WAIT)) is None  # gone already: wait for DESTROY
    event = audit.feed(forward_logger.parse(DESTROY))
    assert event["bytes_to_target"] == 3320 and event["bytes_from_target"] == 5216
    assert event["start"] == "2026-12-02T07:25:07.918Z"
    # opened before the logger started: conntrack's own start (delta-time)
    fresh = forward_logger.Audit(CONFIG, uids={}, count=lambda event: None)
    event = fresh.feed(forward_logger.parse(DESTROY))
    assert event["start"] == "2026-12-02T07:25:08.000Z"  # 92 s before its end


def test_unmarked_and_foreign_lines_are_ignored():
    audit = forward_logger.Audit(CONFIG, uids={}, count=lambda event: (1, 1))
    other = TIME_WAIT.replace(f"mark={MARK}", "mark=0")
    assert audit.feed(forward_logger.parse(other)) is None
    assert forward_logger.parse("conntrack v1.4.7 (conntrack-tools): 13 flow events") is None
    assert forward_logger.parse(NEW.replace(" tcp ", " udp ")) is None


def test_the_source_is_the_client_of_the_accounts_ssh_session(tmp_path):
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    for pid, uid, inode in (("70", 1003, "4242"), ("71", 0, "4343")):
        (proc / pid / "fd").mkdir(parents=True)
        (proc / pid / "status").write_text(f"Name:\tsshd\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")
        (proc / pid / "fd" / "3").symlink_to(f"socket:[{inode}]")
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    rows = [
        # 10.20.36.10:22 <- 203.0.113.10:40112, established, the account's socket
        "   0: 0A24140A:0016 0A7100CB:9CB0 01 00000000:00000000 00:00000000 00000000 0 0 4242",
        # root's session of someone else
        "   1: 0A24140A:0016 0B7100CB:9CB1 01 00000000:00000000 00:00000000 00000000 0 0 4343",
    ]  # fmt: skip
    (proc / "net" / "tcp").write_text(head + "\n".join(rows) + "\n")
    assert forward_logger.session_sources(1003, 22, str(proc)) == ["203.0.113.10:40112"]
    assert forward_logger.session_sources(1003, 2222, str(proc)) == []
