"""documents.parse: YAML 1.2 core-schema meanings for plain scalars, strict keys, bounded
aliases and nesting, and locations (1-based) for every key and item."""

from __future__ import annotations

import time

import pytest

from plantctl.core.problems import InvalidInput
from plantctl.model.documents import MAX_DEPTH, Document, parse
from plantctl.model.schemas import _source_text


def value(text: str):
    return parse(f"v: {text}\n", "f.yaml").data["v"]


def refused(text: str) -> tuple[int, int, str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse(text, "f.yaml")
    [problem] = caught.value.problems
    assert problem.file == "f.yaml"
    return problem.line, problem.col, problem.message, problem.rule


@pytest.mark.parametrize(
    "text",
    ["NO", "no", "yes", "Yes", "on", "off", "y", "n", "tRUE", "nULL", "12:30", "1:20:30"],
)
def test_yaml11_words_and_sexagesimals_are_text(text):
    assert value(text) == text


@pytest.mark.parametrize(
    "text", ["2026-01-01", "2026-13-45", "2026-01-01 10:00:00", "2026-01-01T10:00:00Z"]
)
def test_dates_and_times_are_text(text):
    assert value(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("", None),
    ],
)
def test_core_schema_booleans_and_nulls(text, expected):
    assert value(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("-0", 0),
        ("+12", 12),
        ("-12", -12),
        ("017", 17),  # YAML 1.2: decimal, not octal
        ("09", 9),
        ("0o17", 15),
        ("0x1F", 31),
        ("0xff", 255),
        ("123456789012345678901234567890", 123456789012345678901234567890),
    ],
)
def test_integers(text, expected):
    parsed = value(text)
    assert type(parsed) is int
    assert parsed == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.10", 1.1),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1e3", 1000.0),
        ("1E+3", 1000.0),
        ("1.5e-3", 0.0015),
    ],
)
def test_floats(text, expected):
    parsed = value(text)
    assert type(parsed) is float
    assert parsed == expected


def test_a_number_too_long_to_read_is_refused_where_it_is():
    assert refused("a: 1\nb: " + "9" * 5000 + "\n")[::3] == (2, "INV-YAML")


@pytest.mark.parametrize(
    "text",
    [".nan", ".NaN", ".NAN", ".inf", "-.Inf", "+.INF", "1e999", "-1e400", "!!float .nan"],
)
def test_non_finite_numbers_are_refused_at_their_line(text):
    """NaN and infinity have no JSON form: refused by the loader at the value (issue 12.7)."""
    line, col, message, rule = refused(f"a: 1\nb: {text}\n")
    assert (line, col, rule) == (2, 4, "INV-YAML")
    assert "is not a finite number" in message


def test_quoted_nan_stays_text():
    assert value('".nan"') == ".nan"


@pytest.mark.parametrize(
    "text",
    ["0o8", "0o", "0x", "0xG1", "1e", "1_000", "0b101", "+0x1F", "-0o7", "1.2.3", "10.20.30.0/24"],
)
def test_not_quite_numbers_are_text(text):
    assert value(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"true"', "true"),
        ("'true'", "true"),
        ('"1.10"', "1.10"),
        ("'017'", "017"),
        ('"~"', "~"),
        ('""', ""),
        ("'it''s'", "it's"),
        ("!!str 12", "12"),
        ("|\n  true\n", "true\n"),
        (">\n  12\n", "12\n"),
    ],
)
def test_quoted_and_block_scalars_are_always_text(text, expected):
    assert value(text) == expected


def test_explicit_core_tags():
    assert value("!!int '12'") == 12
    assert value("!!float 1") == 1.0
    assert type(value("!!float 1")) is float
    assert value("!!bool 'false'") is False
    assert value("!!null ''") is None


@pytest.mark.parametrize("text", ["!foo x", "!!binary aGVsbG8=", "!!set {a, b}", "!!int abc"])
def test_other_tags_are_refused(text):
    line, col, message, rule = refused(f"v: {text}\n")
    assert (line, col, rule) == (1, 4, "INV-YAML")
    assert "tag" in message


def test_one_point_ten_is_a_float_whose_source_text_is_kept():
    doc = parse("machine:\n  firmware: 1.10  # read as 1.1\n  list: [2.10, 3.0]\n", "f.yaml")
    assert doc.data["machine"]["firmware"] == 1.1
    assert _source_text(doc, ("machine", "firmware")) == "1.10"
    assert _source_text(doc, ("machine", "list", 0)) == "2.10"
    assert _source_text(doc, ("machine", "list", 1)) == "3.0"
    assert _source_text(doc, ("machine", "nope")) is None
    assert doc.locate_value(("machine", "firmware")) == (2, 13)


def test_locate_is_one_based_and_stops_at_the_deepest_key_found():
    text = "sites:\n  - id: a\n    zone: {name: x, vlan: 10}\n  -   id: b\n"
    doc = parse(text, "f.yaml")
    assert isinstance(doc, Document)
    assert (doc.path, doc.text) == ("f.yaml", text)
    assert doc.locate(()) == (1, 1)
    assert doc.locate(("sites",)) == (1, 1)
    assert doc.locate(("sites", 0)) == (2, 5)
    assert doc.locate(("sites", 0, "zone")) == (3, 5)
    assert doc.locate(("sites", 0, "zone", "vlan")) == (3, 21)
    assert doc.locate(("sites", 1, "id")) == (4, 7)
    assert doc.locate(("sites", 0, "zone", "missing")) == (3, 5)
    assert doc.locate(("sites", 7)) == (1, 1)
    assert doc.locate(("sites", -1)) == (1, 1)
    assert doc.locate(("sites", 0, ["unhashable"])) == (2, 5)


def test_duplicate_key_points_at_the_second_one():
    line, col, message, rule = refused("a: 1\nb: 2\na: 3\n")
    assert (line, col, rule) == (3, 1, "INV-DUPKEY")
    assert message == (
        'found duplicate key "a" with value "3" (original value: "1"); '
        "each key may appear once, remove or rename the repeated one"
    )


def test_duplicate_key_in_a_flow_mapping():
    line, col, message, rule = refused("m: {b: 1, b: [2]}\n")
    assert (line, col, rule) == (1, 11, "INV-DUPKEY")
    assert 'found duplicate key "b" with value "[2]" (original value: "1")' in message


def test_quoted_and_plain_spellings_of_a_key_are_the_same_key():
    assert refused("a: x\n'a': y\n")[3] == "INV-DUPKEY"


def test_a_duplicate_key_is_reported_before_a_key_that_is_not_text():
    assert refused("1: a\n1: b\n")[::3] == (2, "INV-DUPKEY")


@pytest.mark.parametrize(
    ("text", "shown"),
    [("1: a\n", "1"), ("null: a\n", "None"), ("true: a\n", "True"), ("[a, b]: c\n", "('a', 'b')")],
)
def test_keys_must_be_text(text, shown):
    assert refused(text) == (1, 1, f"key {shown} is not text; quote it", "INV-YAML")


def test_alias_bomb_is_refused_within_a_second():
    bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"b{i}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9)
    )
    start = time.perf_counter()
    line, _, message, rule = refused(bomb)
    assert time.perf_counter() - start < 1
    assert rule == "INV-YAML"
    assert "alias" in message
    assert line == 2


def test_a_few_aliases_are_fine_and_copied():
    doc = parse("base: &b {x: 1}\none: *b\ntwo: *b\n", "f.yaml")
    assert doc.data == {"base": {"x": 1}, "one": {"x": 1}, "two": {"x": 1}}
    assert doc.data["one"] is not doc.data["two"]
    assert doc.locate(("two", "x")) == (1, 11)  # where the anchored value is written


def test_merge_keys_still_merge():
    doc = parse("base: &b {x: 1, y: 2}\none:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert doc.data["one"] == {"y": 3, "x": 1}
    assert doc.locate(("one", "x")) == (2, 1)  # merged: no place of its own in `one`


def test_an_anchor_may_be_defined_again():
    assert parse("a: &x 1\nb: &x 2\nc: *x\n", "f.yaml").data == {"a": 1, "b": 2, "c": 2}


def test_recursive_alias_is_refused():
    line, col, message, rule = refused("a: &r [x, *r]\n")
    assert (line, col, rule) == (1, 4, "INV-YAML")  # where the list is written
    assert "alias refers to the list or mapping that contains it" in message


def test_nesting_up_to_the_limit_is_fine():
    doc = parse("deep: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n", "f.yaml")
    assert doc.data["deep"] is not None


def test_nesting_beyond_the_limit_is_refused_where_it_happens():
    text = "name: x\ndeep: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"
    line, _col, message, rule = refused(text)
    assert (line, rule) == (2, "INV-YAML")
    assert message.startswith(f"nesting deeper than {MAX_DEPTH} levels")


def test_block_nesting_beyond_the_limit_is_refused():
    text = "".join("  " * i + f"k{i}:\n" for i in range(40))
    line, _, message, _ = refused(text)
    assert line == MAX_DEPTH + 1
    assert "nesting deeper" in message


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 200_000 + "]" * 200_000,
        "- " * 100_000 + "x",
        'a: [x, "q", ' + "[" * 100_000,  # a quote inside brackets: measured, not guessed
        "a: ']]]]' # ]]]]\nb: " + "{a: " * 100_000,
    ],
)
def test_very_deep_nesting_is_refused_quickly_without_composing(text):
    start = time.perf_counter()
    _line, _, message, rule = refused(text)
    assert time.perf_counter() - start < 5
    assert rule == "INV-YAML"
    assert "nesting too deep to parse" in message


def test_syntax_error_points_at_the_problem():
    line, _col, message, rule = refused("a: 1\nb: [1, 2\nc: {x: 1\n")
    assert rule == "INV-YAML"
    assert message.startswith("invalid YAML: ")
    assert message.endswith("; fix the syntax at this point")
    assert line > 1


def test_syntax_error_names_the_character():
    assert refused("a: @x\n")[1:3] == (
        4,
        "invalid YAML: found character '@' that cannot start any token; "
        "fix the syntax at this point",
    )


def test_one_document_per_file():
    line, _, message, _ = refused("a: 1\n---\nb: 2\n")
    assert line == 2
    assert "another document" in message


def test_empty_and_comment_only_files_are_null():
    assert parse("", "f.yaml").data is None
    assert parse("# nothing\n", "f.yaml").data is None
    assert parse("", "f.yaml").locate(("a",)) == (1, 1)


def test_file_size_bound():
    line, col, message, _ = refused("a: " + "x" * (8 * 1024 * 1024))
    assert (line, col) == (1, 1)
    assert message.startswith("file larger than 8 MiB")


def test_plain_data_types_only():
    doc = parse("a: [1, {b: c}]\n", "f.yaml")
    assert type(doc.data) is dict
    assert type(doc.data["a"]) is list
    assert type(doc.data["a"][1]) is dict
