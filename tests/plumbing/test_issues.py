"""Issues as ``file:line: field: message``; pydantic errors turned into issues or a summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator

from plumbing.issues import (
    Issue,
    IssuesError,
    Loc,
    dotted,
    validation_issues,
    validation_summary,
)


class Rule(BaseModel):
    name: str
    for_s: float = Field(ge=0)

    @field_validator("name")
    @classmethod
    def _lower_case(cls, value: str) -> str:
        if value != value.lower():
            raise ValueError("must be lower case")
        return value


class Profile(BaseModel):
    id: str
    rules: list[Rule] = Field(min_length=2)


def _error(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Profile.model_validate(data)
    return caught.value


def test_issue_text_with_line_and_field() -> None:
    issue = Issue(Path("site/gate.yaml"), 12, "rules[0].for_s", "must be >= 0")
    assert str(issue) == "site/gate.yaml:12: rules[0].for_s: must be >= 0"


def test_issue_text_without_line_or_field() -> None:
    assert str(Issue("gate.yaml", None, "id", "missing")) == "gate.yaml: id: missing"
    assert str(Issue("gate.yaml", 3, "", "not YAML")) == "gate.yaml:3: not YAML"
    assert str(Issue("<environment>", None, "", "bad")) == "<environment>: bad"


def test_issues_error_keeps_every_issue_one_a_line() -> None:
    issues = [Issue("a.yaml", 1, "x", "bad"), Issue("b.yaml", None, "", "worse")]
    error = IssuesError(issues)
    assert error.issues == issues
    assert str(error) == "a.yaml:1: x: bad\nb.yaml: worse"


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        ((), ""),
        (("id",), "id"),
        (("rules", 2, "for_s"), "rules[2].for_s"),
        (("matrix", 0, 1), "matrix[0][1]"),
        ((0, "name"), "[0].name"),
    ],
)
def test_dotted(loc: Loc, text: str) -> None:
    assert dotted(loc) == text


def test_validation_issues_name_a_nested_list_item_with_its_line() -> None:
    lines: dict[Loc, int] = {("rules", 1, "for_s"): 9}
    exc = _error({"id": "g", "rules": [{"name": "a", "for_s": 1}, {"name": "b", "for_s": -1}]})
    issues = validation_issues(exc, "gate.yaml", line_of=lambda loc: lines.get(loc))
    assert issues == [
        Issue("gate.yaml", 9, "rules[1].for_s", "Input should be greater than or equal to 0")
    ]


def test_validation_issues_under_a_prefix_and_without_value_error_prefix() -> None:
    seen: list[Loc] = []

    def line_of(loc: Loc) -> int:
        seen.append(loc)
        return 4

    exc = _error({"id": "g", "rules": [{"name": "A", "for_s": 1}, {"name": "b", "for_s": 1}]})
    issues = validation_issues(exc, "site.yaml", line_of=line_of, prefix=("profiles", 3))
    assert [str(issue) for issue in issues] == [
        "site.yaml:4: profiles[3].rules[0].name: must be lower case"
    ]
    assert seen == [("profiles", 3, "rules", 0, "name")]


def test_too_short_is_kept_when_it_is_the_only_problem_of_the_list() -> None:
    exc = _error({"id": "g", "rules": [{"name": "a", "for_s": 1}]})
    issues = validation_issues(exc, "gate.yaml")
    assert [(issue.field, issue.line) for issue in issues] == [("rules", None)]
    assert "at least 2 items" in issues[0].message


def test_too_short_is_left_out_when_items_of_the_list_have_errors() -> None:
    # Built by hand: pydantic >= 2.1x no longer reports both, older versions did.
    exc = ValidationError.from_exception_data(
        "Profile",
        [
            {
                "type": "too_short",
                "loc": ("rules",),
                "input": [],
                "ctx": {"field_type": "List", "min_length": 2, "actual_length": 1},
            },
            {"type": "missing", "loc": ("rules", 1, "name"), "input": {}},
            {
                "type": "too_short",
                "loc": ("tags",),
                "input": [],
                "ctx": {"field_type": "List", "min_length": 1, "actual_length": 0},
            },
        ],
    )
    fields = [issue.field for issue in validation_issues(exc, "gate.yaml")]
    assert fields == ["rules[1].name", "tags"]


def test_validation_summary_lists_the_first_errors_then_a_count() -> None:
    rules = [{"name": "a", "for_s": -i} for i in range(1, 8)]
    exc = _error({"rules": rules})  # id missing + 7 bad for_s: 8 errors
    summary = validation_summary(exc, limit=3)
    assert summary == (
        "id: Field required; "
        "rules[0].for_s: Input should be greater than or equal to 0; "
        "rules[1].for_s: Input should be greater than or equal to 0 (and 5 more)"
    )


def test_validation_summary_without_more_has_no_count() -> None:
    summary = validation_summary(_error({"rules": [{"name": "a", "for_s": 0}] * 2}))
    assert summary == "id: Field required"
    exc = _error({"rules": [{"name": "a", "for_s": 0}]})  # exactly two errors
    assert validation_summary(exc, limit=2).startswith("id: Field required; rules: List")
    assert validation_summary(exc, limit=2).endswith("not 1")


def test_validation_summary_names_an_error_of_the_whole_value_root() -> None:
    exc = _error("not a mapping")
    assert validation_summary(exc, root="payload") == (
        "payload: Input should be a valid dictionary or instance of Profile"
    )
    assert validation_summary(exc) == "Input should be a valid dictionary or instance of Profile"
