"""plantctl: factory IoT as code, one inventory read by policies, stacks and playbooks."""

__version__ = "0.1.0"
