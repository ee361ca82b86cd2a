"""The dependency direction of the packages: what each may import of ours.

``plumbing`` imports nothing of ours; ``device_profiles`` only ``plumbing``; ``edge_agent``,
``cloud`` and ``simulators`` those two and never each other (they talk over MQTT and HTTP);
``linli``, the front door, may hand over to any of them.
"""

from __future__ import annotations

import ast
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


def imported_packages(path: Path) -> set[str]:
    """Top-level packages of ours that the module at ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names)
    return found & OURS


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


DOMAIN = ("ingest", "register", "access", "repair", "notify", "telemetry", "db")
DOORS = {"cloud.api", "cloud.web"}


def test_the_clouds_domain_never_imports_its_doors() -> None:
    """The API and the web UI use the domain; the domain knows neither."""
    wrong = {}
    for folder in DOMAIN:
        for path in sorted((REPO / "cloud" / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            names = [
                node.module
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module
            ]
            names += [
                alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import)
                for alias in node.names
            ]
            doors = sorted(n for n in names if any(n == d or n.startswith(d + ".") for d in DOORS))
            if doors:
                wrong[str(path.relative_to(REPO))] = doors
    assert wrong == {}
