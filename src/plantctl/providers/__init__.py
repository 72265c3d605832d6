"""Pulumi dynamic providers of plantctl's stacks (Python, run by `pulumi-resource-pulumi-python`).

They live in the installed package, not in stacks/, so that the provider process can import them
by reference when the engine calls create/update/delete in a later run.
"""
