"""The LDAP half of the sync (ldap3): read the source and the target, apply a plan to the target.

Shared by library/ldap_sync.py and the scheduled sync on the VM (roles/ldap_sync/files/anshin-ldap-sync),
so both do exactly the same. Every failure is raised as SyncError with a one-line cause, before any change
when it comes from reading.
"""

import contextlib
from datetime import UTC

try:
    from ansible.module_utils import anshin_ldap_sync as plan_lib
    from ansible.module_utils.anshin_common import now_jst
except ImportError:  # the scheduled sync on the VM runs without Ansible: next to that file, and the base role's
    import anshin_ldap_sync as plan_lib
    from anshin_common import now_jst


try:
    import ldap3
    from ldap3.core import exceptions as ldap_errors
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn, parse_dn
    from pyasn1.type import namedtype, univ  # ldap3's own dependency

    HAS_LDAP3 = True
except ImportError:  # reported by the caller
    HAS_LDAP3 = False

OBJECT_CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson"]


class SyncError(Exception):
    pass


def check_dn(value, what):
    try:
        parse_dn(value)
    except Exception:  # ldap3 raises several kinds for a malformed DN
        raise SyncError(f"{what}: {value!r} is not a valid DN") from None
    if not value:
        raise SyncError(f"{what}: empty DN")


def connect(settings, what):
    """An open, bound connection; raises SyncError naming what failed."""
    url = settings["url"]
    try:
        tls = None
        if url.startswith("ldaps://") or settings.get("start_tls"):
            tls = ldap3.Tls(
                ca_certs_file=settings.get("ca_file") or None, validate=2 if settings.get("ca_file") else 0
            )  # ssl.CERT_REQUIRED with a CA file
        server = ldap3.Server(
            url,
            use_ssl=url.startswith("ldaps://"),
            tls=tls,
            connect_timeout=int(settings.get("timeout", 10)),
            get_info=ldap3.NONE,
        )
        conn = ldap3.Connection(
            server,
            user=settings.get("bind_dn") or None,
            password=settings.get("bind_password") or None,
            receive_timeout=int(settings.get("timeout", 10)),
            raise_exceptions=True,
            auto_bind=ldap3.AUTO_BIND_NONE,
        )
        conn.open()
        if settings.get("start_tls") and not url.startswith("ldaps://"):
            conn.start_tls()
        conn.bind()
    except ldap_errors.LDAPInvalidCredentialsResult:
        raise SyncError(f"{what}: bind as {settings.get('bind_dn')!r} refused (invalid credentials)") from None
    except ldap_errors.LDAPException as exc:
        raise SyncError(f"{what}: cannot reach or bind {url}: {exc.__class__.__name__}: {exc}") from exc
    return conn


TRUNCATED = (
    "source: the result was truncated by the server's size limit: nothing changed "
    "(raise the limit for the sync account)"
)


# the operational attribute an incremental sync filters on (OpenLDAP; AD answers it from whenChanged)
CHANGED = "modifyTimestamp"


def read_source(conn, settings, attribute_map, changed_since=None):
    """(entries, watermark): the entries of the source search, paged, and the latest modifyTimestamp among them
    (None when the source gives none). With changed_since (GeneralizedTime), only the entries changed since then,
    which may be none; without it, a truncated or empty result is an error."""
    attributes = sorted(set(attribute_map.values()) | {CHANGED})
    search_filter = settings.get("filter") or "(objectClass=inetOrgPerson)"
    if changed_since:
        search_filter = f"(&{search_filter}({CHANGED}>={escape_filter_chars(changed_since)}))"
    try:
        entries = conn.extend.standard.paged_search(
            settings["base_dn"],
            search_filter,
            search_scope=ldap3.SUBTREE,
            attributes=attributes,
            paged_size=int(settings.get("page_size", 500)),
            generator=False,
        )
    except ldap_errors.LDAPSizeLimitExceededResult:
        raise SyncError(TRUNCATED) from None
    except ldap_errors.LDAPException as exc:
        raise SyncError(f"source: search failed: {exc.__class__.__name__}: {exc}") from exc
    # ldap3 hands back what arrived before a size or time limit without raising: the last result says so
    code = (conn.result or {}).get("result")
    if code == 4:
        raise SyncError(TRUNCATED)
    if code == 3:
        raise SyncError("source: the search hit the server's time limit: nothing changed")
    found = [dict(e["attributes"], dn=e["dn"]) for e in entries if e.get("type") == "searchResEntry"]
    if not found and not changed_since:
        raise SyncError(f"source: the search under {settings['base_dn']} returned no entries: nothing changed")
    stamps = [generalized_time(v) for e in found for v in _listed(_get(e, CHANGED))]
    stamps = [v for v in stamps if v]
    # one entry without the attribute (hidden by an ACL, another server) makes an incremental read unsafe
    watermark = max(stamps) if stamps and len(stamps) >= len(found) else None
    return found, watermark


def _get(entry, name):
    return next((v for k, v in entry.items() if k.lower() == name.lower()), None)


def _listed(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


STAMP = "%Y%m%d%H%M%SZ"  # GeneralizedTime as the sync keeps it: UTC, whole seconds


def generalized_time(value):
    """STAMP of a GeneralizedTime string or datetime; None when it is neither."""
    if hasattr(value, "strftime"):
        return value.astimezone(UTC).strftime(STAMP) if value.tzinfo else None
    text = str(value)
    if len(text) >= 15 and text[:14].isdigit() and text[:14].isascii() and text.endswith("Z"):
        return text[:14] + "Z"
    return None


def _branch(base_dn, name):
    return f"ou={name},{base_dn}"


def person_dn(uid, branch):
    return f"uid={escape_rdn(uid)},{branch}"


def group_dn(department, branch):
    return f"cn={escape_rdn(department)},{branch}"


def _any_of(attribute, values):
    """Filters matching any of the values, 200 values a filter."""
    values = sorted(values)
    for i in range(0, len(values), 200):
        yield "(|" + "".join(f"({attribute}={escape_filter_chars(v)})" for v in values[i : i + 200]) + ")"


# more values than this: one search of the whole branch, filtered here, is cheaper than long filters
_FEW = 1000


def _search(conn, base, object_class, attributes, attribute=None, values=None):
    """Raw entries (dicts) one level below base: all, or those whose attribute is one of values. The raw
    response, not ldap3's Entry objects: those cost more than the search itself."""
    if values is None or len(values) > _FEW:
        filters = [f"(objectClass={object_class})"]
    else:
        filters = [f"(&(objectClass={object_class}){f})" for f in _any_of(attribute, values)]
    found = []
    for search_filter in filters:
        conn.search(base, search_filter, search_scope=ldap3.LEVEL, attributes=attributes)
        found.extend(e["attributes"] for e in conn.response if e.get("type") == "searchResEntry")
    if values is not None and len(values) > _FEW:
        wanted = set(values)
        found = [e for e in found if wanted & {str(v) for v in _listed(_get(e, attribute))}]
    return found


def read_people(conn, settings, uids=None):
    """(active people, disabled people) of the target directory: all, or only those uids."""
    result = []
    for name in ("people", "disabled"):
        found = {}
        branch = _branch(settings["base_dn"], name)
        if _exists(conn, branch):
            for entry in _search(conn, branch, "inetOrgPerson", list(plan_lib.TARGET_ATTRIBUTES), "uid", uids):
                attrs = {a: sorted(str(v) for v in _listed(_get(entry, a))) for a in plan_lib.TARGET_ATTRIBUTES}
                attrs = {a: v for a, v in attrs.items() if v}
                found[attrs["uid"][0]] = attrs
        result.append(found)
    return result[0], result[1]


def read_groups(conn, settings, departments=None):
    """The department groups of the target directory ({department: member uids}): all, or only those."""
    groups, branch = {}, _branch(settings["base_dn"], "groups")
    if _exists(conn, branch):
        for entry in _search(conn, branch, "groupOfNames", ["cn", "member"], "cn", departments):
            members = []
            for member in _listed(_get(entry, "member")):
                first = parse_dn(str(member))[0]
                if first[0].lower() == "uid":
                    members.append(first[1])
            groups[str(_listed(_get(entry, "cn"))[0])] = sorted(members)
    return groups


def _exists(conn, dn):
    try:
        return conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["1.1"])
    except ldap_errors.LDAPNoSuchObjectResult:
        return False


def ensure_branches(conn, base_dn):
    """ou=people, ou=groups, ou=disabled under the base (created when missing). Returns those created."""
    created = []
    for name in ("people", "groups", "disabled"):
        dn = _branch(base_dn, name)
        if not _exists(conn, dn):
            conn.add(dn, ["top", "organizationalUnit"], {"ou": name})
            created.append(dn)
    return created


# LDAP transactions (RFC 5805): the whole plan commits at once, with one write to disk instead of one per entry
TXN_START, TXN_SPECIFICATION, TXN_END = "1.3.6.1.1.21.1", "1.3.6.1.1.21.2", "1.3.6.1.1.21.3"


def txn_end_request(identifier, commit):
    """txnEndReq ::= SEQUENCE { commit BOOLEAN DEFAULT TRUE, identifier OCTET STRING } (RFC 5805)"""
    request = univ.Sequence(
        componentType=namedtype.NamedTypes(
            namedtype.DefaultedNamedType("commit", univ.Boolean(True)),
            namedtype.NamedType("identifier", univ.OctetString()),
        )
    )
    if not commit:
        request["commit"] = False
    request["identifier"] = identifier
    return request


def start_transaction(conn):
    """The transaction's identifier, or None when the server has no transactions (then each operation is
    written on its own, as before: every step of the plan is safe to repeat)."""
    try:
        conn.extended(TXN_START)
    except ldap_errors.LDAPOperationResult:
        return None
    result = conn.result or {}
    return result.get("responseValue") if result.get("result") == 0 else None


def end_transaction(conn, identifier, commit=True):
    conn.extended(TXN_END, txn_end_request(identifier, commit))


# renames (moving a person to or from ou=disabled) stay out of the transaction: slapd 2.5.13 ends the
# session on a modrdn inside one (molecule/ldap_sync's mass deletion found it)
_RENAMES = ("enable", "disable")


def apply(conn, base_dn, ops, group_ops):
    """Apply the plan: new and changed people and the groups in one transaction where the server has them
    (all or nothing), then the people who come back or leave, one by one; every step is safe to repeat.
    Returns (operations applied, whether a transaction was used)."""
    in_one = [op for op in ops if op["op"] not in _RENAMES]
    identifier = start_transaction(conn) if in_one or group_ops else None
    controls = [(TXN_SPECIFICATION, True, identifier)] if identifier is not None else None
    try:
        done = _apply(conn, base_dn, in_one, group_ops, controls)
    except BaseException:
        if identifier is not None:
            with contextlib.suppress(ldap_errors.LDAPException):
                end_transaction(conn, identifier, commit=False)
        raise
    if identifier is not None:
        end_transaction(conn, identifier)
    done += _apply(conn, base_dn, [op for op in ops if op["op"] in _RENAMES], [], None)
    return done, identifier is not None


def _apply(conn, base_dn, ops, group_ops, controls):
    people, disabled, groups = (_branch(base_dn, n) for n in ("people", "disabled", "groups"))
    done = 0
    for op in ops:
        uid = op["uid"]
        if op["op"] == "create":
            conn.add(person_dn(uid, people), OBJECT_CLASSES, op["changes"], controls=controls)
        elif op["op"] == "enable":
            conn.modify_dn(person_dn(uid, disabled), f"uid={escape_rdn(uid)}", new_superior=people)
            conn.modify(
                person_dn(uid, people), {a: [(ldap3.MODIFY_REPLACE, v)] for a, v in op["changes"].items() if a != "uid"}
            )
        elif op["op"] == "modify":
            conn.modify(
                person_dn(uid, people),
                {a: [(ldap3.MODIFY_REPLACE, v)] for a, v in op["changes"].items()},
                controls=controls,
            )
        else:
            continue
        done += 1
    for op in group_ops:
        dn = group_dn(op["group"], groups)
        members = [person_dn(uid, people) for uid in op["members"]]
        if op["op"] == "group_create":
            conn.add(dn, ["top", "groupOfNames"], {"cn": op["group"], "member": members}, controls=controls)
        elif op["op"] == "group_members":
            conn.modify(dn, {"member": [(ldap3.MODIFY_REPLACE, members)]}, controls=controls)
        elif op["op"] == "group_delete":
            conn.delete(dn, controls=controls)
        done += 1
    for op in ops:
        if op["op"] == "disable":
            conn.modify_dn(person_dn(op["uid"], people), f"uid={escape_rdn(op['uid'])}", new_superior=disabled)
        elif op["op"] == "delete":
            conn.delete(person_dn(op["uid"], people), controls=controls)
        else:
            continue
        done += 1
    return done


def today_jst():
    return now_jst().strftime("%Y-%m-%d")


def sync(
    source_settings,
    target_settings,
    attribute_map,
    reorganisation,
    as_of,
    policy,
    max_percent,
    override,
    dry_run,
    changed_since=None,
):
    """The whole sync. Returns the result dict; raises SyncError before any change when it cannot be safe.

    Without changed_since, a full reconcile: both directories read in full (leavers found). With it
    (GeneralizedTime), an incremental sync: only the source entries changed since then, the same people and
    their departments' groups in the target; it finds no leavers, so the caller runs full reconciles too and
    keeps the settings unchanged in between (the reorganisation is checked by the full run)."""
    if not HAS_LDAP3:
        raise SyncError("the ldap3 Python library is missing on this host (Debian: python3-ldap3)")
    errors = plan_lib.check_attribute_map(attribute_map)
    for what, settings in (("source", source_settings), ("target", target_settings)):
        try:
            check_dn(settings.get("base_dn", ""), f"{what}.base_dn")
            if settings.get("bind_dn"):
                check_dn(settings["bind_dn"], f"{what}.bind_dn")
        except SyncError as exc:
            errors.append(str(exc))
    if policy not in ("disable", "delete"):
        errors.append(f"leaver_policy must be disable or delete, got {policy!r}")
    if errors:
        raise SyncError("; ".join(errors))
    source_conn = connect(source_settings, "source")
    try:
        entries, watermark = read_source(source_conn, source_settings, attribute_map, changed_since)
    finally:
        source_conn.unbind()
    people, skipped = plan_lib.map_people(entries, attribute_map)
    if not changed_since:
        errors = plan_lib.check_reorganisation(reorganisation, {p["departmentNumber"][0] for p in people.values()})
        if errors:
            raise SyncError("; ".join(errors))
    people, moves = plan_lib.reorganise(people, reorganisation, as_of)
    target_conn = connect(target_settings, "target")
    try:
        if changed_since:
            # the changed people, and the groups of their departments before and after
            active, disabled = read_people(target_conn, target_settings, set(people))
            departments = {p["departmentNumber"][0] for p in [*people.values(), *active.values()]}
            groups = read_groups(target_conn, target_settings, departments)
            wanted = plan_lib.groups_after(groups, departments, people)
        else:
            active, disabled = read_people(target_conn, target_settings)
            groups = read_groups(target_conn, target_settings)
            wanted = plan_lib.departments(people)
        ops = plan_lib.plan(people, active, disabled, policy)
        group_ops = plan_lib.group_plan(wanted, groups)
        refused = plan_lib.guard(ops, len(active), max_percent, override)
        if refused:
            raise SyncError(refused)
        branches, applied, in_transaction = [], 0, False
        if not dry_run:
            branches = ensure_branches(target_conn, target_settings["base_dn"])
            applied, in_transaction = apply(target_conn, target_settings["base_dn"], ops, group_ops)
    except ldap_errors.LDAPException as exc:
        raise SyncError(f"target: {exc.__class__.__name__}: {exc}") from exc
    finally:
        target_conn.unbind()
    return {
        "changed": bool(ops or group_ops or branches),
        "mode": "incremental" if changed_since else "full",
        "changed_since": changed_since or "",
        "watermark": watermark,
        "operations": ops,
        "group_operations": group_ops,
        "moves": moves,
        "skipped": skipped,
        "summary": plan_lib.summary(ops + group_ops),
        "source_count": len(people),
        "target_count": len(active),
        "applied": applied,
        "transaction": in_transaction,
        "created_branches": branches,
        "as_of": as_of,
    }


__all__ = ["STAMP", "SyncError", "generalized_time", "sync", "today_jst"]
