package plant.lib.clock_test

import data.plant.lib.clock

test_instant_with_seconds if {
	clock.instant_ns("2026-12-03T08:00:00-05:00") == clock.instant_ns("2026-12-03T13:00:00Z")
}

test_instant_without_seconds if {
	clock.instant_ns("2026-12-03T08:00-05:00") == clock.instant_ns("2026-12-03T13:00:00Z")
	clock.instant_ns("2026-12-03T13:00Z") == clock.instant_ns("2026-12-03T13:00:00Z")
}

test_malformed_instant_is_undefined if {
	not clock.instant_ns("2026-02-30T08:00:00Z")
	not clock.instant_ns("next tuesday")
}

test_date_is_midnight_utc if {
	clock.date_ns("2026-11-22") == clock.instant_ns("2026-11-22T00:00:00Z")
	not clock.date_ns("2026-11-31")
}

test_now_from_input if {
	clock.now_ns == clock.instant_ns("2026-11-22T12:00:00Z") with input.now as "2026-11-22T12:00:00Z"
}

test_units if {
	clock.day_ns == (24 * 3600) * 1000000000
}
