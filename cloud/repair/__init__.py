"""The repair loop: a ticket's lifecycle, dispatch, SLA and escalation, verification by the
facility's own data. May import ``cloud.db`` and ``cloud.access``; not the API."""
