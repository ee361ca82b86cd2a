"""The register: communities, zones and buildings, facilities, devices, gateways, people —
and the site files that describe them (format: :mod:`device_profiles.site`)."""
