"""What the device profiles say, in the viewer's language: Chinese from the profiles'
translations, English from the profiles themselves, and what people wrote as they wrote it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cloud.web.i18n import Languages
from cloud.web.words import CATEGORY_LABELS, ProfileWords
from device_profiles import Catalogue

LIGHT = "brightway_street_light"


@pytest.fixture(scope="module")
def languages() -> Languages:
    return Languages()


@pytest.fixture
def chinese(catalogue: Catalogue, languages: Languages) -> ProfileWords:
    return ProfileWords(catalogue, languages["zh_Hans"])


@pytest.fixture
def english(catalogue: Catalogue, languages: Languages) -> ProfileWords:
    return ProfileWords(catalogue, languages["en"])


def test_a_fault_is_titled_in_the_viewers_language(
    chinese: ProfileWords, english: ProfileWords
) -> None:
    assert chinese.fault(LIGHT, "lamp_out") == "开灯时灯具无电流"
    assert english.fault(LIGHT, "lamp_out") == "Lamp draws no current while switched on"
    assert chinese.faults(LIGHT, ["lamp_out", "overvoltage"]) == "开灯时灯具无电流、供电电压过高"


def test_a_tickets_title_is_translated_only_while_it_is_the_profiles_own(
    chinese: ProfileWords,
) -> None:
    """A ticket keeps the title it was opened with: the profile's fault title is shown in
    the viewer's language, a title someone wrote (a resident's description, a supervisor's
    words) as written."""
    from_the_profile = SimpleNamespace(
        profile=LIGHT, fault="lamp_out", title="Lamp draws no current while switched on"
    )
    written = SimpleNamespace(profile=LIGHT, fault="lamp_out", title="三号楼门口的灯不亮")
    reported = SimpleNamespace(profile=None, fault="reported", title="The gate squeaks")
    assert chinese.title(from_the_profile) == "开灯时灯具无电流"
    assert chinese.title(written) == "三号楼门口的灯不亮"
    assert chinese.title(reported) == "The gate squeaks"


def test_metrics_and_profiles_are_named_in_chinese(chinese: ProfileWords) -> None:
    assert chinese.metric(LIGHT, "current") == "电流"
    assert chinese.profile(LIGHT) == "路灯与走廊灯"


def test_what_no_profile_words_is_shown_as_readable_english(
    chinese: ProfileWords, english: ProfileWords
) -> None:
    """A profile of a site's own without a translation, or one no longer in the catalogue:
    its ids as words rather than a blank."""
    assert english.metric(LIGHT, "current") == "current"
    assert chinese.metric("a_sites_own_profile", "motor_current") == "motor current"
    assert chinese.fault("a_sites_own_profile", "door_forced") == "door forced"
    assert chinese.profile("a_sites_own_profile") == "a_sites_own_profile"
    assert chinese.category("bicycle_sheds") == "bicycle sheds"


def test_values_and_categories_are_written_as_the_language_writes_them(
    chinese: ProfileWords, english: ProfileWords, catalogue: Catalogue
) -> None:
    assert (chinese.value(True), chinese.value(False)) == ("是", "否")
    assert (english.value(True), english.value(False)) == ("yes", "no")
    assert english.value(48212) == "48,212"
    assert chinese.value(None) == ""
    assert chinese.category("lighting") == "照明"
    assert {p.category for p in catalogue} <= CATEGORY_LABELS.keys(), (
        "a catalogue category has no words"
    )


def test_a_facility_linli_named_is_named_in_the_viewers_language(
    chinese: ProfileWords,
) -> None:
    """Linli names a facility it adopted for a new device after the device's profile; the
    names people gave are theirs."""
    assert chinese.facility("Street and corridor light lamp-07") == "路灯与走廊灯 lamp-07"
    assert chinese.facility("Street light A-07") == "Street light A-07"
    assert chinese.facility("三号楼路灯") == "三号楼路灯"
