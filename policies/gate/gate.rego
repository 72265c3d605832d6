# METADATA
# title: The gate's one answer
# description: >-
#   Everything plantctl asks the policy engine, in one document: the policy violations and
#   warnings (data.plant.decision) less the waived violations and plus the waivers' own
#   (data.plant.waivers) and, for a pull request, the approvals it needs
#   (data.plant.approvals). plantctl queries data.plant.gate.result once per check.
# schemas:
#   - input: schema.input
package plant.gate

result := {
	"violations": array.concat(data.plant.waivers.violations, [v | some v in data.plant.approvals.deny]),
	"waived": data.plant.waivers.waived,
	"warnings": object.get(data.plant.decision, "warnings", []),
	"counts": data.plant.waivers.counts,
	"approvals": {
		"required": data.plant.approvals.required,
		"missing": data.plant.approvals.missing,
	},
}
