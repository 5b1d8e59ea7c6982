"""The planning half of the LDAP sync: pure functions, no LDAP connection.

    check_attribute_map(attribute_map)              errors in the map (unknown target attributes)
    check_reorganisation(mappings, departments)     errors in the reorganisation mapping
    map_people(entries, attribute_map, key)         source entries -> {uid: {attr: [values]}}
    reorganise(people, mappings, as_of)             departments after the mappings in force on as_of
    plan(source, target, disabled, policy)          the changes, each a dict; guard() says if it is safe
    departments(source), groups_after(...)          the department groups as they should be (full, incremental)
    group_plan(wanted, groups)                      the group changes

Library/ldap_sync.py reads both directories, calls these, then applies the plan. Everything compares values
as sorted lists of strings, so the order a server returns values in never shows as a change.
"""

import re

# inetOrgPerson attributes the target directory is given (departmentNumber carries the department)
TARGET_ATTRIBUTES = (
    "uid",
    "cn",
    "sn",
    "givenName",
    "displayName",
    "mail",
    "telephoneNumber",
    "title",
    "employeeNumber",
    "departmentNumber",
)
REQUIRED = ("uid", "cn", "sn", "departmentNumber")
_ATTR = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_attribute_map(attribute_map):
    errors = []
    for target, source in sorted((attribute_map or {}).items()):
        if target not in TARGET_ATTRIBUTES:
            errors.append(f"attribute_map: unknown target attribute {target!r} (known: {', '.join(TARGET_ATTRIBUTES)})")
        if not isinstance(source, str) or not _ATTR.match(source):
            errors.append(f"attribute_map: {target!r} maps from {source!r}, which is not an attribute name")
    for needed in REQUIRED:
        if needed not in (attribute_map or {}):
            errors.append(f"attribute_map: {needed!r} is required")
    return errors


def _sources(mapping):
    value = mapping.get("from")
    return [value] if isinstance(value, str) else list(value or [])


def check_reorganisation(mappings, departments):
    """Errors: unknown type or department, overlapping mappings, bad dates, a person in two split targets."""
    errors, seen = [], {}
    for index, mapping in enumerate(mappings or []):
        where = f"reorganisation[{index}]"
        kind = mapping.get("type")
        if kind not in ("rename", "merge", "split"):
            errors.append(f"{where}: type must be rename, merge or split, got {kind!r}")
            continue
        if not _DATE.match(str(mapping.get("effective", ""))):
            errors.append(f"{where}: effective must be YYYY-MM-DD, got {mapping.get('effective')!r}")
        sources = _sources(mapping)
        if not sources or (kind in ("rename", "split") and len(sources) != 1) or (kind == "merge" and len(sources) < 2):
            errors.append(
                f"{where}: {kind} needs {'two or more departments' if kind == 'merge' else 'one department'}"
                f" in from, got {sources}"
            )
        for department in sources:
            if department not in departments:
                errors.append(f"{where}: department {department!r} does not exist in the source directory")
            if department in seen:
                errors.append(
                    f"{where}: department {department!r} is already mapped by reorganisation[{seen[department]}]"
                    " (overlapping mappings)"
                )
            seen.setdefault(department, index)
        if kind == "split":
            targets = mapping.get("to")
            if not isinstance(targets, dict) or not targets or not mapping.get("default"):
                errors.append(f"{where}: split needs to: {{new department: [uids]}} and a default department")
                continue
            people = {}
            for new, uids in targets.items():
                for uid in uids or []:
                    if uid in people:
                        errors.append(f"{where}: {uid} is in both {people[uid]!r} and {new!r}")
                    people[uid] = new
        elif not isinstance(mapping.get("to"), str) or not mapping.get("to"):
            errors.append(f"{where}: {kind} needs to: the new department")
    return errors


def _values(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return sorted(str(v) for v in value if v not in (None, ""))
    return [str(value)] if value != "" else []


def map_people(entries, attribute_map):
    """{uid: {target attribute: sorted values}} from source entries ({attribute: value(s)}).

    Entries without a uid or a department are returned in `skipped` with the reason.
    """
    people, skipped = {}, []
    lowered = [{k.lower(): v for k, v in entry.items()} for entry in entries]
    for entry in lowered:
        mapped = {}
        for target, source in attribute_map.items():
            values = _values(entry.get(source.lower()))
            if values:
                mapped[target] = values
        uid = (mapped.get("uid") or [None])[0]
        if not uid:
            skipped.append({"entry": entry.get("dn", "?"), "reason": "no uid"})
            continue
        missing = [a for a in REQUIRED if a not in mapped]
        if missing:
            skipped.append({"entry": uid, "reason": "missing " + ", ".join(missing)})
            continue
        if uid in people:
            skipped.append({"entry": uid, "reason": "uid twice in the source"})
            continue
        mapped["uid"] = [uid]
        people[uid] = mapped
    return people, skipped


def reorganise(people, mappings, as_of):
    """Departments rewritten by the mappings in force on as_of (YYYY-MM-DD); returns (people, moves)."""
    by_department = {}
    for mapping in mappings or []:
        if str(mapping["effective"]) <= as_of:
            for department in _sources(mapping):
                by_department[department] = mapping
    result, moves = {}, []
    for uid, attrs in people.items():
        attrs = dict(attrs)
        department = attrs["departmentNumber"][0]
        mapping = by_department.get(department)
        if mapping:
            if mapping["type"] == "split":
                new = next((d for d, uids in mapping["to"].items() if uid in (uids or [])), mapping["default"])
            else:
                new = mapping["to"]
            attrs["departmentNumber"] = [new]
            moves.append({"uid": uid, "from": department, "to": new, "type": mapping["type"]})
        result[uid] = attrs
    return result, moves


def plan(source, target, disabled, policy):
    """The changes that make the target match the source.

    source/target/disabled: {uid: {attr: [values]}} (target = active people, disabled = parked ones).
    policy: 'disable' (move leavers to the disabled branch) or 'delete'.
    Returns a list of {op: create|enable|modify|disable|delete, uid, changes?}, then group operations
    ({op: group_create|group_members|group_delete, group, members}).
    """
    ops = []
    for uid in sorted(source):
        wanted = source[uid]
        if uid in target:
            current = target[uid]
            changes = {a: v for a, v in wanted.items() if _values(current.get(a)) != v}
            removed = {a: [] for a in TARGET_ATTRIBUTES if a in current and a not in wanted and a != "uid"}
            changes.update(removed)
            if changes:
                ops.append(
                    {
                        "op": "modify",
                        "uid": uid,
                        "changes": changes,
                        "before": {a: _values(current.get(a)) for a in changes},
                    }
                )
        elif uid in disabled:
            ops.append({"op": "enable", "uid": uid, "changes": wanted})
        else:
            ops.append({"op": "create", "uid": uid, "changes": wanted})
    for uid in sorted(set(target) - set(source)):
        ops.append({"op": policy, "uid": uid, "before": target[uid]})
    return ops


def departments(source):
    """{department: sorted uids} of the source's active people: the groups as they should be."""
    wanted = {}
    for uid, attrs in source.items():
        wanted.setdefault(attrs["departmentNumber"][0], []).append(uid)
    return {group: sorted(uids) for group, uids in wanted.items()}


def groups_after(groups, affected, changed):
    """The affected groups as they should be when only the `changed` people ({uid: attrs}) changed: each
    keeps its other members and gains or loses the changed ones (an incremental sync)."""
    wanted = {}
    for group in affected:
        members = {uid for uid in groups.get(group, []) if uid not in changed}
        members |= {uid for uid, attrs in changed.items() if attrs["departmentNumber"][0] == group}
        wanted[group] = sorted(members)
    return wanted


def group_plan(wanted, groups):
    """Operations that turn the department groups ({dept: member uids}) into `wanted`; a group whose wanted
    members are none is deleted."""
    ops = []
    for group in sorted(set(wanted) | set(groups)):
        members = sorted(wanted.get(group, []))
        if group not in groups:
            if members:
                ops.append({"op": "group_create", "group": group, "members": members})
        elif not members:
            ops.append({"op": "group_delete", "group": group, "members": []})
        elif sorted(groups[group]) != members:
            ops.append(
                {
                    "op": "group_members",
                    "group": group,
                    "members": members,
                    "added": sorted(set(members) - set(groups[group])),
                    "removed": sorted(set(groups[group]) - set(members)),
                }
            )
    return ops


def guard(ops, target_count, max_percent, override):
    """None when the plan is safe; otherwise why not. Leavers over max_percent of the target stop the sync."""
    leaving = sum(1 for op in ops if op["op"] in ("disable", "delete"))
    if target_count and not override and leaving * 100.0 / target_count > max_percent:
        return (
            f"{leaving} of {target_count} people ({leaving * 100.0 / target_count:.1f} %) would be disabled or "
            f"deleted, more than max_delete_percent={max_percent}: nothing changed. If this is a real "
            "reorganisation, review the report and rerun with allow_mass_delete=true"
        )
    return None


def summary(ops):
    counts = {}
    for op in ops:
        counts[op["op"]] = counts.get(op["op"], 0) + 1
    return counts
