"""Layered configuration lists (DebOps style), as a pure function.

    {{ [role_list, group_list, host_list, dependent_list] | anshin_layered }}

Entries are dicts with a `name`. A later entry with the same name replaces an
earlier one; an entry with `state: absent` removes the name. Order of first
appearance is kept, so generated files do not churn.
"""


def anshin_layered(layers, key="name"):
    merged = {}
    for layer in layers or []:
        for entry in layer or []:
            if not isinstance(entry, dict) or not entry.get(key):
                raise ValueError(f"every entry needs a '{key}': {entry!r}")
            merged[entry[key]] = dict(entry)
    return [dict(e, state="present") for e in merged.values() if e.get("state", "present") != "absent"]


class FilterModule:
    def filters(self):
        return {"anshin_layered": anshin_layered}
