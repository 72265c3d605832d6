"""The collector's pieces on their own: read planning and decoding, the on-disk spool."""

from __future__ import annotations

import json

from plantctl.collector.config import ModbusPoint, Signal
from plantctl.collector.sampling import Block, decode, plan_modbus
from plantctl.collector.spool import Spool


def sig(name, function, address, count=1, scale=None, interval=1.0):
    return Signal(
        name, "machine-status", interval, modbus=ModbusPoint(function, address, count, scale)
    )


def test_neighbouring_registers_are_read_in_one_request():
    signals = [
        sig("a", 4, 10, 2),
        sig("b", 4, 12, scale=0.1),
        sig("c", 4, 20),
        sig("d", 4, 500),
        sig("e", 3, 0),
        sig("f", 1, 0),
    ]
    blocks = plan_modbus(signals)
    assert [(b.function, b.address, b.count, [s.name for s in b.signals]) for b in blocks] == [
        (1, 0, 1, ["f"]),
        (3, 0, 1, ["e"]),
        (4, 10, 11, ["a", "b", "c"]),
        (4, 500, 1, ["d"]),
    ]


def test_a_block_never_exceeds_the_function_limit():
    signals = [sig(f"r{i}", 3, i * 10) for i in range(40)]  # addresses 0..390
    blocks = plan_modbus(signals)
    assert all(b.count <= 125 for b in blocks)
    assert sum(len(b.signals) for b in blocks) == 40


def test_registers_decode_high_word_first_and_scale():
    block = Block(4, 10, 3)
    assert decode(sig("a", 4, 10, 2), block, [0x0001, 0x0002, 250]) == 65538
    assert decode(sig("b", 4, 12, scale=0.1), block, [0, 0, 250]) == 25.0
    bits = Block(1, 0, 3)
    assert decode(sig("f", 1, 1), bits, [False, True, False]) is True
    assert decode(sig("g", 1, 0, 3), bits, [True, False, True]) == [True, False, True]


def test_the_spool_numbers_keeps_and_forgets_in_order(tmp_path):
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    assert spool.add([("t/a", {"value": 1}), ("t/b", {"value": 2})]) == 2
    rows = spool.after(0, 10)
    assert [(seq, topic) for seq, topic, _ in rows] == [(1, "t/a"), (2, "t/b")]
    assert json.loads(rows[0][2]) == {"seq": 1, "value": 1}
    spool.remove([1])
    spool.close()
    # Numbers survive a restart and never repeat, even after everything was acknowledged.
    spool = Spool(path)
    assert spool.backlog() == 1
    spool.remove([2])
    assert spool.add([("t/c", {"value": 3})]) == 3
    assert [seq for seq, _, _ in spool.after(0, 10)] == [3]
    spool.close()


def test_s7_signals_become_as_few_byte_ranges_as_a_pdu_allows():
    from plantctl.collector.config import S7Point
    from plantctl.collector.sampling import plan_s7

    def sig(name, area, offset, kind, db=0):
        return Signal(name, "machine-status", 1.0, s7=S7Point(area, offset, kind, db))

    plan = plan_s7(
        [
            sig("a", "db", 0, "int", 10),
            sig("b", "db", 2, "dint", 10),
            sig("c", "db", 300, "real", 10),  # too far for one PDU
            sig("d", "db", 0, "lreal", 20),
            sig("e", "markers", 4, "udint"),
        ]
    )
    assert [(r.area, r.db, r.offset, r.size, [s.name for s in r.signals]) for r in plan] == [
        ("db", 10, 0, 6, ["a", "b"]),
        ("db", 10, 300, 4, ["c"]),
        ("db", 20, 0, 8, ["d"]),
        ("markers", 0, 4, 4, ["e"]),
    ]


def test_logix_array_elements_are_read_as_ranges():
    from plantctl.collector.config import LogixPoint
    from plantctl.collector.sampling import plan_logix

    def sig(name, tag, kind="DINT"):
        return Signal(name, "machine-status", 1.0, logix=LogixPoint(tag, kind))

    plan = plan_logix(
        [sig("a", "T[0]"), sig("b", "T[3]"), sig("c", "T[200]"), sig("d", "Speed", "REAL")]
    )
    assert sorted(r.request for r in plan) == ["Speed", "T[0]{4}", "T[200]{1}"]
