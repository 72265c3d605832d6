package plant.lib.domains_test

import data.plant.lib.domains

test_every_domain_has_deny_rules if {
	every name in domains.names {
		is_set(data.plant[name].deny)
	}
}
