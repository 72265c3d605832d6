# METADATA
# title: Policy domains
# description: >-
#   The packages plant.<name> whose deny and warn results make up the decision
#   (data.plant.decision). A new domain is added here; decision_test checks that no package
#   with deny or warn rules is left out.
# schemas:
#   - input: schema.input
package plant.lib.domains

names := {
	"bridging",
	"collectors",
	"data_access",
	"glossary",
	"goals",
	"ownership",
	"phases",
	"remote_access",
	"segmentation",
	"training",
}
