"""Which sites' stacks a change can touch: the matrix of previews a pull request runs.

One stack per site (stacks/, `lab-<site>` or the production target). A site's stack reads its
own folder of the inventory and, through the program, everything global: the organisation,
data classes, protocols, grants, the stack program and the plantctl library. So a change only
inside `inventory/sites/<site>/` touches that site's stack; a change to anything else the
stacks read touches every site; a change to nothing they read (docs, tests, the gate's
policies other than the plan policy) touches none.
"""

from __future__ import annotations

# What every site's stack reads besides its own folder.
EVERY_SITE = ("inventory/", "stacks/", "src/plantctl/", "policies/plan/", "pyproject.toml")


def affected(files: list[str], sites: list[str]) -> list[str]:
    """The sites (of `sites`, in their order) whose stack `files` can change."""
    touched: set[str] = set()
    for path in files:
        parts = path.split("/")
        if path.startswith("inventory/sites/") and len(parts) >= 4:
            touched.add(parts[2])  # a new site's folder counts too, if it is a site now
        elif path.startswith(EVERY_SITE):
            return list(sites)
    return [site for site in sites if site in touched]
