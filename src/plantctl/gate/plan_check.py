"""The plan check: a stack's `pulumi preview --json` judged by OPA (policies/plan/) against the
inventory, before anything is applied.

    plantctl plan-check --site ridgeway --plan preview.json [--format text|json]

The input document is {"site", "zones", "conduits", "plan"}: the site's zones and conduits as
the gate's input carries them (plantctl.gate.facts), and the preview's steps. One query to a
real OPA server (plantctl.gate.engine), data.plant.plan.decision; fail closed like the gate.
Exit codes: 0 the plan passes, 1 violations, 2 invalid input, 3 policy engine unavailable.
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

from plantctl.gate import facts
from plantctl.gate.engine import EngineUnavailable, OpaServer, validate_decision
from plantctl.model.inventory import Inventory

PACKAGE = "plant.plan"
RULE = "decision"


def plan_input(inv: Inventory, site: str, plan: dict) -> dict:
    doc = facts.build(inv)
    return {
        "site": site,
        "zones": {k: v for k, v in doc["zones"].items() if v.get("site") == site},
        "conduits": {k: v for k, v in doc["conduits"].items() if v.get("site") == site},
        "plan": {"steps": plan.get("steps", [])},
    }


def load_plan(path: Path) -> dict:
    """A `pulumi preview --json` document (or plantstack.run's equivalent)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON preview ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list):
        raise ValueError(f"{path}: no 'steps' list; write it with `pulumi preview --json`")
    return doc


def evaluate(inv: Inventory, site: str, plan: dict, policies: Path) -> dict:
    """The decision {violations, counts}; EngineUnavailable when there is no trustworthy one."""
    document = plan_input(inv, site, plan)
    with OpaServer(policies) as endpoint:
        try:
            answer = endpoint.client.query_rule(document, PACKAGE, RULE)
        except (requests.RequestException, ValueError) as exc:
            raise EngineUnavailable(f"the plan query failed: {exc}") from None
        except Exception as exc:  # the OPA client's own errors
            raise EngineUnavailable(f"the plan query failed: {exc}") from None
    return validate_decision(answer)


def render_text(site: str, decision: dict) -> str:
    lines = []
    for v in sorted(decision["violations"], key=lambda v: (v["rule"], v["id"])):
        lines.append(f"{v['rule']} ({v.get('severity', 'high')}) {v['msg']}\n    at {v['id']}")
    counts = decision.get("counts", {})
    verdict = "fails" if decision["violations"] else "passes"
    lines.append(
        f"plan of site {site} {verdict}: {len(decision['violations'])} violation(s) "
        f"in {counts.get('resources', '?')} resource(s)"
    )
    return "\n".join(lines) + "\n"
