# METADATA
# title: Network services
# description: >-
#   What a conduit or grant service may say: a named protocol and, for tcp and udp, a port or a
#   short range of ports that runs upwards. One definition for the segmentation and remote-access
#   rules (SEG-003, RA-013) and for the approval of ranges (APR-010).
# schemas:
#   - input: schema.input
package plant.lib.services

# The widest range a service may name; wider is "every port" by another spelling.
max_range_ports := 64

# METADATA
# description: The port after the range, as written; the port itself when no range is given.
last(service) := object.get(service, "port_end", service.port)

# METADATA
# description: The service names more than one port.
is_range(service) if last(service) != service.port

# METADATA
# scope: document
# description: What is wrong with a service, in words for a message; undefined when nothing is.
problem(service) := "allows any protocol" if service.protocol == "any"

problem(service) := sprintf("allows every %s port", [service.protocol]) if {
	service.protocol in {"tcp", "udp"}
	not service.port
}

problem(service) := sprintf("has a port range %d-%d that runs backwards", [service.port, service.port_end]) if {
	service.protocol in {"tcp", "udp"}
	service.port_end < service.port
}

problem(service) := sprintf(
	"has a port range %d-%d of %d ports, wider than %d",
	[service.port, service.port_end, (service.port_end - service.port) + 1, max_range_ports],
) if {
	service.protocol in {"tcp", "udp"}
	(service.port_end - service.port) + 1 > max_range_ports
}
