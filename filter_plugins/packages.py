"""Package filters: pure functions over ansible.builtin.package_facts results.

{{ before | anshin_package_changes(after) }}   packages whose version changed, appeared or went
"""


def _version(facts, name):
    entries = facts.get(name) or []
    return ", ".join(sorted({e.get("version", "") for e in entries})) if entries else ""


def anshin_package_changes(before, after):
    """[{name, before, after}] sorted by name, for packages installed, removed or changed in version."""
    before, after = before or {}, after or {}
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = _version(before, name), _version(after, name)
        if old != new:
            changes.append({"name": name, "before": old, "after": new})
    return changes


class FilterModule:
    def filters(self):
        return {"anshin_package_changes": anshin_package_changes}
