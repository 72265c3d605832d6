package plant.lib.purdue_test

import data.plant.lib.fixture
import data.plant.lib.purdue

test_zone_key if {
	purdue.zone_key("north", "cell") == "north/cell"
}

test_levels if {
	purdue.level("north", "cell") == 1 with input as fixture.base
	purdue.level("north", "dmz") == 3.5 with input as fixture.base
	purdue.level("north", "internet") == 5 with input as fixture.base
	not purdue.level("north", "nowhere") with input as fixture.base
}

test_labels if {
	purdue.label("north", "dmz") == "dmz (level 3.5)" with input as fixture.base
	purdue.label("north", "internet") == "the internet" with input as fixture.base
}
