"""`plantctl drift`: the sample plant against exports in each vendor's shape (tests/fixtures/drift/,
made by make.py there) with the deviations of issue 17, each reported once with file:line; an
export made from the inventory itself reports no drift; bad input exits 2 and writes nothing;
`plantctl import --from` adds undocumented devices for review."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plantctl.model.loader import load
from plantctl.monitoring import open_export
from plantctl.reports import drift

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "drift"
INVENTORY = ROOT / "inventory"
NOW = "2026-12-01T12:00:00Z"
FILES = {"nozomi": "nozomi.json", "claroty": "claroty.json", "defender": "defender.json",
         "csv": "export.csv"}  # fmt: skip
LINKS = FIXTURES / "nozomi-links.json"

_spec = importlib.util.spec_from_file_location("drift_make", FIXTURES / "make.py")
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)


def _line(rel: str, needle: str) -> int:
    text = (INVENTORY / rel).read_text().splitlines()
    return next(i for i, line in enumerate(text, 1) if needle in line)


def _drift(plantctl, source: Path | str, *extra: str, inventory: Path = INVENTORY):
    return plantctl(
        "drift", "--inventory", str(inventory), "--from", str(source), "--now", NOW, *extra
    )


def _json(run) -> dict:
    assert run.code in (0, 1), run.err
    return json.loads(run.out)


def _all(doc: dict, site: str, kind: str) -> list[dict]:
    return doc["sites"][site][kind]


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_each_deviation_is_reported_once_with_file_and_line(plantctl, fmt):
    extra = ("--links", str(LINKS)) if fmt == "nozomi" else ()
    run = _drift(plantctl, FIXTURES / FILES[fmt], "--format-out", "json", *extra)
    assert run.code == 1, run.err
    doc = _json(run)
    assert doc["format"] == fmt
    assert doc["counts"] == {
        "undocumented": 1,
        "missing": 1,
        "mismatch": 2,
        "flow": 1 if fmt == "nozomi" else 0,
        "unused-conduit": 0,
    }
    (plc,) = _all(doc, "ridgeway", "undocumented")
    assert plc["seen"]["addresses"] == ["10.20.12.50"]
    assert plc["seen"]["zone"] == "cell-molding"
    assert plc["seen"]["macs"] == ["00:1b:1b:12:50:01"]
    assert plc["seen"]["vendor"] == "Siemens" and plc["seen"]["firmware"] == "V4.5.2"
    if fmt != "claroty":  # Claroty's asset list has no model nor protocols
        assert plc["seen"]["model"] == "S7-1214C"
        assert plc["seen"]["protocols"] == ["s7", "profinet"]
    assert (plc["file"], plc["line"]) == (
        "inventory/sites/ridgeway/zones.yaml",
        _line("sites/ridgeway/zones.yaml", "id: cell-molding"),
    )
    assert plc["provenance"]["file"].endswith(FILES[fmt])
    (gone,) = _all(doc, "ridgeway", "missing")
    assert gone["object"] == "gateway gw-rw-03"
    assert (gone["file"], gone["line"]) == (
        "inventory/sites/ridgeway/gateways.yaml",
        _line("sites/ridgeway/gateways.yaml", "id: gw-rw-03"),
    )
    moved, other_zone = sorted(
        _all(doc, "ridgeway", "mismatch"), key=lambda f: f["object"], reverse=True
    )
    assert (moved["object"], moved["aspect"]) == ("machine rw-press-02", "address")
    assert moved["seen"]["address"] == "10.20.12.122"
    assert moved["line"] == _line("sites/ridgeway/machines.yaml", "address: 10.20.12.22")
    assert (other_zone["object"], other_zone["aspect"]) == ("machine rw-lathe-01", "zone")
    assert other_zone["seen"]["zone"] == "cell-molding"
    assert "documented in zone cell-machining" in other_zone["message"]
    assert other_zone["line"] == _line("sites/ridgeway/machines.yaml", "address: 10.20.11.23")
    if fmt == "nozomi":
        (flow,) = _all(doc, "ridgeway", "flow")
        assert flow["seen"]["from_zone"] == "enterprise"
        assert flow["seen"]["to"] == "10.20.12.21" and flow["seen"]["port"] == 502
        assert flow["object"] == "machine rw-press-01"
        assert flow["line"] == _line("sites/ridgeway/machines.yaml", "id: rw-press-01")
    else:
        assert any("no flows compared" in n for n in doc["notes"])
    assert not any(doc["sites"]["lakeside"].values())  # the other site: no drift
    assert all(f["file"] for s in doc["sites"].values() for kind in s.values() for f in kind)


def test_text_report_names_file_and_line(plantctl):
    run = _drift(plantctl, FIXTURES / "claroty.json", "--site", "ridgeway")
    assert run.code == 1, run.err
    line = _line("sites/ridgeway/gateways.yaml", "id: gw-rw-03")
    assert f"inventory/sites/ridgeway/gateways.yaml:{line}: gateway gw-rw-03" in run.out
    assert "not seen within 30 days [DRIFT-MISSING]" in run.out
    assert "lakeside" not in run.out.split("\n", 1)[1]  # --site: the one site


def test_exports_without_last_seen_say_so(plantctl):
    doc = _json(_drift(plantctl, FIXTURES / "defender.json", "--format-out", "json"))
    assert any("says nothing of when each asset was last seen" in n for n in doc["notes"])
    assert "no last_seen" in _all(doc, "ridgeway", "missing")[0]["message"]


def test_stale_last_seen_is_missing(plantctl, tmp_path):
    inv = load(INVENTORY)
    assets = make.assets_of(inv)
    doc = make.claroty(assets)
    for obj in doc["objects"]:
        if obj["name"] == "rw-cnc-02":
            obj["last_seen"] = "2026-09-01T00:00:00Z"
    (tmp_path / "c.json").write_text(json.dumps(doc))
    found = _json(_drift(plantctl, tmp_path / "c.json", "--format-out", "json"))
    (stale,) = _all(found, "ridgeway", "missing")
    assert stale["object"] == "machine rw-cnc-02" and "last seen 2026-09-01" in stale["message"]
    run = _drift(plantctl, tmp_path / "c.json", "--seen-within", "120")
    assert run.code == 0, run.out


def test_output_formats(plantctl, tmp_path):
    source = FIXTURES / "nozomi.json"
    out = tmp_path / "drift.sarif"
    run = _drift(plantctl, source, "--links", str(LINKS), "--format-out", "sarif", "--output",
                 str(out))  # fmt: skip
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("drift of lakeside, ridgeway against nozomi export")
    sarif = json.loads(out.read_text())
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {
        "DRIFT-UNDOCUMENTED", "DRIFT-MISSING", "DRIFT-MISMATCH", "DRIFT-FLOW",
    }  # fmt: skip
    missing = next(r for r in results if r["ruleId"] == "DRIFT-MISSING")
    loc = missing["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "inventory/sites/ridgeway/gateways.yaml"
    assert loc["region"]["startLine"] == _line("sites/ridgeway/gateways.yaml", "id: gw-rw-03")
    md = _drift(plantctl, source, "--format-out", "markdown")
    assert md.code == 1
    assert md.out.startswith("# Drift: inventory against the network")
    assert "## ridgeway" in md.out and "**Missing devices** (1)" in md.out


def test_unused_conduits_are_hints_not_drift(plantctl, tmp_path):
    inv = load(INVENTORY)
    links = [x for x in make.links_of(inv) if x["to"] != "10.20.36.10"]  # nobody at the bastion
    make.write_links(links, tmp_path / "links.json")
    make.write("nozomi", make.assets_of(inv), tmp_path / "n.json")
    run = _drift(plantctl, tmp_path / "n.json", "--links", str(tmp_path / "links.json"),
                 "--format-out", "json")  # fmt: skip
    assert run.code == 0, run.out  # hints only
    hints = _all(json.loads(run.out), "ridgeway", "unused-conduit")
    assert {h["object"] for h in hints} == {
        "conduit staff-to-bastion",
        "conduit vendors-to-bastion",
    }
    assert all(h["line"] for h in hints)


def test_mac_second_and_a_shared_router_mac(plantctl, tmp_path):
    """An undocumented address with the MAC of a device matched by address is that device at a
    second address; a router's MAC seen on every zone's router address matches nothing."""
    inv = load(INVENTORY)
    assets = make.assets_of(inv, routers=True)
    hmi = next(a for a in assets if a["name"] == "rw-hmi-01")
    assets.append({**hmi, "ip": "10.20.20.99", "name": "hmi-second-nic"})
    make.write("nozomi", assets, tmp_path / "n.json")
    doc = _json(_drift(plantctl, tmp_path / "n.json", "--format-out", "json"))
    (second,) = _all(doc, "ridgeway", "mismatch")
    assert (second["object"], second["aspect"]) == ("machine rw-hmi-01", "address")
    assert "matched by its MAC" in second["message"]
    assert doc["counts"]["undocumented"] == 0


def test_level_vendor_firmware_and_protocol_mismatches(plantctl, tmp_path):
    inv = load(INVENTORY)
    assets = make.assets_of(inv)
    for a in assets:
        if a["name"] == "rw-cnc-01":
            a.update(level=2, firmware="4.11", protocols=["s7"])
        if a["name"] == "rw-sis-plc-01":
            a.update(vendor="HIMA")
    make.write("nozomi", assets, tmp_path / "n.json")
    doc = _json(_drift(plantctl, tmp_path / "n.json", "--format-out", "json"))
    found = {(f["object"], f["aspect"]) for f in _all(doc, "ridgeway", "mismatch")}
    assert found == {
        ("machine rw-cnc-01", "level"),
        ("machine rw-cnc-01", "firmware"),
        ("machine rw-cnc-01", "protocol"),
        ("device rw-sis-plc-01", "vendor"),
    }


# -- an export of the inventory itself: no drift -------------------------------------------------

_INV = load(INVENTORY)
_ASSETS = make.assets_of(_INV, routers=True)


@pytest.mark.parametrize("fmt", sorted(FILES))
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    order=st.permutations(range(len(_ASSETS))),
    drop_details=st.lists(st.booleans(), min_size=len(_ASSETS), max_size=len(_ASSETS)),
    duplicate=st.integers(min_value=0, max_value=len(_ASSETS) - 1),
    mac_style=st.sampled_from([":", "-", ""]),
    upper=st.booleans(),
    indent=st.sampled_from([None, 1, 2]),
    with_links=st.booleans(),
)
def test_an_export_of_the_inventory_itself_reports_no_drift(
    tmp_path_factory, fmt, order, drop_details, duplicate, mac_style, upper, indent, with_links
):
    work = tmp_path_factory.mktemp("self")
    assets = []
    for i in order:
        a = dict(_ASSETS[i])
        if drop_details[i]:  # an export that knows less is no drift
            a.update(vendor=None, model=None, firmware=None, protocols=[], level=None)
        mac = a["mac"].replace(":", mac_style)
        a["mac"] = mac.upper() if upper else mac
        if upper and a["name"]:
            a["name"] = a["name"].upper()
        assets.append(a)
    assets.append(dict(assets[duplicate]))  # the same asset twice (two sensors)
    path = make.write(fmt, assets, work / FILES[fmt], indent=indent)
    links = None
    if with_links:
        links = make.write_links(make.links_of(_INV), work / "links.json", indent=indent)
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    result = drift.compare(_INV, open_export(path, fmt), now=now, links_path=links)
    assert not result.drift, drift.render_text(result)
    assert [f for f in result.findings if f.kind == "unused-conduit"] == [] or not with_links
    assert result.sites == ["lakeside", "ridgeway"]


# -- bad input: exit 2, a message naming the record, nothing written --------------------------


def _bad(plantctl, tmp_path, source, *extra):
    out = tmp_path / "report.json"
    run = _drift(plantctl, source, "--format-out", "json", "--output", str(out), *extra)
    assert run.code == 2, (run.out, run.err)
    assert "Traceback" not in run.err
    assert not out.exists()
    return run.err


def test_truncated_export(plantctl, tmp_path):
    text = (FIXTURES / "nozomi.json").read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) // 2])
    err = _bad(plantctl, tmp_path, cut)
    assert "is truncated or not valid JSON after record result[" in err
    assert err.startswith(f"{cut}:")


def test_another_vendors_shape_with_format_forced(plantctl, tmp_path):
    err = _bad(plantctl, tmp_path, FIXTURES / "nozomi.json", "--format", "claroty")
    assert "is not a claroty export" in err and "give --format nozomi" in err
    err = _bad(plantctl, tmp_path, FIXTURES / "export.csv", "--format", "defender")
    assert "is not a defender export" in err


def test_no_site_information(plantctl, tmp_path):
    assets = [dict(make.UNDOCUMENTED_PLC, ip="192.168.77.5", site_name="Elsewhere")]
    make.write("claroty", assets, tmp_path / "c.json")
    err = _bad(plantctl, tmp_path, tmp_path / "c.json")
    assert "objects[0] (plc-1250, 192.168.77.5): site_name 'Elsewhere' is no site" in err
    assert "no site holds its address" in err and "[DRIFT-SITE]" in err


@pytest.mark.parametrize(
    ("fmt", "field", "value", "message"),
    [
        ("nozomi", "ip", ["10.20.300.1"], "ip '10.20.300.1' is not an IP address"),
        ("nozomi", "mac_address", ["zz:00"], "mac_address 'zz:00' is not a MAC address"),
        ("nozomi", "level", "upper", "level 'upper' is not a Purdue level"),
        ("claroty", "ipv4", ["plc.local"], "ipv4 'plc.local' is not an IP address"),
        ("claroty", "last_seen", "yesterday", "last_seen 'yesterday' is not a time"),
        ("defender", "ipAddresses", [{"ip": 1}], "ipAddresses holds an object"),
    ],
)
def test_bad_values_name_the_record_and_its_line(plantctl, tmp_path, fmt, field, value, message):
    inv = load(INVENTORY)
    assets = make.assets_of(inv)
    doc = {"nozomi": make.nozomi, "claroty": make.claroty, "defender": make.defender}[fmt](assets)
    records = doc if isinstance(doc, list) else doc["result" if fmt == "nozomi" else "objects"]
    records[5][field] = value
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc, indent=2))
    err = _bad(plantctl, tmp_path, path)
    assert message in err
    starts = [i for i, line in enumerate(path.read_text().splitlines(), 1)
              if line in ("  {", "    {")]  # fmt: skip
    assert f"{path}:{starts[5]}:1: " in err
    assert "[5]" in err and "(id " in err


def test_bad_csv_line(plantctl, tmp_path):
    lines = (FIXTURES / "export.csv").read_text().splitlines()
    lines[4] = "not-an-address," + lines[4].split(",", 1)[1]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    err = _bad(plantctl, tmp_path, path)
    assert f"{path}:5:1: line 5: ip 'not-an-address' is not an IP address" in err


def test_a_file_over_the_size_limit(plantctl, tmp_path):
    big = tmp_path / "huge.json"
    subprocess.run(["truncate", "-s", "1G", str(big)], check=True)  # sparse: no disk used
    err = _bad(plantctl, tmp_path, big)
    assert "is 1.0 GiB, over the 512.0 MiB limit for an export" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("hello,world\n1,2\n", "is no export plantctl reads"),
        ('{"data": []}', "is no export plantctl reads"),
        ('{"result": [{"ip": ["10.20.11.21"]}', "is truncated or not valid JSON"),
    ],
)
def test_not_an_export(plantctl, tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_text(text)
    assert message in _bad(plantctl, tmp_path, path)


def test_missing_file_and_unknown_site(plantctl, tmp_path):
    assert "no such file" in _bad(plantctl, tmp_path, tmp_path / "absent.json")
    err = _bad(plantctl, tmp_path, FIXTURES / "claroty.json", "--site", "nowhere")
    assert "--site 'nowhere' is no site of the inventory" in err
    assert "is not a regular file" in _bad(plantctl, tmp_path, Path("/dev/zero"))
    err = _bad(plantctl, tmp_path, FIXTURES / "claroty.json", "--links", str(tmp_path / "no.json"))
    assert "no.json:1:1: no such file" in err


def test_ipv6_multicast_and_link_local_only_assets_are_not_compared(plantctl, tmp_path):
    inv = load(INVENTORY)
    odd = [
        dict(make.UNDOCUMENTED_PLC, ip=ip, name=f"odd-{i}", site_name=None)
        for i, ip in enumerate(("fe80::1", "224.0.0.251", "169.254.10.20", "127.0.0.1"))
    ]
    make.write("defender", [*make.assets_of(inv), *odd], tmp_path / "d.json")
    run = _drift(plantctl, tmp_path / "d.json")
    assert run.code == 0, run.out + run.err
    assert "4 asset(s) with neither a unicast IPv4 address" in run.out


def test_an_undocumented_address_seen_twice_is_reported_once(plantctl, tmp_path):
    inv = load(INVENTORY)
    plc = dict(make.UNDOCUMENTED_PLC, site_name="Ridgeway machining and molding plant")
    make.write("claroty", [*make.assets_of(inv), plc, {**plc, "level": None}], tmp_path / "c.json")
    doc = _json(_drift(plantctl, tmp_path / "c.json", "--format-out", "json"))
    assert doc["counts"]["undocumented"] == 1
    assert doc["counts"]["missing"] == 0 and doc["counts"]["mismatch"] == 0


# -- the survey import ---------------------------------------------------------------------------


def test_survey_import_adds_undocumented_devices_for_review(sample: Path, plantctl):
    devices = sample / "sites" / "ridgeway" / "devices.yaml"
    before = devices.read_text()
    run = plantctl("import", "--from", str(FIXTURES / "nozomi.json"), "--site", "ridgeway",
                   "--into", str(sample))  # fmt: skip
    assert run.code == 0, run.err
    assert f"wrote {devices}" in run.out
    after = devices.read_text()
    assert after.startswith(before)  # comments and layout kept; entries appended
    added = after[len(before) :].splitlines()
    assert added[0].startswith("  # Survey import ")
    assert added[1].startswith(
        "  - {id: plc-1250, name: plc-1250, kind: plc, zone: cell-molding, address: 10.20.12.50, "
        "vendor: Siemens, model: S7-1214C, review: "
    )
    assert len(added) == 2
    check = plantctl("validate", "--inventory", str(sample))
    assert check.code == 2
    line = len(after.splitlines())
    assert f"sites/ridgeway/devices.yaml:{line}:" in check.err
    assert "devices.3.review" in check.err and "owner (zone cell-molding" in check.err
    assert "remove the note" in check.err
    devices.write_text(after.replace(after[after.index(", review: ") : after.rindex("}")], ""))
    assert plantctl("validate", "--inventory", str(sample)).code == 0
    doc = _json(_drift(plantctl, FIXTURES / "nozomi.json", "--format-out", "json",
                       inventory=sample))  # fmt: skip
    assert doc["counts"]["undocumented"] == 0
    again = plantctl("import", "--from", str(FIXTURES / "nozomi.json"), "--site", "ridgeway",
                     "--into", str(sample))  # fmt: skip
    assert again.code == 0 and "no undocumented device of ridgeway" in again.err


def test_survey_import_into_a_site_without_devices_yaml(sample: Path, plantctl, tmp_path):
    inv = load(INVENTORY)
    assets = make.assets_of(inv)
    assets.append(dict(make.UNDOCUMENTED_PLC, site="lakeside", ip="10.30.11.77", name="10.30.11.77",
                       type=None, protocols=["modbus"]))  # fmt: skip
    make.write("csv", assets, tmp_path / "e.csv")
    run = plantctl("import", "--from", str(tmp_path / "e.csv"), "--site", "lakeside",
                   "--into", str(sample))  # fmt: skip
    assert run.code == 0, run.err
    text = (sample / "sites" / "lakeside" / "devices.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../../schema/devices.schema.json\n")
    assert "id: lakeside-seen-10-30-11-77" in text and "kind: plc" in text
    assert "kind plc (guessed)" in text


def test_survey_import_bad_input_writes_nothing(sample: Path, plantctl, tmp_path):
    devices = sample / "sites" / "ridgeway" / "devices.yaml"
    before = devices.read_text()
    big = tmp_path / "huge.json"
    subprocess.run(["truncate", "-s", "1G", str(big)], check=True)
    for args, message in (
        (("--from", str(big), "--site", "ridgeway"), "over the 512.0 MiB limit"),
        (("--from", str(FIXTURES / "nozomi.json"), "--site", "nowhere"), "no site 'nowhere'"),
        (("--from", str(FIXTURES / "nozomi.json"), "--site", "ridgeway", "--format", "csv"),
         "is not a csv export"),
        (("--from", str(FIXTURES / "nozomi.json"), "--site", "ridgeway", "--supernet",
          "10.0.0.0/8"), "--supernet and --timezone are for --format induform"),
    ):  # fmt: skip
        run = plantctl("import", *args, "--into", str(sample))
        assert run.code == 2, run.err
        assert message in run.err and "Traceback" not in run.err
        assert devices.read_text() == before


def test_induform_mode_still_needs_its_format(sample: Path, plantctl):
    run = plantctl("import", "--from", str(ROOT / "tests/fixtures/induform/plant.yaml"),
                   "--site", "harbor", "--into", str(sample))  # fmt: skip
    assert run.code == 2
    assert "plantctl import --format induform makes one" in run.err
    assert not (sample / "sites" / "harbor").exists()


def test_copy_of_fixtures_is_current(tmp_path):
    """The fixtures are what make.py writes from the sample plant (run it after changing it)."""
    make_py = str(FIXTURES / "make.py")
    subprocess.run([sys.executable, make_py, str(tmp_path)], check=True, cwd=ROOT)
    for name in [*FILES.values(), LINKS.name]:
        assert (tmp_path / name).read_text() == (FIXTURES / name).read_text(), name


# -- the governance review's drift section ------------------------------------------------------


def test_review_has_a_drift_section_when_given_an_export(plantctl, tmp_path):
    from plant_repo import sample_repo

    repo = sample_repo(tmp_path / "plant")
    out = tmp_path / "review"
    run = plantctl("review", "--since", "2020-01-01", "--now", NOW, "--output", str(out),
                   "--drift-export", str(FIXTURES / "claroty.json"), cwd=repo)  # fmt: skip
    assert run.code == 0, run.err
    text = (out / "review.md").read_text()
    section = text.split("## Drift: the inventory against the network (drift of")[1]
    line = _line("sites/ridgeway/gateways.yaml", "id: gw-rw-03")
    assert f"| ridgeway | missing | inventory/sites/ridgeway/gateways.yaml:{line} |" in section
    assert "| ridgeway | undocumented |" in section
    assert "Drift: the inventory against the network" in (out / "review.html").read_text()
    plain = tmp_path / "plain"
    assert plantctl("review", "--since", "2020-01-01", "--now", NOW, "--output", str(plain),
                    cwd=repo).code == 0  # fmt: skip
    assert "Drift" not in (plain / "review.md").read_text()
    bad = plantctl("review", "--since", "2020-01-01", "--output", str(tmp_path / "bad"),
                   "--drift-export", str(tmp_path / "absent.json"), cwd=repo)  # fmt: skip
    assert bad.code == 2 and "no such file" in bad.err
    assert not (tmp_path / "bad").exists()
