# METADATA
# title: Time helpers
# description: >-
#   Instants and dates as nanoseconds since the epoch, for comparisons with input.now. RFC 3339
#   instants may leave out the seconds (2026-12-03T08:00-05:00), as the inventory schema allows.
#   Dates (YYYY-MM-DD) are midnight UTC of that day.
# schemas:
#   - input: schema.input
package plant.lib.clock

hour_ns := 3600000000000

day_ns := 24 * hour_ns

# METADATA
# description: The policy input's "now" (RFC 3339), in nanoseconds.
now_ns := instant_ns(input.now)

# METADATA
# description: An RFC 3339 instant, with or without seconds, in nanoseconds; undefined if malformed.
instant_ns(text) := time.parse_rfc3339_ns(with_seconds(text))

# METADATA
# description: A calendar date (YYYY-MM-DD), midnight UTC, in nanoseconds; undefined if malformed.
date_ns(text) := time.parse_ns("2006-01-02", text)

# METADATA
# description: The instant with ":00" seconds added where the seconds are left out.
with_seconds(text) := concat("", [substring(text, 0, 16), ":00", substring(text, 16, -1)]) if {
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(Z|[+-])`, text)
} else := text
