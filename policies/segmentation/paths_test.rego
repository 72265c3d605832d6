package plant.segmentation_paths_test

import data.plant.lib.fixture
import data.plant.segmentation

hop(conduit, zone, inspection) := {
	"conduit": conduit, "conduit_key": concat("/", ["north", conduit]), "zone": zone,
	"inspection": inspection,
}

path(from_kind, to_kind, hops) := {
	"site": "north", "from": from_kind, "from_kind": from_kind,
	"to": hops[count(hops) - 1].zone, "to_kind": to_kind, "hops": hops,
}

with_paths(paths) := fixture.put(["attack_paths"], paths)

test_seg_019_fires_for_one_inspected_hop_from_remote_access if {
	result := segmentation.deny with input as with_paths([path("remote-access", "cell", [
		hop("bastion", "sup", "none"),
		hop("read", "cell", "stateful"),
	])])
	fixture.found(result, "SEG-019") == {{
		"kind": "conduit", "id": "north/bastion", "field": ["inspection"],
		"msg": "attack path remote-access -> sup -> cell (conduits bastion, read) reaches cell zone cell with 1 inspected hop(s); a path from the internet, the enterprise or remote access into a cell or safety zone needs two",
	}}
}

test_seg_019_fires_at_the_entering_conduit_when_every_hop_is_inspected if {
	result := segmentation.deny with input as with_paths([path("enterprise", "safety", [hop("direct", "sis", "deep")])])
	fixture.found(result, "SEG-019") == {{
		"kind": "conduit", "id": "north/direct", "field": ["to"],
		"msg": "attack path enterprise -> sis (conduits direct) reaches safety zone sis with 1 inspected hop(s); a path from the internet, the enterprise or remote access into a cell or safety zone needs two",
	}}
}

test_seg_019_near_miss_two_inspected_hops if {
	count(fixture.found(segmentation.deny, "SEG-019")) == 0 with input as with_paths([path("internet", "cell", [
		hop("vendors", "ra", "none"),
		hop("bastion", "sup", "stateful"),
		hop("read", "cell", "deep"),
	])])
}

test_seg_019_near_miss_a_path_that_ends_above_the_cell if {
	count(fixture.found(segmentation.deny, "SEG-019")) == 0 with input as with_paths([path("internet", "supervisory", [
		hop("vendors", "ra", "none"),
		hop("bastion", "sup", "none"),
	])])
}

test_seg_019_near_miss_a_path_from_a_trusted_zone if {
	count(fixture.found(segmentation.deny, "SEG-019")) == 0 with input as with_paths([path("supervisory", "cell", [hop("read", "cell", "none")])])
}
