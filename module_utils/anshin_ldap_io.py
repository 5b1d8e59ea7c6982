"""The LDAP half of the sync (ldap3): read the source and the target, apply a plan to the target.

Shared by library/ldap_sync.py and the scheduled sync on the VM (roles/ldap_sync/files/anshin-ldap-sync),
so both do exactly the same. Every failure is raised as SyncError with a one-line cause, before any change
when it comes from reading.
"""

try:
    from ansible.module_utils import anshin_ldap_sync as plan_lib
    from ansible.module_utils.anshin_common import now_jst
except ImportError:  # the scheduled sync on the VM runs without Ansible: next to that file, and the base role's
    import anshin_ldap_sync as plan_lib
    from anshin_common import now_jst


try:
    import ldap3
    from ldap3.core import exceptions as ldap_errors
    from ldap3.utils.dn import escape_rdn, parse_dn

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


def read_source(conn, settings, attribute_map):
    """All entries of the source search, paged; a truncated or empty result is an error."""
    attributes = sorted(set(attribute_map.values()))
    try:
        entries = conn.extend.standard.paged_search(
            settings["base_dn"],
            settings.get("filter") or "(objectClass=inetOrgPerson)",
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
    if not found:
        raise SyncError(f"source: the search under {settings['base_dn']} returned no entries: nothing changed")
    return found


def _branch(base_dn, name):
    return f"ou={name},{base_dn}"


def person_dn(uid, branch):
    return f"uid={escape_rdn(uid)},{branch}"


def group_dn(department, branch):
    return f"cn={escape_rdn(department)},{branch}"


def read_target(conn, settings):
    """(active people, disabled people, department groups) of the target directory."""
    base = settings["base_dn"]
    result = []
    for name in ("people", "disabled"):
        found = {}
        if _exists(conn, _branch(base, name)):
            conn.search(
                _branch(base, name),
                "(objectClass=inetOrgPerson)",
                search_scope=ldap3.LEVEL,
                attributes=list(plan_lib.TARGET_ATTRIBUTES),
            )
            for entry in conn.entries:
                attrs = {
                    a: sorted(str(v) for v in entry[a].values)
                    for a in plan_lib.TARGET_ATTRIBUTES
                    if a in entry and entry[a].values
                }
                found[attrs["uid"][0]] = attrs
        result.append(found)
    groups = {}
    if _exists(conn, _branch(base, "groups")):
        conn.search(
            _branch(base, "groups"), "(objectClass=groupOfNames)", search_scope=ldap3.LEVEL, attributes=["cn", "member"]
        )
        for entry in conn.entries:
            members = []
            for member in entry["member"].values:
                first = parse_dn(str(member))[0]
                if first[0].lower() == "uid":
                    members.append(first[1])
            groups[str(entry["cn"].values[0])] = sorted(members)
    return result[0], result[1], groups


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


def apply(conn, base_dn, ops, group_ops):
    """Apply the plan: people first, then groups, then leavers. Each step is safe to repeat."""
    people, disabled, groups = (_branch(base_dn, n) for n in ("people", "disabled", "groups"))
    done = 0
    for op in ops:
        uid = op["uid"]
        if op["op"] == "create":
            conn.add(person_dn(uid, people), OBJECT_CLASSES, op["changes"])
        elif op["op"] == "enable":
            conn.modify_dn(person_dn(uid, disabled), f"uid={escape_rdn(uid)}", new_superior=people)
            conn.modify(
                person_dn(uid, people), {a: [(ldap3.MODIFY_REPLACE, v)] for a, v in op["changes"].items() if a != "uid"}
            )
        elif op["op"] == "modify":
            conn.modify(person_dn(uid, people), {a: [(ldap3.MODIFY_REPLACE, v)] for a, v in op["changes"].items()})
        else:
            continue
        done += 1
    for op in group_ops:
        dn = group_dn(op["group"], groups)
        members = [person_dn(uid, people) for uid in op["members"]]
        if op["op"] == "group_create":
            conn.add(dn, ["top", "groupOfNames"], {"cn": op["group"], "member": members})
        elif op["op"] == "group_members":
            conn.modify(dn, {"member": [(ldap3.MODIFY_REPLACE, members)]})
        elif op["op"] == "group_delete":
            conn.delete(dn)
        done += 1
    for op in ops:
        if op["op"] == "disable":
            conn.modify_dn(person_dn(op["uid"], people), f"uid={escape_rdn(op['uid'])}", new_superior=disabled)
        elif op["op"] == "delete":
            conn.delete(person_dn(op["uid"], people))
        else:
            continue
        done += 1
    return done


def today_jst():
    return now_jst().strftime("%Y-%m-%d")


def sync(
    source_settings, target_settings, attribute_map, reorganisation, as_of, policy, max_percent, override, dry_run
):
    """The whole sync. Returns the result dict; raises SyncError before any change when it cannot be safe."""
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
        entries = read_source(source_conn, source_settings, attribute_map)
    finally:
        source_conn.unbind()
    people, skipped = plan_lib.map_people(entries, attribute_map)
    departments = {p["departmentNumber"][0] for p in people.values()}
    errors = plan_lib.check_reorganisation(reorganisation, departments)
    if errors:
        raise SyncError("; ".join(errors))
    people, moves = plan_lib.reorganise(people, reorganisation, as_of)
    target_conn = connect(target_settings, "target")
    try:
        active, disabled, groups = read_target(target_conn, target_settings)
        ops = plan_lib.plan(people, active, disabled, policy)
        group_ops = plan_lib.group_plan(people, groups)
        refused = plan_lib.guard(ops, len(active), max_percent, override)
        if refused:
            raise SyncError(refused)
        branches, applied = [], 0
        if not dry_run:
            branches = ensure_branches(target_conn, target_settings["base_dn"])
            applied = apply(target_conn, target_settings["base_dn"], ops, group_ops)
    except ldap_errors.LDAPException as exc:
        raise SyncError(f"target: {exc.__class__.__name__}: {exc}") from exc
    finally:
        target_conn.unbind()
    return {
        "changed": bool(ops or group_ops or branches),
        "operations": ops,
        "group_operations": group_ops,
        "moves": moves,
        "skipped": skipped,
        "summary": plan_lib.summary(ops + group_ops),
        "source_count": len(people),
        "target_count": len(active),
        "applied": applied,
        "created_branches": branches,
        "as_of": as_of,
    }


__all__ = ["SyncError", "sync", "today_jst"]
