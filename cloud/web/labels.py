"""The words the pages show for the tickets' states, priorities, scopes and events and the
facilities' health: one list for every view, each word marked for the catalogues."""

from __future__ import annotations

from cloud.web.i18n import _

STATE_LABELS = {
    "open": _("open"),
    "assigned": _("assigned"),
    "acknowledged": _("acknowledged"),
    "in_progress": _("in progress"),
    "on_hold": _("on hold"),
    "resolved": _("resolved"),
    "verifying": _("verifying"),
    "closed": _("closed"),
    "cancelled": _("cancelled"),
}
PRIORITY_LABELS = {
    "urgent": _("urgent"),
    "high": _("high"),
    "normal": _("normal"),
    "low": _("low"),
}
SCOPE_LABELS = {"facility": _("facility"), "zone": _("zone"), "gateway": _("gateway")}
EVENT_LABELS = {
    "opened": _("opened"),
    "repeated": _("fault reported again"),
    "fault_cleared": _("fault cleared"),
    "assigned": _("assigned"),
    "acknowledged": _("acknowledged"),
    "started": _("repair started"),
    "held": _("put on hold"),
    "resolved": _("resolved"),
    "verified": _("verified by the data"),
    "confirmed": _("confirmed"),
    "reopened": _("reopened"),
    "cancelled": _("cancelled"),
    "self_test": _("self-test asked"),
    "sla_warning": _("deadline near"),
    "sla_breached": _("deadline missed"),
    "escalated": _("escalated"),
    "reminded": _("reminded"),
    "linked": _("linked"),
}
HEALTH_LABELS = {"ok": _("ok"), "degraded": _("degraded"), "faulty": _("faulty")}
