"""Command-line options made from a pydantic-settings model: one declaration per setting.

A component declares each setting once, as a field of its settings model: type, default,
description, and (from the model's ``env_prefix``) its environment variable.
:class:`SettingsOptions` makes a Typer option of a field whose help is the field's
description followed by its variable and default, e.g. ``(env LINLI_EDGE_LOCAL_PORT;
default 1883)``, and :meth:`SettingsOptions.build` makes the settings: an option given on
the command line overrides the environment, which overrides the default. Options default
to None, so that an option not given never hides its environment variable. An invalid
value is reported by the option and variable that set it, and stops the command with exit
status 2.

Settings shared by several components (hosts, ports, profile directories) are declared
once here as annotated types, so every model says the same of them.
"""

from __future__ import annotations

import enum
import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import typer
from pydantic import BeforeValidator, Field, ValidationError
from pydantic_core import ErrorDetails, PydanticUndefined
from pydantic_settings import BaseSettings
from pydantic_settings.exceptions import SettingsError

from plumbing.issues import message_of
from plumbing.mqtt import BrokerAccess

S = TypeVar("S", bound=BaseSettings)

Host = Annotated[str, Field(min_length=1)]
"""A host name or address."""
Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP port."""
ProfilesDirs = Annotated[
    list[Path],
    Field(
        default_factory=list,
        description="directory of site device profiles (*.yaml), used besides the built-in "
        "ones; repeat the option for several",
    ),
]
"""Directories of a site's own device profiles."""


class LogLevel(enum.StrEnum):
    """How much a process logs."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


LogLevelSetting = Annotated[
    LogLevel,
    BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value),
    Field(description="logging detail"),
]
"""A process's logging detail."""


class LogFormat(enum.StrEnum):
    """How a process writes its log."""

    TEXT = "text"
    JSON = "json"


LogFormatSetting = Annotated[
    LogFormat,
    BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value),
    Field(
        description="text: a line for people; json: one JSON object a line (time, level, "
        "logger, message, exception), for a log collector"
    ),
]


class JsonLines(logging.Formatter):
    """A record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: LogLevel, log_format: LogFormat = LogFormat.TEXT) -> None:
    """Log to stderr at ``level``: one line a record, with time, level and logger, as text
    or as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level.value.upper(), handlers=[handler])


EXIT_INVALID = 2


class SettingsOptions(Generic[S]):
    """The Typer options of one settings model, and the settings built from them.

    ``program`` prefixes error messages (``linli edge``).
    """

    def __init__(self, model: type[S], *, program: str) -> None:
        self.model = model
        self.program = program
        self.prefix = str(model.model_config.get("env_prefix", ""))
        self._flags: dict[str, str] = {}

    def env_name(self, field: str) -> str:
        """The environment variable that sets ``field``."""
        return f"{self.prefix}{field}".upper()

    def option(
        self,
        field: str,
        *flags: str,
        help: str | None = None,
        default_text: str | None = None,
        **typer_options: Any,
    ) -> Any:
        """A Typer option for ``field``, to use as ``Annotated[T | None, option] = None``.

        The help is ``help`` (else the field's description), then its environment variable
        and default (``default_text`` where the model's default is computed).
        """
        info = self.model.model_fields.get(field)
        if info is None:
            raise KeyError(f"{self.model.__name__} has no setting {field!r}")
        if not flags:
            raise ValueError(f"option for {field!r} needs at least one flag")
        text = help or info.description
        if not text:
            raise ValueError(f"{self.model.__name__}.{field} needs a description for its help")
        self._flags[field] = flags[0].split("/")[0]
        sentence = text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
        return typer.Option(
            *flags,
            help=f"{sentence} ({self._source_text(field, default_text)})",
            show_default=False,
            **typer_options,
        )

    def _source_text(self, field: str, default_text: str | None) -> str:
        info = self.model.model_fields[field]
        env = f"env {self.env_name(field)}"
        annotation = info.annotation
        kind = getattr(annotation, "__origin__", None)
        if kind in (list, tuple, dict):
            env += f", a JSON {'object' if kind is dict else 'list'}"
        if default_text is not None:
            return f"{env}; default {default_text}"
        if info.default is PydanticUndefined and info.default_factory is None:
            return f"{env}; required"
        if info.default_factory is not None or info.default is None:
            return env
        return f"{env}; default {_shown(info.default)}"

    def describe(self, field: str) -> str:
        """How a user sets ``field``: ``setting data_dir (--data-dir or LINLI_EDGE_DATA_DIR)``."""
        flag = self._flags.get(field)
        where = f"{flag} or {self.env_name(field)}" if flag else self.env_name(field)
        return f"setting {field} ({where})"

    def build(self, *, env_file: Path | None = None, **given: Any) -> S:
        """The settings, from the options given (None: not given), the environment,
        ``env_file`` (``NAME=value`` lines) and the defaults, in that order. Each invalid
        value is reported on stderr by the option and variable that set it; then the
        command exits with status 2."""
        values = {name: value for name, value in given.items() if value is not None}
        if env_file is not None and not env_file.is_file():
            typer.echo(f"{self.program}: --env-file {env_file}: no such file", err=True)
            raise typer.Exit(EXIT_INVALID)
        try:
            if env_file is not None:
                return self.model(_env_file=env_file, **values)
            return self.model(**values)
        except ValidationError as exc:
            problems = [self._problem(error) for error in exc.errors()]
        except SettingsError as exc:  # a variable that is not valid JSON for its type
            named = re.search(r'field "(\w+)"', str(exc))
            where = self.describe(named.group(1)) if named else "environment"
            problems = [f"{where}: not valid JSON for its type"]
        for problem in problems:
            typer.echo(f"{self.program}: {problem}", err=True)
        raise typer.Exit(EXIT_INVALID)

    def _problem(self, error: ErrorDetails) -> str:
        field = str(error["loc"][0]) if error["loc"] else ""
        where = self.describe(field) if field in self.model.model_fields else "settings"
        return f"{where}: {message_of(error)}"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Path):
        return f"./{value}" if not value.is_absolute() else str(value)
    return str(value)


def broker_access(settings: BaseSettings, prefix: str) -> BrokerAccess:
    """How a process logs in to a broker, from the settings named ``<prefix>_username``,
    ``_password`` (a SecretStr), ``_tls``, ``_ca_file``, ``_cert_file`` and ``_key_file``
    (the cloud's ``mqtt_…``, the edge agent's ``cloud_…``). ValueError for a password without
    a user name, or a key without its certificate."""
    password = getattr(settings, f"{prefix}_password")
    return BrokerAccess(
        username=getattr(settings, f"{prefix}_username"),
        password=password.get_secret_value() if password is not None else None,
        tls=getattr(settings, f"{prefix}_tls"),
        ca_file=getattr(settings, f"{prefix}_ca_file"),
        cert_file=getattr(settings, f"{prefix}_cert_file"),
        key_file=getattr(settings, f"{prefix}_key_file"),
    )
