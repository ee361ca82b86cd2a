"""Public shapes of API resources (what clients see), a module per part of the domain;
every name is here too, as ``cloud.api.schemas.<Name>``.

It may import the domain (today: ``db``'s and ``repair``'s enums and constants),
``plumbing`` and ``device_profiles``; never the rest of ``cloud.api`` (``deps``,
``routers``...), ``cloud.web``, ``cloud.services``, ``cloud.app`` or ``cloud.cli``: the API,
the web UI and :mod:`cloud.queries` import these shapes, never the other way round.
"""

from __future__ import annotations

from cloud.api.schemas.common import (
    GATEWAY_OFFLINE,
    ID_MAX,
    NO_NUL,
    Problem,
    Status,
    _Public,
)
from cloud.api.schemas.figures import (
    _MTBF_STATUS,
    CompliancePublic,
    FacilityFailuresPublic,
    FigureGroup,
    FigureScope,
    MtbfStatus,
    RepairFigureGroup,
    RepairFigures,
    RepairFigureSet,
    RepairTimesPublic,
    RepeatsPublic,
    SlaTargetPublic,
    UptimePublic,
)
from cloud.api.schemas.notify import (
    ChannelsPublic,
    DeliveryPublic,
    DeliveryState,
    WebhookIssued,
    WebhookPublic,
)
from cloud.api.schemas.operator import (
    DataGapPublic,
    DeadLetterPublic,
)
from cloud.api.schemas.register import (
    CalendarPublic,
    CommunityPublic,
    DeviceMovePublic,
    DeviceMoveRequest,
    DevicePublic,
    FacilityPublic,
    GatewayPublic,
    PersonPublic,
    UnknownGatewayPublic,
    ZonePublic,
)
from cloud.api.schemas.telemetry import (
    TelemetryBucket,
    TelemetryReading,
    TelemetrySeries,
)
from cloud.api.schemas.tickets import (
    ESCALATIONS,
    Escalation,
    MaintenancePublic,
    ResidentLinkPublic,
    TicketDetail,
    TicketEventPublic,
    TicketFacilityPublic,
    TicketPublic,
)

__all__ = [
    "ESCALATIONS",
    "GATEWAY_OFFLINE",
    "ID_MAX",
    "NO_NUL",
    "_MTBF_STATUS",
    "CalendarPublic",
    "ChannelsPublic",
    "CommunityPublic",
    "CompliancePublic",
    "DataGapPublic",
    "DeadLetterPublic",
    "DeliveryPublic",
    "DeliveryState",
    "DeviceMovePublic",
    "DeviceMoveRequest",
    "DevicePublic",
    "Escalation",
    "FacilityFailuresPublic",
    "FacilityPublic",
    "FigureGroup",
    "FigureScope",
    "GatewayPublic",
    "MaintenancePublic",
    "MtbfStatus",
    "PersonPublic",
    "Problem",
    "RepairFigureGroup",
    "RepairFigureSet",
    "RepairFigures",
    "RepairTimesPublic",
    "RepeatsPublic",
    "ResidentLinkPublic",
    "SlaTargetPublic",
    "Status",
    "TelemetryBucket",
    "TelemetryReading",
    "TelemetrySeries",
    "TicketDetail",
    "TicketEventPublic",
    "TicketFacilityPublic",
    "TicketPublic",
    "UnknownGatewayPublic",
    "UptimePublic",
    "WebhookIssued",
    "WebhookPublic",
    "ZonePublic",
    "_Public",
]
