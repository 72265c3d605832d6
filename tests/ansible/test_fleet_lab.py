"""The playbooks through ansible-runner as AWX runs them (the inventory synced from the project's
inventory source, a job's private data directory with awx/env), against a lab fleet of three
booted gateways behind the bastion, with the same results as ansible-playbook:

- gw-fl-01 is first converged by ansible-playbook, gw-fl-02 and gw-fl-03 by an ansible-runner
  job: identically declared gateways, the same task results (ok and changed per host);
- a second job, as the network admin, changes nothing on any of the three (whichever engine
  converged it), and ansible-playbook then reports the same recap as that job.

The fleet's timings at 2, 5 and 10 gateways are bench/fleet.py's (`make bench-fleet`)."""

from __future__ import annotations

import os

import awx_job
import pytest
from fleet_lab import OPERATOR, fleet

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the lab tests need root; CI runs them as root")
        pytest.skip("the lab tests need root (namespaces, nspawn); CI runs them as root")
    work = tmp_path_factory.mktemp("fleet")
    with fleet(work, 3) as f:
        first, *others = f.gateways
        env = f.envvars()
        inventory = awx_job.inventory_update(work, f.inventory_dir, env)
        pdd = awx_job.job_dir(work, "job", inventory, extravars={})
        result = {"inventory": inventory, "gateways": f.gateways, "addresses": f.addresses}
        result["playbook-1"] = awx_job.playbook(
            work,
            f.inventory_dir,
            "site.yml",
            user="root",
            limit=[first],
            envvars=env,
            extravars={},
            label="playbook-1",
        )
        result["job-1"] = awx_job.job(
            pdd, "site.yml", user="root", limit=others, envvars=env, label="job-1"
        )
        result["job-2"] = awx_job.job(
            pdd, "site.yml", user=OPERATOR, limit=f.gateways, envvars=env, label="job-2"
        )
        result["playbook-2"] = awx_job.playbook(
            work,
            f.inventory_dir,
            "site.yml",
            user=OPERATOR,
            limit=f.gateways,
            envvars=env,
            extravars={},
            label="playbook-2",
        )
        # What the converges left, read inside the machines (not through Ansible).
        result["state"] = {
            gw: {
                "ruleset": f.machines[gw].run(["nft", "list", "ruleset"]).stdout,
                "admins": f.machines[gw].run(["getent", "group", "plantctl-admins"]).stdout,
            }
            for gw in f.gateways
        }
        yield result


def test_the_inventory_source_syncs_the_fleet(runs):
    hostvars = runs["inventory"]["_meta"]["hostvars"]
    assert set(runs["gateways"]) <= set(hostvars)
    assert set(runs["gateways"]) <= set(runs["inventory"]["gateways"]["hosts"])
    # inventory text stays marked unsafe (never templated) through AWX's export
    for gw in runs["gateways"]:
        assert hostvars[gw]["ansible_host"] == {"__ansible_unsafe": runs["addresses"][gw]}


def test_every_run_succeeded(runs):
    for name in ("playbook-1", "job-1", "job-2", "playbook-2"):
        run = runs[name]
        print(f"{name}: {run.engine} {run.seconds:.1f} s {run.recap}")
        assert run.rc == 0, f"{name} exited {run.rc}: {run.log}"
        for gw, recap in run.recap.items():
            assert recap["failed"] == 0 and recap["unreachable"] == 0, (name, gw, recap)


def test_the_runner_job_converges_as_ansible_playbook_does(runs):
    first, *others = runs["gateways"]
    reference = runs["playbook-1"].recap[first]
    assert reference["changed"] > 0
    assert set(runs["job-1"].recap) == set(others)
    for gw in others:
        assert runs["job-1"].recap[gw] == reference, f"{gw} by ansible-runner vs {first}"


def test_the_second_converge_changes_nothing_under_either_engine(runs):
    job, play = runs["job-2"], runs["playbook-2"]
    assert set(job.recap) == set(play.recap) == set(runs["gateways"])
    for gw in runs["gateways"]:
        assert job.recap[gw]["changed"] == 0, f"{gw}: {job.recap[gw]} ({job.log})"
        assert play.recap[gw] == job.recap[gw], gw


def test_the_gateways_are_configured(runs):
    for gw, state in runs["state"].items():
        assert "policy drop" in state["ruleset"], gw
        assert OPERATOR in state["admins"], gw
