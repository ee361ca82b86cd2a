"""``linli profiles``: list, show and validate device profiles, try a payload, export the schema.

Every command reads the built-in catalogue plus the site directories of ``--profiles-dir``
(or ``LINLI_PROFILES_DIRS``); ``validate`` reads only the files and directories it is given
(and the built-ins, to spot a clashing id). What the commands print is made by
:mod:`device_profiles.describe` and :mod:`device_profiles.file_checks`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from plumbing.settings import ProfilesDirs, SettingsOptions

if TYPE_CHECKING:
    from device_profiles.catalogue import Catalogue
    from device_profiles.schema import Profile

app = typer.Typer(
    help="Device profiles: list, show, validate, try a payload, export the JSON Schema.",
    no_args_is_help=True,
    add_completion=False,
)

SCHEMA_ID = "urn:linli:profile:v1"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class ProfilesSettings(BaseSettings):
    """The settings of the ``linli profiles`` commands that read the catalogue."""

    model_config = SettingsConfigDict(env_prefix="LINLI_PROFILES_")

    dirs: ProfilesDirs


OPTIONS = SettingsOptions(ProfilesSettings, program="linli profiles")

ProfilesDirOption = Annotated[
    list[Path] | None,
    OPTIONS.option(
        "dirs",
        "--profiles-dir",
        metavar="DIR",
        exists=True,
        file_okay=False,
        help="also read the *.yaml profiles in DIR, beside the built-ins (repeatable)",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ProfileId = Annotated[
    str, typer.Argument(metavar="PROFILE_ID", help="A profile id, e.g. acme_access_gate.")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"linli profiles: {message}", err=True)
    return typer.Exit(code)


def _catalogue(profiles_dir: list[Path] | None) -> Catalogue:
    """The built-in profiles plus those of the site directories (option, else environment)."""
    from device_profiles.catalogue import Catalogue, ProfileError

    settings = OPTIONS.build(dirs=profiles_dir or None)
    try:
        return Catalogue.load(settings.dirs)
    except ProfileError as exc:
        issues = "\n".join(str(issue) for issue in exc.issues)
        raise _fail(f"{len(exc.issues)} problem(s) in device profiles:\n{issues}") from None


def _profile(catalogue: Catalogue, profile_id: str) -> Profile:
    profile = catalogue.get(profile_id)
    if profile is not None:
        return profile
    known = sorted(p.id for p in catalogue)
    close = _suggestions(profile_id, known)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known)}"
    raise _fail(f"no profile {profile_id!r}; {hint}")


def _suggestions(wanted: str, known: list[str]) -> list[str]:
    """Ids close to ``wanted``: similar spellings first, then ids that contain it."""
    import difflib

    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.5)
    close += [name for name in known if wanted and wanted in name and name not in close]
    return close


def _echo_lines(lines: list[str]) -> None:
    typer.echo("\n".join(line.rstrip() for line in lines))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False)


# --- list ---------------------------------------------------------------------------------


@app.command(
    "list",
    help="List every profile: id, type, vendor/model, version, category, faults, examples.\n\n"
    "The built-in profiles plus those in each --profiles-dir; FAULTS and EXAMPLES count "
    "them. Exit code 2: a profile file is invalid (every problem is printed).",
)
def list_profiles(profiles_dir: ProfilesDirOption = None, as_json: AsJson = False) -> None:
    """List every profile: id, type, vendor/model, version, category, faults, examples."""
    from device_profiles.describe import profile_table, summary

    profiles = sorted(_catalogue(profiles_dir), key=lambda p: p.id)
    if as_json:
        typer.echo(_json([summary(profile) for profile in profiles]))
        return
    _echo_lines([*profile_table(profiles), f"{len(profiles)} profiles"])


# --- show ---------------------------------------------------------------------------------


@app.command(
    "show",
    help="Show one profile: identity, topics, metrics, faults, rules, ticket, examples.\n\n"
    "Topics come with their MQTT subscription filter, metrics with unit and range, faults "
    "with severity, ticket priority and what raises them. --json prints the profile "
    "itself as a JSON document (valid against the JSON Schema of `linli profiles "
    "schema`). Exit code 2: no such profile (close matches are suggested).",
)
def show(
    profile_id: ProfileId, profiles_dir: ProfilesDirOption = None, as_json: AsJson = False
) -> None:
    """Show one profile: identity, topics, metrics, faults, rules, ticket, examples."""
    from device_profiles.describe import describe

    profile = _profile(_catalogue(profiles_dir), profile_id)
    if as_json:
        typer.echo(_json(profile.model_dump(mode="json", by_alias=True)))
        return
    _echo_lines(describe(profile))


# --- validate -----------------------------------------------------------------------------


@app.command(
    "validate",
    help="Check profile files; print every problem as FILE:LINE: FIELD: MESSAGE.\n\n"
    "Checks everything loading checks, runs each file's examples (each must decode to "
    "what it expects, every fault needs an example, one example must be healthy) and "
    "finds ids that a built-in profile or another file given already uses. Prints "
    '"ok  FILE  (ID VERSION)" for each valid file and a summary. Exit code 1 if there is '
    "any problem, else 0.",
)
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            help="Profile YAML files, or directories whose *.yaml files are profiles.",
            show_default=False,
        ),
    ],
) -> None:
    """Check profile files; print every problem as FILE:LINE: FIELD: MESSAGE."""
    from device_profiles.file_checks import check_files

    checks = check_files(paths)
    for issue in checks.path_issues:
        typer.echo(str(issue))
    for file in checks.files:
        for issue in file.issues:
            typer.echo(str(issue))
        if file.profile is not None and not file.issues:
            typer.echo(f"ok  {file.path}  ({file.profile.id} {file.profile.version})")
    typer.echo(f"{_plural(len(checks.files), 'file')}, {_plural(checks.errors, 'error')}")
    if checks.errors:
        raise typer.Exit(1)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- decode -------------------------------------------------------------------------------


@app.command(
    "decode",
    help="Decode a payload as the profile would; print the reading, faults and health as JSON.\n\n"
    "Prints the topic, the canonical reading and the faults and health the rules give it. "
    "The reading is judged on its own (no earlier readings): rules that need time to pass "
    "(for_s, rate, silence) do not fire. Exit code 1: the payload does not decode (the "
    "reason is printed); 2: no such profile, or an unreadable @FILE.",
)
def decode_payload(
    profile_id: ProfileId,
    payload: Annotated[
        str,
        typer.Argument(
            metavar="PAYLOAD",
            help="The vendor payload as text; @FILE reads it from FILE, - from stdin.",
            show_default=False,
        ),
    ],
    topic: Annotated[
        str | None,
        typer.Option(
            "--topic",
            metavar="TOPIC",
            help="Topic it arrived on (default: the topic of the profile's first example).",
            show_default=False,
        ),
    ] = None,
    profiles_dir: ProfilesDirOption = None,
) -> None:
    """Decode a payload as the profile would; print the reading, faults and health as JSON."""
    from datetime import UTC, datetime

    from device_profiles.decode import DecodeError, decode
    from device_profiles.rules import evaluate

    profile = _profile(_catalogue(profiles_dir), profile_id)
    data = _read_payload(payload)
    used_topic = topic if topic is not None else profile.examples[0].topic
    try:
        decoded = decode(profile, used_topic, data, datetime.now(UTC))
    except DecodeError as exc:
        raise _fail(f"cannot decode: {exc.reason}", code=1) from None
    verdict = evaluate(profile, decoded)
    result = {
        "topic": used_topic,
        "reading": decoded.model_dump(mode="json"),
        "verdict": {"faults": list(verdict.faults), "health": verdict.health.value},
    }
    typer.echo(_json(result))


def _read_payload(payload: str) -> bytes:
    if payload == "-":
        return typer.get_binary_stream("stdin").read()
    if payload.startswith("@"):
        try:
            return Path(payload[1:]).read_bytes()
        except OSError as exc:
            raise _fail(f"cannot read {payload[1:]}: {exc.strerror}") from None
    return payload.encode("utf-8")


# --- schema -------------------------------------------------------------------------------


def _document_schema(
    model: type[BaseModel], schema_id: str, title: str, description: str
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one of the open formats' documents."""
    generated = model.model_json_schema(by_alias=True)
    head = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id,
        "title": title,
        "description": description,
    }
    return {**head, **{k: v for k, v in generated.items() if k not in head}}


def profile_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``linli.profile/v1`` document."""
    from device_profiles.schema import PROFILE_SCHEMA, Profile

    return _document_schema(
        Profile,
        SCHEMA_ID,
        PROFILE_SCHEMA,
        "A Linli device profile: one device type in one vendor's dialect. "
        "Format: docs/profiles.md. Names that refer to each other (faults, metrics) are "
        "checked by `linli profiles validate`, not by this schema.",
    )


def site_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``linli.site/v1`` document."""
    from device_profiles.site import SITE_SCHEMA, Site

    return _document_schema(
        Site,
        "urn:linli:site:v1",
        SITE_SCHEMA,
        "A Linli site file: one community's zones, facilities and their "
        "devices, gateways, people, SLA classes and calendars. Format: docs/sites.md. Names "
        "that refer to each other (zones, gateways, calendars) are checked by `linli site "
        "validate`, not by this schema.",
    )


def piece_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``linli.piece/v1`` document."""
    from device_profiles.pieces import PIECE_SCHEMA, Piece

    return _document_schema(
        Piece,
        "urn:linli:piece:v1",
        PIECE_SCHEMA,
        "A Linli piece: a part many device profiles share, included by id with its "
        "parameters. Format: docs/profiles.md, Pieces. What it adds is checked when a "
        "profile that includes it is loaded.",
    )


class Format(StrEnum):
    """The open formats whose JSON Schema ``linli profiles schema`` prints."""

    PROFILE = "profile"
    PROTOCOL = "protocol"
    SITE = "site"
    PIECE = "piece"


def schema_text(of: Format = Format.PROFILE) -> str:
    """The JSON Schema as ``linli profiles schema --of OF`` prints it."""
    if of is Format.PROTOCOL:
        from device_profiles.protocol import wire_json_schema

        return _json(wire_json_schema()) + "\n"
    if of is Format.SITE:
        return _json(site_json_schema()) + "\n"
    if of is Format.PIECE:
        return _json(piece_json_schema()) + "\n"
    return _json(profile_json_schema()) + "\n"


@app.command(
    "schema",
    help="Print (or write) the JSON Schema of an open format: the device profile "
    "(linli.profile/v1), the edge-cloud wire protocol (v1), the site file (linli.site/v1) "
    "or the profiles' shared piece (linli.piece/v1).\n\n"
    "For editors and tools that check YAML or JSON against a schema; "
    "docs/*.schema.json are this output (`make schema` "
    "regenerates them). Exit code 1: FILE cannot be written.",
)
def schema(
    of: Annotated[
        Format, typer.Option("--of", help="Which format: profile, protocol, site or piece.")
    ] = Format.PROFILE,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            metavar="FILE",
            help="Write the schema to FILE instead of printing it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print (or write) the JSON Schema of an open format."""
    text = schema_text(of)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}", code=1) from None
    typer.echo(f"wrote {output}")
