"""Every table of the cloud's relational store (SQLite or PostgreSQL), one import: the
models live in a module per part of the domain — :mod:`~cloud.db.facilities` (gateways,
facilities, devices), :mod:`~cloud.db.readings` (readings, batches, gaps, dead letters,
roll-ups), :mod:`~cloud.db.tickets` (the repair loop), :mod:`~cloud.db.register`
(communities, zones, people, calendars, SLA classes, plans, grouping rules),
:mod:`~cloud.db.access` (accounts, sessions, tokens, broker accounts) and
:mod:`~cloud.db.notices` (the outbox of notices, deliveries, webhooks)."""

from cloud.db.access import Account, ApiToken, BrokerAccount, WebSession
from cloud.db.base import Base, Timestamp, UtcDateTime
from cloud.db.facilities import (
    Device,
    DeviceBinding,
    DeviceMove,
    Facility,
    Gateway,
    NewDevices,
    UnknownGateway,
)
from cloud.db.notices import Delivery, Notice, Webhook
from cloud.db.readings import (
    DataGap,
    DeadLetter,
    IngestedBatch,
    Reading,
    RollupDue,
    TelemetryRollup,
)
from cloud.db.register import (
    BusinessCalendar,
    Community,
    GroupingRule,
    Person,
    PersonZone,
    PreventivePlan,
    SlaClass,
    Zone,
)
from cloud.db.tickets import (
    NOT_CLOSED,
    FacilityLink,
    MaintenanceWindow,
    OutboundCommand,
    ResidentReport,
    Ticket,
    TicketEvent,
    TicketFacility,
    TicketPhoto,
    facility_subject,
    gateway_subject,
    zone_subject,
)
from cloud.repair.lifecycle import State as TicketState

__all__ = [
    "NOT_CLOSED",
    "Account",
    "ApiToken",
    "Base",
    "BrokerAccount",
    "BusinessCalendar",
    "Community",
    "DataGap",
    "DeadLetter",
    "Delivery",
    "Device",
    "DeviceBinding",
    "DeviceMove",
    "Facility",
    "FacilityLink",
    "Gateway",
    "GroupingRule",
    "IngestedBatch",
    "MaintenanceWindow",
    "NewDevices",
    "Notice",
    "OutboundCommand",
    "Person",
    "PersonZone",
    "PreventivePlan",
    "Reading",
    "ResidentReport",
    "RollupDue",
    "SlaClass",
    "TelemetryRollup",
    "Ticket",
    "TicketEvent",
    "TicketFacility",
    "TicketPhoto",
    "TicketState",
    "Timestamp",
    "UnknownGateway",
    "UtcDateTime",
    "WebSession",
    "Webhook",
    "Zone",
    "facility_subject",
    "gateway_subject",
    "zone_subject",
]
