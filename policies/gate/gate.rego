# METADATA
# title: The gate's one answer
# description: >-
#   Everything plantctl asks the policy engine, in one document: the policy violations and
#   warnings (data.plant.decision) and, for a pull request, the approvals it needs
#   (data.plant.approvals). plantctl queries data.plant.gate.result once per check.
package plant.gate

result := {
	"violations": array.concat(data.plant.decision.violations, [v | some v in data.plant.approvals.deny]),
	"warnings": object.get(data.plant.decision, "warnings", []),
	"counts": object.get(data.plant.decision, "counts", {}),
	"approvals": {
		"required": data.plant.approvals.required,
		"missing": data.plant.approvals.missing,
	},
}
