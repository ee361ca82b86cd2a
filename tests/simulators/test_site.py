"""The simulated community as a site file: every simulated device a facility behind the
demo's gateway, lifts and smoke detectors in buildings, people in zones that exist."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from device_profiles import Catalogue
from device_profiles.site import load_site
from simulators.cli import app
from simulators.community import DEFAULT_ZONES, Community
from simulators.site import community_site


def test_every_simulated_device_is_a_facility_of_the_site() -> None:
    community = Community.generate(Catalogue.load(), seed=3)
    site = community_site(community, "demo-gw", DEFAULT_ZONES)
    bound = [(d.gateway, d.device) for f in site.facilities.values() for d in f.devices]
    assert sorted(bound) == sorted(("demo-gw", d.device_id) for d in community)
    assert list(site.gateways) == ["demo-gw"]
    lift = site.facilities["lift-01"]
    assert (lift.name, lift.zone) == ("Lift 1 of building 1", "building-1")
    assert site.zones["building-1"].kind == "building"
    assert site.facilities["gate-01"].zone in DEFAULT_ZONES
    assert {p.role.value for p in site.people.values()} == {
        "property_manager",
        "supervisor",
        "maintainer",
    }


def test_linli_sim_site_prints_a_valid_site_file(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["site", "--gateway-id", "gw-7", "--gates", "3"])
    assert done.exit_code == 0, done.output
    path = tmp_path / "site.yaml"
    path.write_text(done.output)
    site = load_site(path)
    assert sorted(site.facilities) == ["gate-01", "gate-02", "gate-03"]
    assert site.facilities["gate-02"].devices[0].gateway == "gw-7"
