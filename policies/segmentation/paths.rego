# Segmentation, attack paths (the package's METADATA is in segmentation.rego). plantctl facts
# computes every site's paths once in Python (src/plantctl/plant/attack_paths.py, input.attack_paths): chains
# of allowed conduits from the internet, an enterprise zone or a remote-access zone, continuing
# only from a device reached on a service that gives a foothold (ssh, rdp, https management,
# engineering protocols). Each path is {site, from, from_kind, to, to_kind, hops: [{conduit,
# conduit_key, zone, inspection}]}; the rules read each path once.
package plant.segmentation

import data.plant.lib.violation

_untrusted_kinds := {"internet", "enterprise", "remote-access"}

_protected_kinds := {"cell", "safety"}

# METADATA
# title: Two inspected hops between untrusted networks and control
# description: >-
#   An attack path (a chain of allowed conduits, pivoting on footholds) from the internet, an
#   enterprise zone or a remote-access zone into a cell or safety zone crosses at least two
#   inspected conduits. A hop with inspection stateful or deep counts one; inspection none counts
#   nothing. A violation points at the path's first uninspected conduit, else at the conduit
#   that enters the cell or safety zone.
# custom:
#   id: SEG-019
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 1.13", "SR 5.1", "SR 5.2"]
#   zcr: ["ZCR 3.3", "ZCR 3.4"]
#   recommended_action: Set inspection stateful or deep on the uninspected conduit, or end the path in the DMZ.
deny contains v if {
	some path in input.attack_paths
	path.from_kind in _untrusted_kinds
	path.to_kind in _protected_kinds
	inspected := count([hop | some hop in path.hops; hop.inspection != "none"])
	inspected < 2
	[key, field] := _path_fix(path)
	msg := sprintf(
		"attack path %s (conduits %s) reaches %s zone %s with %d inspected hop(s); %s",
		[
			concat(" -> ", array.concat([path.from], [hop.zone | some hop in path.hops])),
			concat(", ", [hop.conduit | some hop in path.hops]),
			path.to_kind, path.to, inspected,
			"a path from the internet, the enterprise or remote access into a cell or safety zone needs two",
		],
	)
	v := violation.new(rego.metadata.rule(), "conduit", key, field, msg)
}

_uninspected(path) := [hop | some hop in path.hops; hop.inspection == "none"]

_path_fix(path) := [_uninspected(path)[0].conduit_key, ["inspection"]] if count(_uninspected(path)) > 0

_path_fix(path) := [path.hops[count(path.hops) - 1].conduit_key, ["to"]] if count(_uninspected(path)) == 0
