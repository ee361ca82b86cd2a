"""``linli profiles``: list, show and validate device profiles, try a payload, export the schema.

Every command reads the built-in catalogue plus any ``--profiles-dir`` given; ``validate``
reads only the files and directories it is given (and the built-ins, to spot a clashing id).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from device_profiles.catalogue import Catalogue, ProfileIssue
    from device_profiles.schema import Field_, Profile

app = typer.Typer(
    help="Device profiles: list, show, validate, try a payload, export the JSON Schema.",
    no_args_is_help=True,
    add_completion=False,
)

SCHEMA_ID = "urn:linli:profile:v1"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

ProfilesDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--profiles-dir",
        exists=True,
        file_okay=False,
        metavar="DIR",
        help="Also read the *.yaml profiles in DIR, beside the built-ins (repeatable).",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ProfileId = Annotated[
    str, typer.Argument(metavar="PROFILE_ID", help="A profile id, e.g. acme_access_gate.")
]

Loc = tuple[str | int, ...]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"linli profiles: {message}", err=True)
    return typer.Exit(code)


def _catalogue(profiles_dirs: list[Path] | None) -> Catalogue:
    from device_profiles.catalogue import Catalogue, ProfileError

    try:
        return Catalogue.load(profiles_dirs or [])
    except ProfileError as exc:
        issues = "\n".join(str(issue) for issue in exc.issues)
        raise _fail(f"{len(exc.issues)} problem(s) in device profiles:\n{issues}") from None


def _profile(catalogue: Catalogue, profile_id: str) -> Profile:
    profile = catalogue.get(profile_id)
    if profile is not None:
        return profile
    known = sorted(p.id for p in catalogue)
    close = suggestions(profile_id, known)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known)}"
    raise _fail(f"no profile {profile_id!r}; {hint}")


def suggestions(wanted: str, known: Sequence[str]) -> list[str]:
    """Ids close to ``wanted``: similar spellings first, then ids that contain it."""
    import difflib

    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.5)
    close += [name for name in known if wanted and wanted in name and name not in close]
    return close


def _table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]


def _echo_lines(lines: Sequence[str]) -> None:
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
def list_profiles(profiles_dir: ProfilesDirs = None, as_json: AsJson = False) -> None:
    """List every profile: id, type, vendor/model, version, category, faults, examples."""
    catalogue = _catalogue(profiles_dir)
    profiles = sorted(catalogue, key=lambda p: p.id)
    if as_json:
        typer.echo(_json([_summary(profile) for profile in profiles]))
        return
    rows = [["ID", "TYPE", "VENDOR/MODEL", "VERSION", "CATEGORY", "FAULTS", "EXAMPLES"]]
    for profile in profiles:
        vendor = f"{profile.vendor}/{profile.model}" if profile.model else profile.vendor
        rows.append(
            [
                profile.id,
                profile.type,
                vendor,
                profile.version,
                profile.category,
                str(len(profile.faults)),
                str(len(profile.examples)),
            ]
        )
    _echo_lines([*_table(rows), f"{len(profiles)} profiles"])


def _summary(profile: Profile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "type": profile.type,
        "vendor": profile.vendor,
        "model": profile.model,
        "version": profile.version,
        "category": profile.category,
        "heartbeat_s": profile.heartbeat_s,
        "faults": len(profile.faults),
        "examples": len(profile.examples),
    }


# --- show ---------------------------------------------------------------------------------

# Profile keys ``show`` lays out itself; any other non-empty key gets a generic section.
_SHOWN = {
    "schema", "id", "type", "name", "category", "vendor", "model", "version", "heartbeat_s",
    "topics", "decode", "faults", "rules", "ticket", "examples",
}  # fmt: skip


@app.command(
    "show",
    help="Show one profile: identity, topics, metrics, faults, rules, ticket, examples.\n\n"
    "Topics come with their MQTT subscription filter, metrics with unit and range, faults "
    "with severity, ticket priority and what raises them. --json prints the profile "
    "itself as a JSON document (valid against the JSON Schema of `linli profiles "
    "schema`). Exit code 2: no such profile (close matches are suggested).",
)
def show(profile_id: ProfileId, profiles_dir: ProfilesDirs = None, as_json: AsJson = False) -> None:
    """Show one profile: identity, topics, metrics, faults, rules, ticket, examples."""
    profile = _profile(_catalogue(profiles_dir), profile_id)
    if as_json:
        typer.echo(_json(profile.model_dump(mode="json", by_alias=True)))
        return
    _echo_lines(describe(profile))


def describe(profile: Profile) -> list[str]:
    """The text ``linli profiles show`` prints for ``profile``."""
    document = profile.model_dump(mode="json", by_alias=True)
    brief = profile.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    timestamp = profile.decode.timestamp
    lines = [f"{profile.id}: {profile.name}"]
    identity = [
        ["type", profile.type],
        ["category", profile.category],
        ["vendor", profile.vendor],
        ["model", profile.model or "-"],
        ["version", profile.version],
        ["schema", document["schema"]],
        ["heartbeat", f"every {_number(profile.heartbeat_s)} s"],
        ["event time", _event_time(timestamp)],
    ]
    lines += _table(identity, "  ")
    lines += ["", "topics (pattern, format, MQTT subscription)"]
    lines += _table(
        [
            [
                spec.pattern,
                f"csv: {','.join(spec.columns)}" if spec.format == "csv" else spec.format,
                spec.subscription,
            ]
            for spec in profile.topics
        ],
        "  ",
    )
    lines += ["", "metrics"]
    metric_rows = [["NAME", "TYPE", "UNIT", "RANGE", "FROM"]]
    for name, metric in profile.decode.metrics.items():
        low_high = (
            f"[{_number(metric.range[0])}, {_number(metric.range[1])}]" if metric.range else "-"
        )
        source = _source(metric.source)
        if metric.description:
            source += f"  ({metric.description})"
        metric_rows.append([name, metric.source.type, metric.unit or "-", low_high, source])
    lines += _table(metric_rows, "  ") if len(metric_rows) > 1 else ["  (none)"]
    lines += ["", "faults"]
    raised_by = _raised_by(profile, document)
    fault_rows = [["NAME", "SEVERITY", "PRIORITY", "TICKET", "RAISED BY", "TITLE"]]
    for name, fault in profile.faults.items():
        priority = fault.priority or profile.ticket.priority
        fault_rows.append(
            [
                name,
                fault.severity.value,
                priority.value + ("" if fault.priority else " (template)"),
                "yes" if fault.ticket else "no",
                ", ".join(raised_by.get(name, [])) or "-",
                fault.title,
            ]
        )
    lines += _table(fault_rows, "  ") if len(fault_rows) > 1 else ["  (none)"]
    lines += ["", "rules"]
    rule_rows = [[rule["fault"], _rule_text(rule)] for rule in _dumps(profile.rules)]
    lines += _table(rule_rows, "  ") if rule_rows else ["  (none)"]
    lines += ["", "ticket template"]
    lines += _table([[key, _render(value)] for key, value in document["ticket"].items()], "  ")
    lines += ["", "examples (name, topic, expected result)"]
    lines += _table(
        [
            [
                example.name,
                example.topic,
                example.expect.health.value
                + (f": {', '.join(example.expect.faults)}" if example.expect.faults else ""),
            ]
            for example in profile.examples
        ],
        "  ",
    )
    for key, value in brief.items():
        if key in _SHOWN or not value:
            continue
        lines += ["", key]
        if isinstance(value, dict):
            lines += _table([[str(name), _render(item)] for name, item in value.items()], "  ")
        elif isinstance(value, list):
            lines += [f"  {_render(item)}" for item in value]
        else:
            lines.append(f"  {_render(value)}")
    return lines


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _event_time(timestamp: Field_ | None) -> str:
    if timestamp is None:
        return "time of receipt"
    where = _source(timestamp.model_copy(update={"optional": False}))
    return where + (", else time of receipt" if timestamp.optional else "")


def _source(source: Field_) -> str:
    """Where a value comes from: its path, then each piece that is not the default."""
    pieces = source.model_dump(
        mode="json", exclude_defaults=True, exclude={"path", "type", "optional"}
    )
    text = ", ".join([source.path, *(f"{key} {_render(value)}" for key, value in pieces.items())])
    return text + (" (optional)" if source.optional else "")


def _dumps(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", by_alias=True, exclude_defaults=True) for item in items]


def _raised_by(profile: Profile, document: dict[str, Any]) -> dict[str, list[str]]:
    """Fault name → what raises it: a payload field (``err=11``, ``pressed``) or a rule."""
    found: dict[str, list[str]] = {}
    for source in profile.decode.faults:
        if source.codes:
            for code, fault in source.codes.items():
                found.setdefault(fault, []).append(f"{source.path}={code}")
        elif source.flag:
            found.setdefault(source.flag, []).append(source.path)
    for rule in document["rules"]:
        found.setdefault(rule["fault"], []).append("rule")
    return found


def _rule_text(rule: dict[str, Any]) -> str:
    """A rule without its fault, e.g. ``when current < 0.05; while on == true``."""
    return "; ".join(f"{key} {_render(value)}" for key, value in rule.items() if key != "fault")


def _is_condition(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"metric", "op", "value"}


def _render(value: Any, nested: bool = False) -> str:
    """A JSON-like value compactly: conditions as ``metric op value``, mappings as k=v
    (in braces when inside another value), lists in brackets."""
    import json

    if _is_condition(value):
        return f"{value['metric']} {value['op']} {_render(value['value'], True)}"
    if isinstance(value, dict):
        text = ", ".join(f"{key}={_render(item, True)}" for key, item in value.items())
        return f"{{{text}}}" if nested else text
    if isinstance(value, list):
        if value and all(_is_condition(item) for item in value):
            return " and ".join(_render(item) for item in value)
        return "[" + ", ".join(_render(item, True) for item in value) + "]"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _number(value)
    return json.dumps(value, ensure_ascii=False)


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
    from device_profiles.catalogue import ProfileError, load_file

    files, path_issues = _profile_paths(paths)
    issues: dict[Path, list[ProfileIssue]] = {path: [] for path in files}
    loaded: dict[Path, Profile] = {}
    for path in files:
        try:
            loaded[path] = load_file(path)
        except ProfileError as exc:
            issues[path] += exc.issues
    for path, profile in loaded.items():
        issues[path] += _example_issues(path, profile)
    for path, issue in _id_clashes(loaded):
        issues[path].append(issue)
    for issue in path_issues:
        typer.echo(str(issue))
    for path in files:
        for issue in sorted(issues[path], key=lambda i: i.line or 0):
            typer.echo(str(issue))
        if not issues[path]:
            profile = loaded[path]
            typer.echo(f"ok  {path}  ({profile.id} {profile.version})")
    errors = len(path_issues) + sum(len(found) for found in issues.values())
    typer.echo(f"{_plural(len(files), 'file')}, {_plural(errors, 'error')}")
    if errors:
        raise typer.Exit(1)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _profile_paths(paths: Sequence[Path]) -> tuple[list[Path], list[ProfileIssue]]:
    """The files to check (each once, in the order given) and problems with the paths."""
    import os

    from device_profiles.catalogue import ProfileIssue, profile_files

    files: list[Path] = []
    seen: set[Path] = set()
    issues: list[ProfileIssue] = []
    for path in paths:
        if path.is_dir():
            try:
                with os.scandir(path):
                    pass
            except OSError as exc:
                issues.append(ProfileIssue(path, None, "", f"cannot read: {exc.strerror}"))
                continue
            found = list(profile_files([path]))
            if not found:
                others = sorted(p.name for p in path.glob("*.yml"))
                hint = f"; rename {', '.join(others)} to *.yaml" if others else ""
                issues.append(ProfileIssue(path, None, "", f"no *.yaml profile files{hint}"))
        elif path.exists():
            found = [path]
        else:
            issues.append(ProfileIssue(path, None, "", "no such file or directory"))
            continue
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files, issues


def _locator(path: Path) -> Any:
    """The file's YAML document, for finding the line of a field (None if unreadable)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, YAMLError):
        return None


def _issue(path: Path, document: Any, loc: Loc, message: str) -> ProfileIssue:
    from device_profiles.catalogue import ProfileIssue, dotted, line_of

    line = line_of(document, loc) if document is not None else None
    return ProfileIssue(path, line, dotted(loc), message)


def _example_issues(path: Path, profile: Profile) -> list[ProfileIssue]:
    """What the catalogue tests would find wrong with ``profile``'s examples."""
    from device_profiles.examples import example_problems

    document = _locator(path)
    return [_issue(path, document, loc, message) for loc, message in example_problems(profile)]


def _id_clashes(loaded: dict[Path, Profile]) -> list[tuple[Path, ProfileIssue]]:
    """Files whose id a built-in profile, or an earlier file given, already uses."""
    from device_profiles.catalogue import ProfileError, builtin_dir, load_file, profile_files

    builtins: dict[str, Path] = {}
    for path in profile_files([builtin_dir()]):
        try:
            builtins.setdefault(load_file(path).id, path)
        except ProfileError:
            continue  # a broken built-in is reported when it is validated itself
    first: dict[str, Path] = {}
    clashes: list[tuple[Path, ProfileIssue]] = []
    for path, profile in loaded.items():
        builtin = builtins.get(profile.id)
        if builtin is not None and builtin.resolve() != path.resolve():
            message = f"{profile.id!r} is the id of the built-in profile {builtin}"
        elif profile.id in first:
            message = f"{profile.id!r} is also defined in {first[profile.id]}"
        else:
            first[profile.id] = path
            continue
        clashes.append((path, _issue(path, _locator(path), ("id",), message)))
    return clashes


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
    profiles_dir: ProfilesDirs = None,
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


def profile_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``linli.profile/v1`` document."""
    from device_profiles.schema import PROFILE_SCHEMA, Profile

    generated = Profile.model_json_schema(by_alias=True)
    head = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": PROFILE_SCHEMA,
        "description": "A Linli device profile: one device type in one vendor's dialect. "
        "Format: docs/profiles.md. Names that refer to each other (faults, metrics) are "
        "checked by `linli profiles validate`, not by this schema.",
    }
    return {**head, **{k: v for k, v in generated.items() if k not in head}}


def schema_text() -> str:
    """The JSON Schema as ``linli profiles schema`` prints it."""
    return _json(profile_json_schema()) + "\n"


@app.command(
    "schema",
    help="Print (or write) the JSON Schema of the profile format, linli.profile/v1.\n\n"
    "For editors and tools that check YAML or JSON against a schema; "
    "docs/profile.schema.json is this output (`make schema` regenerates it). Exit code 1: "
    "FILE cannot be written.",
)
def schema(
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
    """Print (or write) the JSON Schema of the profile format, linli.profile/v1."""
    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}", code=1) from None
    typer.echo(f"wrote {output}")
