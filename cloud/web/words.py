"""What the device profiles say, in the viewer's language: a profile's name, its faults'
titles and its metrics' names, from the profile's ``translations`` (English is the
profile's own); the facilities' categories and yes/no values, from the UI's catalogues.

Site data — the names of communities, zones, facilities and people — is shown as the site
file writes it: those are the community's own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cloud.web.i18n import Language, _
from device_profiles import Catalogue
from device_profiles.schema import Profile, Translation

CATEGORY_LABELS = {
    "access": _("access"),
    "alarm": _("alarm"),
    "environment": _("environment"),
    "ev_charging": _("EV charging"),
    "fire_safety": _("fire safety"),
    "lighting": _("lighting"),
    "road": _("road"),
    "sanitation": _("sanitation"),
    "security": _("security"),
    "vertical_transport": _("lifts"),
    "water": _("water"),
}
"""The facility categories of the catalogue's profiles; a site's own are shown as written."""
YES, NO = _("yes"), _("no")


@dataclass(frozen=True)
class ProfileWords:
    """The profiles' words for one language (a template's ``words``)."""

    catalogue: Catalogue
    language: Language

    def _profile(self, profile_id: str | None) -> Profile | None:
        return self.catalogue.get(profile_id) if profile_id else None

    def _translation(self, profile: Profile | None) -> Translation | None:
        if profile is None:
            return None
        return profile.translations.get(self.language.tag)

    def profile(self, profile_id: str | None) -> str:
        """The profile's name (its id when it is not in the catalogue)."""
        profile = self._profile(profile_id)
        if profile is None:
            return profile_id or ""
        translation = self._translation(profile)
        return translation.name if translation and translation.name else profile.name

    def facility(self, name: str) -> str:
        """A facility's name. One Linli named when it adopted a device — its profile's
        name and the device's id, ``Pedestrian access gate gate-01`` — is shown with the
        profile's name in the viewer's language; a name people gave it, as given."""
        kind, _space, device_id = name.rpartition(" ")
        profile = self._by_name.get(kind)
        if profile is None or not device_id:
            return name
        return f"{self.profile(profile.id)} {device_id}"

    @cached_property
    def _by_name(self) -> dict[str, Profile]:
        return {profile.name: profile for profile in self.catalogue}

    def fault(self, profile_id: str | None, fault: str, title: str | None = None) -> str:
        """A fault's title. ``title`` is what was stored when it was reported (a ticket's
        title): it is translated only while it is still the profile's own title, so a
        title someone wrote is shown as written."""
        profile = self._profile(profile_id)
        spec = profile.faults.get(fault) if profile is not None else None
        if spec is None or (title is not None and title != spec.title):
            return title if title is not None else fault.replace("_", " ")
        translation = self._translation(profile)
        if translation is not None and fault in translation.faults:
            return translation.faults[fault]
        return spec.title

    def title(self, ticket: Any) -> str:
        """A ticket's title (anything with ``profile``, ``fault`` and ``title``)."""
        return self.fault(ticket.profile, ticket.fault, ticket.title)

    def faults(self, profile_id: str | None, faults: list[str]) -> str:
        """Several faults' titles, joined as the language lists them."""
        return self.language.gettext(", ").join(self.fault(profile_id, f) for f in faults)

    def metric(self, profile_id: str | None, metric: str) -> str:
        """A metric's name: the translation, else its id as words ("motor current")."""
        translation = self._translation(self._profile(profile_id))
        if translation is not None and metric in translation.metrics:
            return translation.metrics[metric]
        return metric.replace("_", " ")

    def category(self, category: str) -> str:
        label = CATEGORY_LABELS.get(category)
        return self.language.gettext(label) if label else category.replace("_", " ")

    def value(self, value: Any) -> str:
        """A metric's value: yes/no for states, numbers as the language writes them."""
        if isinstance(value, bool):
            return self.language.gettext(YES if value else NO)
        if isinstance(value, (int, float)):
            return self.language.number(value)
        return "" if value is None else str(value)
