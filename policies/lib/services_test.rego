package plant.lib.services_test

import data.plant.lib.services

test_any_protocol if services.problem({"protocol": "any"}) == "allows any protocol"

test_tcp_without_a_port if services.problem({"protocol": "tcp"}) == "allows every tcp port"

test_backwards_range if {
	services.problem({"protocol": "tcp", "port": 443, "port_end": 1}) == "has a port range 443-1 that runs backwards"
}

test_every_port_by_another_spelling if {
	services.problem({"protocol": "tcp", "port": 1, "port_end": 65535}) == "has a port range 1-65535 of 65535 ports, wider than 64"
}

test_near_miss_widest_allowed_range if {
	not services.problem({"protocol": "udp", "port": 5000, "port_end": 5063})
}

test_near_miss_one_port if not services.problem({"protocol": "tcp", "port": 8883})

test_near_miss_icmp if not services.problem({"protocol": "icmp"})

test_is_range if {
	services.is_range({"protocol": "tcp", "port": 502, "port_end": 503})
	not services.is_range({"protocol": "tcp", "port": 502, "port_end": 502})
	not services.is_range({"protocol": "tcp", "port": 502})
}
