"""`plantctl-collector`: the read-only machine data collector of one gateway.

    plantctl-collector --config /etc/plantctl-collector/config.json
    plantctl-collector --config FILE --check     # validate only (used before a config is installed)

Exit codes: 0 stopped cleanly / configuration valid, 1 failed while running, 2 invalid
configuration (for example a signal that asks for a write: nothing is read then).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from plantctl.collector import config as config_mod

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="plantctl-collector",
        description="Read machine data "
        "(Modbus TCP reads, OPC UA read/subscribe) and publish it "
        "to the site broker over MQTT/TLS.",
    )
    parser.add_argument("--config", required=True, help="the collector configuration (JSON)")
    parser.add_argument("--check", action="store_true", help="validate the configuration, exit")
    parser.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("pymodbus", "asyncua"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        print(f"plantctl-collector: invalid configuration: {exc}", file=sys.stderr)
        print(
            "plantctl-collector: nothing was read; fix the configuration (reads only: Modbus "
            "function codes 1-4, OPC UA read or subscribe)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.check:
        print(
            f"{args.config}: valid ({cfg.signal_count()} signals, {len(cfg.sources)} "
            "machines, reads only)"
        )
        return EXIT_OK
    from plantctl.collector.service import Collector

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Collector(cfg).run(stop)

    try:
        asyncio.run(run())
    except Exception:
        logging.getLogger("plantctl.collector").exception("collector failed")
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
