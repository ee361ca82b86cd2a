"""Reading a YAML mapping: plain values, the line of any location, every failure as an issue."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from plumbing.issues import IssuesError
from plumbing.yamlfile import YamlDocument, read_mapping

SITE = """\
name: maple-court
broker:
  host: mqtt.local
  port: 1883
rules:
  - name: door
    for_s: 2.5
  - name: smoke
    for_s: 0
"""


def _write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _read(path: Path) -> YamlDocument:
    return read_mapping(path, what="a site", hint="name, broker and rules")


def _problems(path: Path) -> list[str]:
    with pytest.raises(IssuesError) as caught:
        _read(path)
    return [str(issue) for issue in caught.value.issues]


def test_plain_gives_plain_python_types(tmp_path: Path) -> None:
    text = "n: 0x10\nf: 1.5\nyes: true\nno: false\ns: '12'\nnone: null\nl: [1, two]\n3: three\n"
    plain = _read(_write(tmp_path, text)).plain()
    assert plain == {
        "n": 16,
        "f": 1.5,
        "yes": True,
        "no": False,
        "s": "12",
        "none": None,
        "l": [1, "two"],
        "3": "three",
    }
    assert type(plain) is dict
    assert type(plain["n"]) is int
    assert type(plain["f"]) is float
    assert type(plain["yes"]) is bool and type(plain["no"]) is bool
    assert type(plain["s"]) is str
    assert type(plain["l"]) is list and type(plain["l"][0]) is int and type(plain["l"][1]) is str
    assert all(type(key) is str for key in plain)


def test_plain_of_nested_mappings_and_lists(tmp_path: Path) -> None:
    plain = _read(_write(tmp_path, SITE)).plain()
    assert type(plain["broker"]) is dict and type(plain["rules"][1]) is dict
    assert type(plain["broker"]["port"]) is int and type(plain["rules"][0]["for_s"]) is float
    assert plain["rules"][1] == {"name": "smoke", "for_s": 0}


def test_line_of_nested_keys_and_list_items(tmp_path: Path) -> None:
    document = _read(_write(tmp_path, SITE))
    assert document.line_of(()) == 1
    assert document.line_of(("broker", "port")) == 4
    assert document.line_of(("rules", 1)) == 8
    assert document.line_of(("rules", 1, "for_s")) == 9
    # absent parts: the line of the deepest node that exists
    assert document.line_of(("broker", "tls", "ca")) == 2
    assert document.line_of(("rules", 7, "name")) == 5


def test_a_merged_key_has_the_line_of_the_mapping_it_is_merged_into(tmp_path: Path) -> None:
    text = """\
    defaults: &base
      host: mqtt.local
      port: 1883
    broker:
      <<: *base
      port: 8883
    """
    document = _read(_write(tmp_path, text))
    assert document.plain()["broker"] == {"host": "mqtt.local", "port": 8883}
    assert document.line_of(("broker", "host")) == 4
    assert document.line_of(("broker", "port")) == 6


def test_validation_issues_say_file_line_field_message(tmp_path: Path) -> None:
    class Rule(BaseModel):
        name: str
        for_s: float = Field(ge=0)

    class Site(BaseModel):
        name: str
        rules: list[Rule]

    path = _write(tmp_path, "name: x\nrules:\n  - name: door\n    for_s: -1\n  - for_s: 1\n")
    document = _read(path)
    with pytest.raises(ValidationError) as caught:
        Site.model_validate(document.plain())
    assert [str(issue) for issue in document.validation_issues(caught.value)] == [
        f"{path}:4: rules[0].for_s: Input should be greater than or equal to 0",
        f"{path}:5: rules[1].name: Field required",
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert _problems(path) == [f"{path}: cannot read: No such file or directory"]


def test_a_directory(tmp_path: Path) -> None:
    assert _problems(tmp_path) == [f"{tmp_path}: cannot read: Is a directory"]


def test_non_utf8_bytes_give_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\nbroker:\n  host: caf\xe9\n")
    assert _problems(path) == [f"{path}:3: not UTF-8 text: invalid continuation byte"]


def test_yaml_syntax_error_gives_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nrules: [1, 2\nbroker: y\n")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:3: YAML: ")


def test_duplicate_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nport: 1\nname: y\n")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:3: YAML: ")
    assert 'duplicate key "name"' in problem


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    assert _problems(path) == [
        f"{path}:1: empty file: a site must be a YAML mapping (name, broker and rules)"
    ]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_top_level_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    assert _problems(path) == [f"{path}:1: a site must be a YAML mapping (name, broker and rules)"]


def test_no_hint_no_parentheses(tmp_path: Path) -> None:
    path = _write(tmp_path, "- a\n")
    with pytest.raises(IssuesError, match=r"a profile must be a YAML mapping$"):
        read_mapping(path, what="a profile")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("&x {a: *x}\n", 1),
        ("&top\nname: x\nitself: [*top]\n", 3),
        ("a: &x [*x]\n", 1),
        ("a: &x [1, *x]\n", 1),
        ("a: &x {b: 1, <<: *x}\n", 1),
    ],
    ids=["top_level", "top_level_deeper", "nested", "nested_second", "merging_itself"],
)
def test_an_alias_inside_the_node_it_names_is_an_issue_with_its_line(
    tmp_path: Path, text: str, line: int
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(IssuesError) as caught:
        read_mapping(path, what="a site")
    assert [str(issue) for issue in caught.value.issues] == [
        f"{path}:{line}: YAML: an alias refers to itself"
    ]
