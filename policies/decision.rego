# METADATA
# title: The policy decision
# description: >-
#   The one document plantctl reads (through data.plant.gate.result), in one query per check:
#   every violation (deny) and warning (warn) of every policy domain, each with its rule id,
#   severity, title and IEC 62443-3-3 requirements (from the rule's METADATA), the record it
#   is about (kind, id, field) and its message; sorted by severity, rule and record; and counts.
#   Only these three rules live here (helpers are in lib), so the document is exactly
#   {violations, warnings, counts}.
# scope: package
# entrypoint: true
# schemas:
#   - input: schema.input
package plant.decision

import data.plant.lib.domains
import data.plant.lib.violation

# METADATA
# description: >-
#   Every deny result of every domain, most severe first. Undefined (so the gate fails closed)
#   when a domain's package is missing from the loaded policies.
violations := violation.sorted({v | some name in domains.names; some v in data.plant[name].deny}) if {
	every name in domains.names {
		is_set(data.plant[name].deny)
	}
}

# METADATA
# description: Every warn result of every domain, most severe first.
warnings := violation.sorted({v | some name in domains.names; some v in data.plant[name].warn})

# METADATA
# description: How many violations and warnings, by severity and by rule.
counts := {
	"violations": count(violations),
	"warnings": count(warnings),
	"by_severity": {severity: n |
		some severity in ["high", "medium", "low"]
		n := count([v | some v in violations; v.severity == severity])
	},
	"by_rule": {rule: n |
		some rule in {v.rule | some v in violations}
		n := count([v | some v in violations; v.rule == rule])
	},
}
