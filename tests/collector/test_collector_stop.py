"""SIGTERM stops the collector promptly at any moment of its life, also while it is still
connecting and subscribing (a converge restarts it right after starting it)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from plantctl.collector.cli import EXIT_OK

# systemd's stop timeout for the unit is 15 s; a collector that needs longer is killed and
# counted as failed. The samples themselves are safe in the spool either way.
STOP_LIMIT_S = 10


@pytest.mark.parametrize("gateway", ["gw-rw-01", "gw-rw-02"])  # OPC UA, Modbus
@pytest.mark.parametrize("after_s", [0.05, 0.3, 0.6, 2.0])
def test_sigterm_stops_it_at_once(loopback_config, plcs, collector, gateway, after_s):
    doc = loopback_config(gateway)
    plcs(doc)
    proc = collector(doc)
    time.sleep(after_s)
    started = time.monotonic()
    try:
        code = proc.proc.wait(timeout=0) if proc.proc.poll() is not None else None
        assert code is None, f"the collector exited by itself:\n{proc.log()}"
        proc.proc.terminate()
        code = proc.proc.wait(timeout=STOP_LIMIT_S)
    except subprocess.TimeoutExpired:
        proc.proc.kill()
        pytest.fail(f"still running {STOP_LIMIT_S} s after SIGTERM:\n{proc.log()}")
    print(f"{gateway}: stopped {time.monotonic() - started:.2f} s after SIGTERM")
    proc.proc = None
    # Before its handler is installed (the first ~0.2 s) the signal ends the process; systemd
    # counts that as a clean stop too, and nothing was read or spooled yet.
    assert code in (EXIT_OK, -signal.SIGTERM), proc.log()
    assert "Traceback" not in proc.log()
