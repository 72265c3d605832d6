# METADATA
# title: Purdue levels of zones
# description: >-
#   Zone keys and Purdue levels. A conduit end may be a zone of its site or "internet", which
#   counts as level 5 (above the enterprise) for adjacency. Level 3.5 is the industrial DMZ.
# schemas:
#   - input: schema.input
package plant.lib.purdue

internet := "internet"

internet_level := 5

dmz_level := 3.5

# METADATA
# description: The key of a zone in input.zones and input.owners.zones, "<site>/<zone>".
zone_key(site, zone) := concat("/", [site, zone])

# METADATA
# scope: document
# description: The Purdue level of a conduit end; undefined for an unknown zone.
level(_, zone) := internet_level if zone == internet

level(site, zone) := input.zones[zone_key(site, zone)].purdue_level if zone != internet

# METADATA
# scope: document
# description: How a zone is named in messages, with its level.
label(site, zone) := sprintf("%s (level %v)", [zone, level(site, zone)]) if zone != internet

label(_, zone) := "the internet" if zone == internet
