"""The read-only machine data collector that runs on each gateway (see cli.py), and the function
that renders its configuration from the inventory (render.py, used on the controller)."""
