# CODEOWNERS is generated from ownership (`plantctl codeowners`); the gate states what the
# command would say of the head's file as input.change.codeowners_drift (src/plantctl/gate/pull_request.py).
package plant.approvals

import data.plant.lib.violation

# METADATA
# title: CODEOWNERS matches ownership
# description: >-
#   The head's .github/CODEOWNERS is the file plantctl codeowners generates from
#   org/ownership.yaml and org/teams.yaml, so the code host asks the teams the inventory names.
# custom:
#   id: GATE-001
#   severity: high
#   owner: it
#   principle: 1 Shared goals, explicit ownership
#   iec62443: ["SR 2.1"]
#   recommended_action: Run plantctl codeowners and commit the .github/CODEOWNERS it writes.
deny contains v if {
	drift := object.get(input, ["change", "codeowners_drift"], "")
	drift != ""
	v := violation.new(rego.metadata.rule(), "file", ".github/CODEOWNERS", [], drift)
}
