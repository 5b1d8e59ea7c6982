"""The LDAP half of the sync (ldap3): read the source and the target, apply a plan to the target.

Shared by library/ldap_sync.py and the scheduled sync on the VM (roles/ldap_sync/files/anshin-ldap-sync),
so both do exactly the same. Every failure is raised as SyncError with a one-line cause, before any change
when it comes from reading.
"""

import base64
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC

try:
    from ansible.module_utils import anshin_ldap_sync as plan_lib
    from ansible.module_utils.anshin_common import StillRunning, now_jst, wait_gone
except ImportError:  # the scheduled sync on the VM runs without Ansible: next to that file, and the base role's
    import anshin_ldap_sync as plan_lib
    from anshin_common import StillRunning, now_jst, wait_gone


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


_BRANCHES = ("people", "groups", "disabled")


def ensure_branches(conn, base_dn):
    """ou=people, ou=groups, ou=disabled under the base (created when missing). Returns those created."""
    created = []
    for name in _BRANCHES:
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


# -- the initial load of an empty local target: slapadd while slapd is stopped -----------------------------------
# Over LDAP, 10,000 adds cost slapd alone 2 s of CPU even in one transaction (ldapmodify -E txn=commit: 3 s);
# slapadd writes the same entries in a fraction of a second. Only for a target that holds nothing but its base,
# branches and bind entry (nobody can use it, so stopping it a moment takes nothing away) and only where the
# settings say how (offline_load: the role sets it for the VM's own slapd).


def offline_load_fits(target_settings, active, disabled, groups, ops, changed_since):
    """Whether this run's plan can be loaded offline: a full run into a target without people and groups,
    creates only, at least offline_load.min_people of them (a small load is not worth stopping slapd for).
    holds_only_branches() then checks that nothing else lives in the target either."""
    load = target_settings.get("offline_load") or {}
    least = int(load.get("min_people", 0) or 0)
    return bool(
        load
        and load.get("directory")
        and least > 0
        and not changed_since
        and not (active or disabled or groups)
        and len(ops) >= least
        and all(op["op"] == "create" for op in ops)
    )


def holds_only_branches(conn, settings):
    """True when the target holds nothing but its base, the sync's three branches and the bind entry: no
    service account or other subtree that someone could be using while slapd is stopped."""
    base = settings["base_dn"]
    allowed = {_norm(dn) for dn in [base, settings.get("bind_dn") or base] + [_branch(base, n) for n in _BRANCHES]}
    try:
        conn.search(base, "(objectClass=*)", search_scope=ldap3.SUBTREE, attributes=["1.1"], size_limit=10)
    except ldap_errors.LDAPSizeLimitExceededResult:
        return False
    found = [e["dn"] for e in conn.response if e.get("type") == "searchResEntry"]
    return all(_norm(dn) in allowed for dn in found)


def _norm(dn):
    return ",".join(f"{a.lower()}={v.lower()}" for a, v, _ in parse_dn(dn))


def _safe_string(value):
    """RFC 2849 SAFE-STRING: written as it is; anything else (non-ASCII, a leading space, colon or <, a
    trailing space, a line break) goes base64."""
    return value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")) and not value.endswith(" ")


def ldif_line(attribute, value):
    value = str(value)
    if value and not _safe_string(value):
        return f"{attribute}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}\n"
    return f"{attribute}: {value}\n"


def ldif_entry(dn, object_classes, attributes):
    lines = [ldif_line("dn", dn)] + [ldif_line("objectClass", c) for c in object_classes]
    for attribute, values in attributes.items():
        lines += [ldif_line(attribute, v) for v in _listed(values)]
    return "".join(lines) + "\n"


def load_ldif(base_dn, ops, group_ops):
    """The creates of a plan as LDIF content records (what slapadd reads): people, then their groups."""
    people, groups = _branch(base_dn, "people"), _branch(base_dn, "groups")
    out = [ldif_entry(person_dn(op["uid"], people), OBJECT_CLASSES, op["changes"]) for op in ops]
    for op in group_ops:
        members = [person_dn(uid, people) for uid in op["members"]]
        attributes = {"cn": op["group"], "member": members}
        out.append(ldif_entry(group_dn(op["group"], groups), ["top", "groupOfNames"], attributes))
    return "".join(out)


def _run(argv, **kwargs):
    try:
        return subprocess.run(argv, capture_output=True, check=False, **kwargs)
    except OSError as exc:
        return subprocess.CompletedProcess(argv, 127, b"", f"cannot run {argv[0]}: {exc.strerror}".encode())


def _answering(settings, seconds=30):
    """Wait until the target answers a bind again; raises SyncError."""
    deadline = time.time() + seconds
    while True:
        try:
            connect(settings, "target").unbind()
            return
        except SyncError as exc:
            if time.time() > deadline:
                raise SyncError(f"target: slapd does not answer after the offline load: {exc}") from None
            time.sleep(0.2)


def _why(proc, what):
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {proc.returncode}"]
    return f"{what}: {lines[-1][:300]}"


def offline_load(settings, ops, group_ops):
    """Load the plan with slapadd while slapd is stopped, then start it and wait until it answers.
    Returns None when loaded, else why not; the target then holds what it held before, and the caller
    completes the plan over LDAP. slapadd -q (30 times faster: 0.15 s against 5 s for 10,000 people) leaves
    an unusable database when it fails, so the load is checked first (-u: parsed and schema-checked, nothing
    written) and the database files of before (small: the target is empty) are copied back after a failure."""
    load = settings["offline_load"]
    service, process = load.get("service", "slapd"), load.get("process", "slapd")
    as_user = ["runuser", "-u", load["user"], "--"] if load.get("user") else []  # files stay slapd's
    slapadd = as_user + ["slapadd", "-b", settings["base_dn"]]
    ldif = load_ldif(settings["base_dn"], ops, group_ops).encode("utf-8")
    stopped = _run(["systemctl", "stop", service])
    loaded = False
    try:
        if stopped.returncode != 0:
            return _why(stopped, f"systemctl stop {service}")
        try:  # TERM is slapd's own clean shutdown: sent at once when the stop left it running
            wait_gone([process], term_after=0)
        except StillRunning as exc:
            return str(exc)
        checked = _run(slapadd + ["-u"], input=ldif)
        if checked.returncode != 0:
            return _why(checked, "slapadd (dry run)")
        with tempfile.TemporaryDirectory(prefix="anshin-ldap-load-") as kept:
            try:
                files = _database_files(load["directory"])
                for path in files:
                    shutil.copyfile(path, os.path.join(kept, os.path.basename(path)))
            except OSError as exc:
                return f"cannot keep the database files before the load: {exc}"
            added = _run(slapadd + ["-q"], input=ldif)
            if added.returncode != 0:
                try:
                    for path in files:  # onto the same files: owner and mode stay slapd's
                        shutil.copyfile(os.path.join(kept, os.path.basename(path)), path)
                except OSError as exc:
                    raise SyncError(
                        f"target: {_why(added, 'slapadd')}, and the database before could not be put back: {exc}; "
                        "restore it (playbooks/restore.yml)"
                    ) from None
                return _why(added, "slapadd")
        loaded = True
        return None
    finally:
        # slapd comes back whatever happened; its failure to do so is named together with any failure before
        pending = sys.exc_info()[1]
        try:
            started = _run(["systemctl", "start", service])
            if started.returncode != 0:
                raise SyncError(_why(started, f"systemctl start {service}"))
            _answering(settings)
        except SyncError as exc:
            done = "after loading the people" if loaded else "after the offline load stopped short"
            raise SyncError(f"target: {exc} ({done}){f'; before that: {pending}' if pending else ''}") from None


def _database_files(directory):
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".mdb"))


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
    result = _target_run(target_settings, people, changed_since, policy, max_percent, override, dry_run, True)
    result.update(
        {
            "changed": bool(result["operations"] or result["group_operations"] or result["created_branches"]),
            "mode": "incremental" if changed_since else "full",
            "changed_since": changed_since or "",
            "watermark": watermark,
            "moves": moves,
            "skipped": skipped,
            "summary": plan_lib.summary(result["operations"] + result["group_operations"]),
            "source_count": len(people),
            "as_of": as_of,
        }
    )
    return result


def _target_run(target_settings, people, changed_since, policy, max_percent, override, dry_run, offline_ok):
    """Read the target, plan and apply: over LDAP, or offline for the initial load when it fits (when that
    fails, the target holds what it held before, and the run goes once more over LDAP)."""
    target_conn = connect(target_settings, "target")
    offline, why_not = False, ""
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
            if (
                offline_ok
                and offline_load_fits(target_settings, active, disabled, groups, ops, changed_since)
                and holds_only_branches(target_conn, target_settings)
            ):
                target_conn.unbind()
                why_not = offline_load(target_settings, ops, group_ops)
                offline = why_not is None
                applied = len(ops) + len(group_ops) if offline else 0
            else:
                applied, in_transaction = apply(target_conn, target_settings["base_dn"], ops, group_ops)
    except ldap_errors.LDAPException as exc:
        raise SyncError(f"target: {exc.__class__.__name__}: {exc}") from exc
    finally:
        if not target_conn.closed:
            target_conn.unbind()
    if why_not:  # the offline load failed: the same plan over LDAP, from what the target holds now
        again = _target_run(target_settings, people, changed_since, policy, max_percent, override, dry_run, False)
        again.update(created_branches=branches, offline_load_failed=why_not)
        return again
    return {
        "operations": ops,
        "group_operations": group_ops,
        "target_count": len(active),
        "applied": applied,
        "transaction": in_transaction,
        "offline_load": offline,
        "created_branches": branches,
    }


__all__ = ["STAMP", "SyncError", "generalized_time", "sync", "today_jst"]
