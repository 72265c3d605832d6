"""The plant's Pulumi program: one ComponentResource per concept, and the targets that realise
them (`lab`: this machine, for real; `meraki`: Cisco Meraki MX appliances in a plant)."""
