"""Renderers of a check report: text for terminals, JSON for machines."""
