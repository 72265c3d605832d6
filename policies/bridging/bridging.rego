# METADATA
# title: Bridges to the enterprise broker
# description: >-
#   Which data classes a site broker may forward to the plant group's enterprise broker: only
#   classes whose owner lets them leave their site (data_classes.yaml leaves_site), to one
#   enterprise broker in an enterprise zone. The bridge configuration is derived from the same
#   facts (src/plantctl/plant/bridges.py), and leaves out what these rules reject.
# schemas:
#   - input: schema.input
# custom:
#   scope: global
#   reads: [sites, zones, data_classes]
package plant.bridging

import data.plant.lib.violation

# METADATA
# title: A site forwards only data classes that may leave it
# description: >-
#   Every class in a site's bridge.classes says leaves_site true in data_classes.yaml: data
#   leaves a site only where its owner agreed (a class that may not leave is never forwarded).
# custom:
#   id: BRG-001
#   severity: high
#   owner: operations
#   principle: 5 Data ownership
#   iec62443: ["SR 4.1", "SR 5.2"]
#   recommended_action: >-
#     Remove the class from the site's bridge.classes, or have its owner set leaves_site: true
#     in data_classes.yaml.
deny contains v if {
	some id, site in input.sites
	some i, class in object.get(site, ["bridge", "classes"], [])
	not _leaves(class)
	msg := sprintf(
		"site %s forwards data class %s to the enterprise broker, but %s does not say leaves_site: true; %s",
		[id, class, class, "remove it from bridge.classes or have its owner allow it to leave the site"],
	)
	v := violation.new(rego.metadata.rule(), "site", id, ["bridge", "classes", i], msg)
}

# METADATA
# title: The enterprise broker is in an enterprise zone
# description: >-
#   The group's enterprise broker (services.enterprise_broker) sits in a zone of kind enterprise
#   (Purdue level 4): site brokers push data up out of their industrial DMZ, never into a control
#   zone.
# custom:
#   id: BRG-002
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.1", "SR 5.2"]
#   zcr: ["ZCR 3.3"]
#   recommended_action: Place the enterprise broker in the site's enterprise zone (kind enterprise).
deny contains v if {
	some id, site in input.sites
	broker := site.services.enterprise_broker
	kind := object.get(input.zones, [concat("/", [id, broker.zone]), "kind"], "none")
	kind != "enterprise"
	msg := sprintf(
		"the enterprise broker %s of site %s is in zone %s of kind %s; place it in a zone of kind enterprise",
		[broker.id, id, broker.zone, kind],
	)
	v := violation.new(rego.metadata.rule(), "site", id, ["services", "enterprise_broker", "zone"], msg)
}

# METADATA
# title: A bridge has a site broker and one enterprise broker to go to
# description: >-
#   A site with a bridge has its own broker (services.broker), and the group has exactly one
#   enterprise broker (services.enterprise_broker of one site).
# custom:
#   id: BRG-003
#   severity: high
#   owner: it
#   principle: 4 Balance speed and security
#   iec62443: ["SR 5.2", "SR 7.6"]
#   recommended_action: >-
#     Give the site a broker in services, declare the enterprise broker at exactly one site, or
#     remove the bridge.
deny contains v if {
	some [id, field, msg] in _bridge_issues
	v := violation.new(rego.metadata.rule(), "site", id, field, msg)
}

_leaves(class) if input.data_classes[class].leaves_site == true

_hosts contains id if {
	some id, site in input.sites
	site.services.enterprise_broker
}

_bridge_issues contains [id, ["bridge"], msg] if {
	some id, site in input.sites
	site.bridge
	not site.services.broker
	msg := sprintf("site %s has a bridge but no broker in services; add services.broker or remove the bridge", [id])
}

_bridge_issues contains [id, ["bridge"], msg] if {
	count(_hosts) == 0
	some id, site in input.sites
	site.bridge
	msg := sprintf("site %s has a bridge but no site declares services.enterprise_broker; declare it at one site", [id])
}

_bridge_issues contains [id, ["services", "enterprise_broker"], msg] if {
	count(_hosts) > 1
	some id in _hosts
	others := concat(", ", sort([other | some other in _hosts; other != id]))
	msg := sprintf("site %s declares an enterprise broker, and so does %s; the group has one: keep one", [id, others])
}
