# METADATA
# title: Violation objects
# description: >-
#   The one shape of every deny and warn result (the conftest convention, with more keys):
#   msg, rule, severity, title, iec62443 (from the rule's METADATA), kind and id (the loader's
#   record kind and key) and field (a path inside the record, [] for the record itself).
# schemas:
#   - input: schema.input
package plant.lib.violation

# METADATA
# description: >-
#   A result for the rule whose METADATA is meta (pass rego.metadata.rule()), about the record
#   kind/id at field, saying msg.
new(meta, kind, id, field, msg) := {
	"msg": msg,
	"rule": meta.custom.id,
	"severity": meta.custom.severity,
	"title": meta.title,
	"iec62443": meta.custom.iec62443,
	"kind": kind,
	"id": id,
	"field": field,
}

# METADATA
# description: >-
#   Results as an array, most severe first (critical, high, medium, low, anything else last), then by
#   rule, kind, id, field and message.
sorted(results) := [entry[6] |
	some entry in sort([[object.get(severity_rank, v.severity, 4), v.rule, v.kind, v.id, v.field, v.msg, v] |
		some v in results
	])
]

severity_rank := {"critical": 0, "high": 1, "medium": 2, "low": 3}
