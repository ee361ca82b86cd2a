"""What the deployment tests share with the cloud's: the built-in device profiles and the
migrated PostgreSQL template each test's database is copied from."""

from __future__ import annotations

from tests.cloud.conftest import catalogue, postgres_template

__all__ = ["catalogue", "postgres_template"]
