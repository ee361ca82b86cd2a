"""Topic patterns: one placeholder rule, matching, filling and subscription filters."""

from __future__ import annotations

from typing import Any

import pytest
from paho.mqtt.client import topic_matches_sub
from pydantic import ValidationError

from device_profiles import topics
from device_profiles.commands import encode_command
from device_profiles.schema import CommandSpec, TopicSpec
from tests.sample_profiles import pump


def test_placeholders_are_listed_in_order_with_repeats() -> None:
    assert topics.placeholders("a/{zone}/{device_id}/{zone}") == ["zone", "device_id", "zone"]
    assert topics.placeholders("a/{arg1}/{_x}/{Zone}/{1st}/{}") == ["arg1", "_x"]


@pytest.mark.parametrize(
    ("pattern", "topic", "values"),
    [
        ("a/{device_id}/up", "a/gate-1/up", {"device_id": "gate-1"}),
        ("a/{zone2}/{device_id}", "a/z/d", {"zone2": "z", "device_id": "d"}),
        ("t/{site}-pumps/{device_id}", "t/north-pumps/p1", {"site": "north", "device_id": "p1"}),
        ("t/{device_id}/{device_id}", "t/p1/p1", {"device_id": "p1"}),
        ("a.b/{device_id}+x", "a.b/d+x", {"device_id": "d"}),  # the rest is literal
    ],
)
def test_match_gives_the_placeholders_values(
    pattern: str, topic: str, values: dict[str, str]
) -> None:
    assert topics.match(pattern, topic) == values
    assert topics.fill(pattern, values) == topic


@pytest.mark.parametrize(
    ("pattern", "topic"),
    [
        ("a/{device_id}/up", "a/x/y/up"),  # a placeholder is one level
        ("a/{device_id}/up", "a//up"),  # and not an empty one
        ("a/{device_id}/up", "a/x/up/more"),
        ("a/{device_id}/up", "b/a/x/up"),
        ("a/{device_id}/up", "a/x/up\n"),
        ("t/{device_id}/{device_id}", "t/p1/p2"),  # a repeated name matches the same text
        ("a.b/{device_id}", "aXb/d"),
    ],
)
def test_match_refuses_other_topics(pattern: str, topic: str) -> None:
    assert topics.match(pattern, topic) is None


def test_the_regex_of_a_pattern_is_compiled_once() -> None:
    assert topics.regex("x/{device_id}/once") is topics.regex("x/{device_id}/once")


def test_fill_leaves_placeholders_it_is_not_given() -> None:
    assert topics.fill("a/{zone}/{device_id}", {"device_id": "d"}) == "a/{zone}/d"


@pytest.mark.parametrize(
    ("pattern", "subscription"),
    [
        ("acme/gate/{device_id}/state", "acme/gate/+/state"),
        ("t/{site}-pumps/{device_id}/level", "t/+/+/level"),
        ("plain/topic", "plain/topic"),
    ],
)
def test_subscription_turns_each_level_with_a_placeholder_into_plus(
    pattern: str, subscription: str
) -> None:
    assert topics.subscription(pattern) == subscription
    topic = topics.fill(pattern, {name: "x-1" for name in topics.placeholders(pattern)})
    assert topic_matches_sub(subscription, topic)


def test_subscriptions_are_each_once_and_leave_out_covered_filters() -> None:
    patterns = ["t/{zone}/{device_id}/cmd", "t/north/{device_id}/cmd", "t/{zone}/{device_id}/cmd"]
    assert topics.subscriptions([*patterns, "t/{device_id}-x/other"]) == (
        "t/+/+/cmd",
        "t/+/other",
    )
    assert topics.covers("t/+/+/cmd", "t/north/+/cmd")
    assert not topics.covers("t/north/+/cmd", "t/+/+/cmd")
    assert not topics.covers("t/+/cmd", "t/+/+/cmd")


# --- one rule in the profile format ----------------------------------------------------------


def test_a_device_topic_placeholder_may_have_digits_in_its_name() -> None:
    spec = TopicSpec(pattern="a/{zone2}/{device_id}")
    assert spec.placeholders == ["zone2", "device_id"]
    assert spec.match("a/z/d") == {"zone2": "z", "device_id": "d"}
    assert spec.topic_for("d", zone2="z") == "a/z/d"
    assert spec.topic_for("d") == "a/zone2/d"  # a placeholder not given stands for itself
    assert spec.subscription == "a/+/+"


def test_a_device_topic_placeholder_fills_a_whole_level_once() -> None:
    with pytest.raises(ValidationError, match="whole topic level"):
        TopicSpec(pattern="a/dev-{device_id}")
    with pytest.raises(ValidationError, match="more than once"):
        TopicSpec(pattern="a/{device_id}/{device_id}")


def _command(payload: Any, args: dict[str, Any]) -> dict[str, Any]:
    return {"description": "go", "topic": "t/{device_id}/cmd", "payload": payload, "args": args}


def test_a_payload_argument_with_digits_in_its_name_must_be_declared() -> None:
    """``{arg1}`` is a placeholder like any other: the schema's check sees it too."""
    with pytest.raises(ValidationError, match="undeclared argument"):
        CommandSpec.model_validate(_command({"level": "{arg1}"}, {}))
    with pytest.raises(ValidationError, match="undeclared argument"):
        CommandSpec.model_validate(_command("L{arg1}", {"arg": {"type": "int"}}))
    profile = pump(commands={"go": _command({"level": "{arg1}"}, {"arg1": {"type": "int"}})})
    assert encode_command(profile, "p1", "go", {"arg1": 7}) == ("t/p1/cmd", b'{"level":7}')


@pytest.mark.parametrize("name", ["Level", "1st", "two words", "x-y"])
def test_an_argument_name_must_be_a_placeholder_name(name: str) -> None:
    with pytest.raises(ValidationError, match="is no placeholder name"):
        CommandSpec.model_validate(_command("{x}", {name: {"type": "int"}}))


def test_a_command_topic_needs_the_device_id_placeholder() -> None:
    with pytest.raises(ValidationError, match="device_id"):
        CommandSpec.model_validate({**_command("go", {}), "topic": "t/device_id/cmd"})
