"""The dependency direction of the packages: what each may import of ours.

``plumbing`` imports nothing of ours; ``device_profiles`` only ``plumbing``; ``edge_agent``,
``cloud`` and ``simulators`` those two and never each other (they talk over MQTT and HTTP);
``linli``, the front door, may hand over to any of them, through their command lines.

Inside ``cloud`` and ``simulators``, each part (a sub-package, or a module at the top) may
import only the parts of its package that :data:`INSIDE` lists; an import that breaks a rule
today is listed in :data:`TOLERATED` until it is fixed. The package docstrings say the same.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = {"plumbing", "device_profiles", "edge_agent", "cloud", "simulators", "linli"}
ALLOWED = {
    "plumbing": set(),
    "device_profiles": {"plumbing"},
    "edge_agent": {"plumbing", "device_profiles"},
    "cloud": {"plumbing", "device_profiles"},
    "simulators": {"plumbing", "device_profiles"},
    "linli": OURS,
}


def module_of(path: Path) -> str:
    """The dotted name of the module at ``path`` (a package is its ``__init__``)."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Whether ``name`` is a module or a package of ours (not a name inside one)."""
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@cache
def imported_modules(path: Path) -> dict[str, int]:
    """The modules of ours that the module at ``path`` imports, anywhere in it, each with the
    line of its first import. ``from a.b import c`` imports ``a.b.c`` when ``c`` is a module;
    relative imports are resolved."""
    found: dict[str, int] = {}
    package = module_of(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            names = [
                full if is_module(full := f"{base}.{alias.name}") else base for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name.split(".")[0] in OURS:
                found.setdefault(name, node.lineno)
    return found


def imported_packages(path: Path) -> set[str]:
    """Top-level packages of ours that the module at ``path`` imports, anywhere in it."""
    return {name.split(".")[0] for name in imported_modules(path)}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_lies_below_it(package: str) -> None:
    modules = sorted((REPO / package).rglob("*.py"))
    assert modules, f"no modules in {package}"
    wrong = {
        str(path.relative_to(REPO)): sorted(imported - ALLOWED[package] - {package})
        for path in modules
        if (imported := imported_packages(path)) - ALLOWED[package] - {package}
    }
    assert wrong == {}


# The front door hands each subcommand to the package that owns it: of the other packages
# it imports their command lines (``<package>.cli`` and ``<package>.<part>.cli``), and the
# ground floor, ``plumbing``, as any package may.
FRONT_DOOR_TOLERATED = {
    # the file where the cloud writes the first admin's password, to print it
    "cloud.access.desk",
}


def test_the_front_door_imports_only_command_lines() -> None:
    wrong = {
        f"{path.relative_to(REPO)}:{line}": name
        for path in sorted((REPO / "linli").rglob("*.py"))
        for name, line in imported_modules(path).items()
        if name.split(".")[0] not in {"linli", "plumbing"}
        and name.split(".")[-1] != "cli"
        and name not in FRONT_DOOR_TOLERATED
    }
    assert wrong == {}


# What each part of a package may import of the same package, besides itself. A part is a
# sub-package or a module at the top of the package; a rule names a part, or one module of a
# part when only that module may be used (``ingest.transport``). ANY: no rule.
ANY = frozenset({"*"})
CLOUD_DOMAIN = {
    *("db", "access", "register", "notify", "repair", "telemetry", "ingest"),
    *("health", "silence"),  # the health engine and the silence sweep, at the top
}
INSIDE: dict[str, dict[str, set[str] | frozenset[str]]] = {
    "cloud": {
        "__init__": set(),
        # settings, their command-line options and metrics, which every part may import
        # (below), import no other part
        "config": set(),
        "metrics": set(),
        "options": set(),
        # the domain, from the bottom up; db is the floor and knows nothing above it
        "db": set(),
        "migrations": {"db"},
        "access": {"db"},
        "register": {"db"},
        "notify": {"db", "access", "ingest.transport"},  # the cloud's one MQTT module
        "repair": {"db", "access", "register", "notify.rules"},
        "telemetry": {"db", "register"},
        "silence": {"db", "repair"},
        "health": {"db", "repair", "silence", "ingest.devices", "ingest.staged_devices"},
        "ingest": {"db", "repair", "telemetry", "health"},
        # the services a process shares, built from the domain; never the doors
        "services": CLOUD_DOMAIN,
        # the doors, and the read side (queries) and gauges (state_metrics) of the API
        # process: the domain imports none of them
        "queries": CLOUD_DOMAIN | {"api.paging", "api.schemas"},
        "state_metrics": CLOUD_DOMAIN,
        "api.schemas": CLOUD_DOMAIN,
        "api": CLOUD_DOMAIN | {"services", "queries", "api.schemas"},
        "api.routers": CLOUD_DOMAIN | {"services", "queries", "api", "api.schemas"},
        "web": CLOUD_DOMAIN | {"services", "queries", "api.deps", "api.moves", "api.schemas"},
        # the wiring: the app factory and the command line put everything together
        "app": ANY,
        "cli": ANY,
    },
    "simulators": {
        # pure: what a device measures over simulated time
        "behaviour": {"daylight", "device"},
        # what a scenario is and reading one; runs nothing
        "scenario": {"device", "faults"},
        # MQTT connections; knows no behaviour, scenario or simulator loop
        "transport": {"device", "faults"},
    },
}
EVERY_PART_MAY_IMPORT = {"cloud": {"config", "metrics", "options"}, "simulators": set()}
# Imports that break a rule above today, by part: each is to be removed, and then taken off.
TOLERATED: dict[str, dict[str, set[str]]] = {
    "cloud": {
        # its command line (linli gateway) uses the register's, for gateways
        "access": {"register.cli", "register.gateways"},
        # binding a device opens its facility's tickets
        "register": {"repair.desk"},
    },
}


def part_of(package: str, name: str) -> str:
    """The part of ``package`` that the module ``name`` (dotted, without the package) is in:
    a sub-package with a rule of its own (``api.routers``), or else the first name."""
    two = ".".join(name.split(".")[:2])
    return two if two in INSIDE[package] else name.split(".")[0]


def matches(package: str, name: str, rules: set[str] | frozenset[str]) -> bool:
    """Whether the module ``name`` is one that ``rules`` name: in a part they name, or the
    module they name or one inside it."""
    return any(
        part_of(package, name) == part_of(package, rule)
        and (name == rule or name.startswith(rule + "."))
        for rule in rules
    )


def inside_imports(package: str) -> list[tuple[Path, str, str, int]]:
    """(file, its part, a module of the same package it imports, the line) for ``package``."""
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        own = module_of(path).split(".", 1)
        if len(own) == 1:
            own.append("__init__")
        for name, line in imported_modules(path).items():
            if name.split(".")[0] == package and name != package:
                found.append((path, part_of(package, own[1]), name.split(".", 1)[1], line))
    return found


@pytest.mark.parametrize("package", sorted(INSIDE))
def test_a_part_imports_only_what_its_package_allows_it(package: str) -> None:
    rules, tolerated = INSIDE[package], TOLERATED.get(package, {})
    wrong = {
        f"{path.relative_to(REPO)}:{line}": f"{package}.{name}"
        for path, part, name, line in inside_imports(package)
        if part in rules
        and rules[part] is not ANY
        and part_of(package, name) != part
        and not matches(package, name, rules[part] | EVERY_PART_MAY_IMPORT[package])
        and not matches(package, name, tolerated.get(part, set()))
    }
    assert wrong == {}


def test_every_part_of_the_cloud_has_its_rule() -> None:
    """A new folder or module of the cloud says what it may import (in :data:`INSIDE`); a
    sub-package without a rule of its own (``api/exports``) is part of its folder."""
    cloud = REPO / "cloud"
    parts = {p.stem for p in cloud.glob("*.py")} | {
        p.name for p in cloud.iterdir() if p.is_dir() and any(p.glob("*.py"))
    }
    assert sorted(parts - set(INSIDE["cloud"])) == []


@pytest.mark.parametrize("package", sorted(TOLERATED))
def test_what_is_tolerated_still_happens(package: str) -> None:
    """Once a tolerated import is gone, take it off :data:`TOLERATED`, so it cannot come back."""
    imports = inside_imports(package)
    gone = {
        f"{part}: {package}.{rule}"
        for part, rules in TOLERATED[package].items()
        for rule in rules
        if not any(own == part and matches(package, name, {rule}) for _, own, name, _ in imports)
    }
    assert gone == set()


def test_what_the_front_door_is_tolerated_still_happens() -> None:
    used = {
        name
        for path in (REPO / "linli").rglob("*.py")
        for name in imported_modules(path)
        if name in FRONT_DOOR_TOLERATED
    }
    assert used == FRONT_DOOR_TOLERATED
