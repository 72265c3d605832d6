"""The demo's vendor grant: used inside its window, refused after it, with no stack run between.

The grant (stack.py) is in the lab from the start and ends on a whole minute a few minutes
later. Right after the lab is up the vendor logs in to the bastion from the internet stand-in
(key, then a TOTP code), reaches the grant's target port and is refused any other port of the
target; once the end has passed the same login is refused by sshd itself (the key line's
expiry-time and the certificate's validity). It runs in a thread beside the rest of the story,
which prints what it saw in its own section.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from plantctl.model.inventory import Inventory
from plantctl.plant import grants

from .gateways import session
from .stack import DemoStack

AFTER_END_S = 2.0  # try again this long after the end (sshd and this host share one clock)


@dataclass
class WindowSeen:
    lines: list[str] = field(default_factory=list)
    inside: bool = False  # the grant's port reached inside the window
    other_refused: bool = False  # another port of the target refused inside the window
    after_refused: bool = False  # the login refused after the end
    error: str = ""

    def note(self, text: str) -> None:
        self.lines.append(f"{datetime.now(UTC):%H:%M:%S} {text}")


def walk(stack: DemoStack, inv: Inventory, tmp: Path) -> WindowSeen:
    grant = stack.vendor_grant
    shutil.rmtree(tmp, ignore_errors=True)  # the lab's host keys are new each run
    assert grant is not None
    seen = WindowSeen()
    address = grants.target_address(inv, grant.target) or grant.target
    if datetime.now(UTC) >= grant.end:
        seen.error = f"the lab came up after the grant's end ({grant.end:%H:%M:%S} UTC)"
        return seen
    seen.note(f"{grant.id} ({grant.person}, vendor) window until {grant.end:%H:%M:%S} UTC")
    s = session(stack, inv, grant.id, grant.person, True, tmp / "inside")
    if not s.open():
        seen.error = f"the bastion refused {grant.id} inside its window: {s.error}"
        return seen
    try:
        reached, how = s.reach(f"{address}:{grant.port}")
        seen.inside = reached
        seen.note(f"inside: {grant.target} {address}:{grant.port} {how}")
        other = 22 if grant.port != 22 else 443  # a port of the target the grant does not name
        reached_other, how = s.reach(f"{address}:{other}")
        seen.other_refused = not reached_other
        seen.note(
            f"inside: {grant.target} {address}:{other} (not granted) "
            f"{'reached' if reached_other else 'refused'}"
        )
    finally:
        s.close()
    left = (grant.end - datetime.now(UTC)).total_seconds() + AFTER_END_S
    if left > 0:
        time.sleep(left)
    after = session(stack, inv, grant.id, grant.person, True, tmp / "after")
    opened = after.open()
    if opened:
        after.close()
    seen.after_refused = not opened
    seen.note(
        f"after the end: login {'accepted' if opened else 'refused'}"
        + (
            f" ({after.error.splitlines()[-1] if after.error else 'no reason'})"
            if not opened
            else ""
        )
    )
    return seen
