"""Network filters: pure functions over addresses, no I/O.

{{ sources | anshin_invalid_cidrs }}    entries that are not an IPv4/IPv6 network
{{ sources | anshin_normalise_cidrs }}  canonical form ("10.0.0.1" -> "10.0.0.1/32")
"""

import ipaddress


def _network(value):
    return ipaddress.ip_network(str(value).strip(), strict=False)


def anshin_invalid_cidrs(values):
    """The entries of a list that are not an address or a network in CIDR notation."""
    bad = []
    for value in values or []:
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            _network(value)
        except ValueError:
            bad.append(value)
    return bad


def anshin_normalise_cidrs(values):
    """Canonical CIDR strings, host bits cleared, order kept, duplicates dropped."""
    seen = []
    for value in values or []:
        net = str(_network(value))
        if net not in seen:
            seen.append(net)
    return seen


class FilterModule:
    def filters(self):
        return {
            "anshin_invalid_cidrs": anshin_invalid_cidrs,
            "anshin_normalise_cidrs": anshin_normalise_cidrs,
        }
