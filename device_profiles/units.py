"""Unit conversion, the decoding piece that turns a vendor's unit into the canonical one.

A conversion is linear: ``canonical = vendor * scale + offset``. Only conversions listed
here are allowed, so a typo in a profile is an error at load time, not a wrong number.
"""

from __future__ import annotations

_LINEAR: dict[tuple[str, str], tuple[float, float]] = {
    ("mA", "A"): (0.001, 0.0),
    ("A", "mA"): (1000.0, 0.0),
    ("mV", "V"): (0.001, 0.0),
    ("kV", "V"): (1000.0, 0.0),
    ("W", "kW"): (0.001, 0.0),
    ("kW", "W"): (1000.0, 0.0),
    ("Wh", "kWh"): (0.001, 0.0),
    ("kWh", "Wh"): (1000.0, 0.0),
    ("Pa", "kPa"): (0.001, 0.0),
    ("kPa", "bar"): (0.01, 0.0),
    ("MPa", "bar"): (10.0, 0.0),
    ("bar", "MPa"): (0.1, 0.0),
    ("kPa", "MPa"): (0.001, 0.0),
    ("psi", "bar"): (0.0689475729, 0.0),
    ("mbar", "bar"): (0.001, 0.0),
    ("degF", "degC"): (5.0 / 9.0, -32.0 * 5.0 / 9.0),
    ("K", "degC"): (1.0, -273.15),
    ("mm", "m"): (0.001, 0.0),
    ("cm", "m"): (0.01, 0.0),
    ("m", "cm"): (100.0, 0.0),
    ("mm", "cm"): (0.1, 0.0),
    ("ms", "s"): (0.001, 0.0),
    ("min", "s"): (60.0, 0.0),
    ("h", "s"): (3600.0, 0.0),
    ("s", "h"): (1.0 / 3600.0, 0.0),
    ("min", "h"): (1.0 / 60.0, 0.0),
    ("permille", "%"): (0.1, 0.0),
    ("ratio", "%"): (100.0, 0.0),
    ("L", "m3"): (0.001, 0.0),
    ("L/min", "m3/h"): (0.06, 0.0),
    ("deg", "rad"): (0.017453292519943295, 0.0),
}


class UnknownConversion(ValueError):
    pass


def conversion(source: str, target: str) -> tuple[float, float]:
    """``(scale, offset)`` converting ``source`` units into ``target`` units."""
    if source == target:
        return 1.0, 0.0
    try:
        return _LINEAR[(source, target)]
    except KeyError:
        known = sorted({f"{a}→{b}" for a, b in _LINEAR})
        raise UnknownConversion(
            f"no conversion from {source!r} to {target!r}; known: {', '.join(known)}"
        ) from None


def convert(value: float, source: str, target: str) -> float:
    scale, offset = conversion(source, target)
    return value * scale + offset
