"""Pulumi entry point: `pulumi preview|up` in stacks/ runs the plant program for this stack."""

from plantstack.program import main

main()
