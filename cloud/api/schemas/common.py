"""What every resource's shapes share: the base of public models, the problem every
answer of 400 and above carries, the limits of ids and texts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NO_NUL = r"^[^\x00]*$"
"""The pattern of text without NUL characters, which PostgreSQL does not store (nor compare)."""


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Status = Literal["ok", "degraded", "faulty", "unknown"]
GATEWAY_OFFLINE = "gateway offline"


class Problem(BaseModel):
    """What went wrong, as every answer of 400 and above says it."""

    detail: str = Field(description="what went wrong, in a sentence a person can read")
    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description="422 for a request not valid: each problem, with `loc` (where: body, "
        "query or path, then the field), `msg` and `type`",
    )


ID_MAX = 2**31 - 1
"""The largest id a path or query may name: what every engine's integer key holds."""
