"""library/ldap_sync.py and module_utils/anshin_ldap_io.py against ldap3's mock directories: the sync, check
mode, a second run, an interrupted run, the guard, truncated and empty sources, bad input.
(Against two real slapd: molecule/ldap_sync.)"""

import base64
import subprocess

import ldap3
import pytest

from conftest import load_module

mod = load_module("ldap_sync")
from ansible.module_utils import anshin_ldap_io as io  # noqa: E402

MAP = {"uid": "uid", "cn": "cn", "sn": "sn", "mail": "mail", "departmentNumber": "ou"}
SOURCE = {
    "url": "ldaps://pref.test",
    "base_dn": "ou=staff,dc=pref",
    "bind_dn": "cn=sync,dc=pref",
    "bind_password": "s3cret-source",
}
TARGET = {
    "url": "ldap://127.0.0.1",
    "base_dn": "dc=anshin",
    "bind_dn": "cn=admin,dc=anshin",
    "bind_password": "s3cret-target",
}


def directory(base, admin, people=()):
    server = ldap3.Server("mock", get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=admin, password="x", client_strategy=ldap3.MOCK_SYNC, raise_exceptions=True)
    conn.strategy.add_entry(admin, {"userPassword": "x", "sn": "admin"})
    conn.strategy.add_entry(base, {"objectClass": ["top", "organizationalUnit"]})
    for uid, department in people:
        conn.strategy.add_entry(
            f"uid={uid},{base}",
            {
                "objectClass": ["inetOrgPerson"],
                "uid": uid,
                "cn": f"職員 {uid}",
                "sn": "職員",
                "ou": department,
                "mail": f"{uid}@pref.test",
            },
        )
    conn.bind()
    return conn


class Directories:
    def __init__(self, people):
        self.source = directory("ou=staff,dc=pref", "cn=sync,dc=pref", people)
        self.target = directory("dc=anshin", "cn=admin,dc=anshin")

    def connect(self, settings, what):
        conn = self.source if what == "source" else self.target
        conn.unbind = lambda: None  # the mock keeps its data only while open
        return conn

    def exists(self, dn):
        try:
            return self.target.search(dn, "(objectClass=*)", search_scope=ldap3.BASE)
        except ldap3.core.exceptions.LDAPNoSuchObjectResult:
            return False

    def target_people(self, branch="people"):
        if not self.exists(f"ou={branch},dc=anshin"):
            return {}
        self.target.search(
            f"ou={branch},dc=anshin",
            "(objectClass=inetOrgPerson)",
            search_scope=ldap3.LEVEL,
            attributes=["uid", "departmentNumber", "mail"],
        )
        return {str(e.uid): str(e.departmentNumber) for e in self.target.entries}

    def group_members(self, name):
        if not self.exists(f"cn={name},ou=groups,dc=anshin"):
            return None
        self.target.search(
            f"cn={name},ou=groups,dc=anshin",
            "(objectClass=groupOfNames)",
            search_scope=ldap3.BASE,
            attributes=["member"],
        )
        return sorted(str(m) for m in self.target.entries[0].member.values) if self.target.entries else None


PEOPLE = [(f"a{i:03d}", "防災課") for i in range(12)] + [(f"b{i:03d}", "税務課") for i in range(8)]


@pytest.fixture
def dirs(monkeypatch):
    d = Directories(PEOPLE)
    monkeypatch.setattr(io, "connect", d.connect)
    return d


def args(**extra):
    return {"source": SOURCE, "target": TARGET, "attribute_map": MAP, **extra}


def test_check_mode_plans_everything_and_changes_nothing(run_module, dirs):
    failed, result = run_module(mod, args(_ansible_check_mode=True, _ansible_diff=True))
    assert not failed, result
    assert result["changed"] and result["summary"] == {"create": 20, "group_create": 2}
    assert "+ a000 (create)" in result["diff"]["after"]
    assert dirs.target_people() == {}
    assert "s3cret-target" not in str(result)


def test_sync_then_a_second_run_changes_nothing(run_module, dirs):
    failed, result = run_module(mod, args())
    assert not failed and result["applied"] == 22
    assert dirs.target_people()["a000"] == "防災課"
    assert len(dirs.group_members("税務課")) == 8
    failed, again = run_module(mod, args())
    assert not failed and not again["changed"] and again["operations"] == [] and again["group_operations"] == []


def test_a_reorganisation_moves_people_and_groups(run_module, dirs):
    run_module(mod, args())
    reorg = [{"type": "rename", "from": "防災課", "to": "危機管理課", "effective": "2027-04-01"}]
    failed, early = run_module(mod, args(reorganisation=reorg, as_of="2027-03-31"))
    assert not failed and not early["changed"]
    failed, result = run_module(mod, args(reorganisation=reorg, as_of="2027-04-01"))
    assert not failed, result
    assert result["summary"] == {"modify": 12, "group_create": 1, "group_delete": 1}
    assert dirs.target_people()["a001"] == "危機管理課"
    assert dirs.group_members("防災課") is None and len(dirs.group_members("危機管理課")) == 12


def test_a_mass_deletion_trips_the_guard_and_changes_nothing(run_module, dirs):
    run_module(mod, args())
    for uid, _ in PEOPLE[:5]:  # 5 of 20 leave the source = 25 %
        dirs.source.strategy.remove_entry(f"uid={uid},ou=staff,dc=pref")
    failed, result = run_module(mod, args())
    assert failed and "5 of 20 people (25.0 %) would be disabled or deleted" in result["msg"]
    assert len(dirs.target_people()) == 20
    failed, result = run_module(mod, args(allow_mass_delete=True))
    assert not failed and result["summary"]["disable"] == 5
    assert len(dirs.target_people()) == 15 and set(dirs.target_people("disabled")) == {u for u, _ in PEOPLE[:5]}


def test_an_interrupted_run_completes_when_run_again(run_module, dirs, monkeypatch):
    real_modify = dirs.target.modify
    calls = []

    def flaky(*a, **kw):  # the connection drops after five people were moved
        calls.append(a)
        if len(calls) == 6:
            raise ldap3.core.exceptions.LDAPSocketReceiveError("connection lost")
        return real_modify(*a, **kw)

    run_module(mod, args())
    reorg = [{"type": "merge", "from": ["防災課", "税務課"], "to": "総合防災課", "effective": "2020-01-01"}]
    monkeypatch.setattr(dirs.target, "modify", flaky)
    failed, result = run_module(mod, args(reorganisation=reorg))
    assert failed and "LDAPSocketReceiveError" in result["msg"]
    departments = list(dirs.target_people().values())
    assert departments.count("総合防災課") == 5  # a half-applied state
    monkeypatch.setattr(dirs.target, "modify", real_modify)
    failed, result = run_module(mod, args(reorganisation=reorg))
    assert not failed and result["summary"]["modify"] == 15  # only the rest
    assert set(dirs.target_people().values()) == {"総合防災課"}
    assert dirs.group_members("総合防災課") is not None and len(dirs.group_members("総合防災課")) == 20
    failed, result = run_module(mod, args(reorganisation=reorg))
    assert not result["changed"]


def test_an_empty_or_truncated_source_changes_nothing(run_module, dirs, monkeypatch):
    failed, result = run_module(mod, args(source=dict(SOURCE, filter="(uid=nobody)")))
    assert failed and "returned no entries: nothing changed" in result["msg"]
    failed, result = run_module(mod, args(source=dict(SOURCE, base_dn="ou=nobody,dc=pref")))
    assert failed and "source: search failed: LDAPNoSuchObjectResult" in result["msg"]

    def truncated(*a, **kw):
        raise ldap3.core.exceptions.LDAPSizeLimitExceededResult("sizeLimitExceeded")

    monkeypatch.setattr(dirs.source.extend.standard, "paged_search", truncated)
    failed, result = run_module(mod, args())
    assert failed and "truncated by the server's size limit" in result["msg"]

    # what ldap3 really does: the entries that arrived, and sizeLimitExceeded only in the last result
    def partial(*a, **kw):
        dirs.source.result = {"result": 4, "description": "sizeLimitExceeded"}
        return [
            {
                "type": "searchResEntry",
                "dn": f"uid={u},ou=staff,dc=pref",
                "attributes": {"uid": [u], "cn": [u], "sn": ["s"], "ou": ["防災課"]},
            }
            for u in ("a000", "a001")
        ]

    monkeypatch.setattr(dirs.source.extend.standard, "paged_search", partial)
    failed, result = run_module(mod, args())
    assert failed and "truncated by the server's size limit" in result["msg"]
    assert dirs.target_people() == {}


@pytest.mark.parametrize(
    "bad,message",
    [
        (
            {"source": dict(SOURCE, base_dn="ou=staff,,dc=pref=")},
            "source.base_dn: 'ou=staff,,dc=pref=' is not a valid DN",
        ),
        ({"attribute_map": dict(MAP, shoeSize="shoe")}, "unknown target attribute 'shoeSize'"),
        (
            {"reorganisation": [{"type": "rename", "from": "消防課", "to": "x", "effective": "2027-04-01"}]},
            "department '消防課' does not exist in the source directory",
        ),
        (
            {
                "reorganisation": [
                    {"type": "rename", "from": "防災課", "to": "x", "effective": "2027-04-01"},
                    {"type": "merge", "from": ["防災課", "税務課"], "to": "y", "effective": "2027-04-01"},
                ]
            },
            "overlapping mappings",
        ),
    ],
)
def test_bad_input_fails_before_any_change(run_module, dirs, bad, message):
    failed, result = run_module(mod, args(**bad))
    assert failed and message in result["msg"], result
    assert dirs.target_people() == {}


def test_an_unreachable_source_is_named(run_module):
    failed, result = run_module(mod, args(source=dict(SOURCE, url="ldap://127.0.0.1:9", timeout=2)))
    assert failed and "source: cannot reach or bind ldap://127.0.0.1:9" in result["msg"]


def test_a_missing_ca_file_is_named(run_module, tmp_path):
    source = dict(SOURCE, url="ldap://127.0.0.1:9", start_tls=True, ca_file=str(tmp_path / "none.pem"))
    failed, result = run_module(mod, args(source=source))
    assert failed and result["msg"].startswith(
        "source: cannot reach or bind ldap://127.0.0.1:9: LDAPSSLConfigurationError"
    )


T0, T1 = "20261130010000Z", "20261201020000Z"


def stamp(conn, dn, when, **changes):
    """A change in the mock source as a server records it: the values and the modifyTimestamp."""
    conn.modify(
        dn,
        {
            "modifyTimestamp": [(ldap3.MODIFY_REPLACE, [when])],
            **{a: [(ldap3.MODIFY_REPLACE, [v])] for a, v in changes.items()},
        },
    )


def io_sync(**kw):
    return io.sync(SOURCE, TARGET, MAP, [], "2026-12-01", "disable", 10, False, False, **kw)


@pytest.mark.parametrize("few", [1000, 0])  # the target read by uid, or its branch read whole
def test_an_incremental_sync_reads_only_what_changed_and_a_full_one_finds_leavers(dirs, monkeypatch, few):
    monkeypatch.setattr(io, "_FEW", few)
    for uid, _ in PEOPLE:
        stamp(dirs.source, f"uid={uid},ou=staff,dc=pref", T0)
    first = io_sync()
    assert first["mode"] == "full" and first["watermark"] == T0 and first["summary"]["create"] == 20
    # b001 moves to 防災課 and a000 leaves the source: an incremental run sees the move, not the leaver
    stamp(dirs.source, "uid=b001,ou=staff,dc=pref", T1, ou="防災課", mail="b001@new.pref.test")
    dirs.source.strategy.remove_entry("uid=a000,ou=staff,dc=pref")
    result = io_sync(changed_since=first["watermark"])  # read again: the entries stamped T0 and b001
    assert result["mode"] == "incremental" and result["watermark"] == T1
    assert result["summary"] == {"modify": 1, "group_members": 2}, result
    assert dirs.target_people()["b001"] == "防災課" and "a000" in dirs.target_people()
    assert len(dirs.group_members("防災課")) == 13 and len(dirs.group_members("税務課")) == 7
    # nothing newer: nothing read, nothing written
    again = io_sync(changed_since=T1)  # at or after the mark: b001 only, already done
    assert again["source_count"] == 1 and not again["changed"]
    idle = io_sync(changed_since="20261201020001Z")
    assert idle["source_count"] == 0 and not idle["changed"] and idle["watermark"] is None
    # the full reconcile finds the leaver and agrees with what the incremental run did
    full = io_sync()
    assert full["summary"] == {"disable": 1, "group_members": 1}, full
    assert "a000" in dirs.target_people("disabled") and len(dirs.group_members("防災課")) == 12


def test_without_a_modify_timestamp_on_every_entry_there_is_no_mark(dirs):
    stamp(dirs.source, "uid=a001,ou=staff,dc=pref", T0)  # the others have none (an ACL may hide it)
    assert io_sync()["watermark"] is None


def test_generalized_times_are_read_as_utc_seconds():
    import datetime

    assert io.generalized_time("20261201020304Z") == "20261201020304Z"
    assert io.generalized_time("20261201020304.5Z") == "20261201020304Z"  # AD writes tenths
    assert io.generalized_time("２０２６1201020304Z") is None and io.generalized_time("yesterday") is None
    jst = datetime.timezone(datetime.timedelta(hours=9))
    assert io.generalized_time(datetime.datetime(2026, 12, 1, 11, 3, 4, tzinfo=jst)) == "20261201020304Z"
    assert io.generalized_time(datetime.datetime(2026, 12, 1, 11, 3, 4)) is None  # no zone: not a stamp


def test_the_transaction_end_request_is_encoded_as_rfc_5805_says():
    from pyasn1.codec.ber import encoder

    # SEQUENCE { identifier } for a commit (the DEFAULT TRUE left out), SEQUENCE { FALSE, identifier } to abort
    assert encoder.encode(io.txn_end_request(b"\x01\x02", True)) == bytes.fromhex("300404020102")
    assert encoder.encode(io.txn_end_request(b"\x01\x02", False)) == bytes.fromhex("300701010004020102")


def test_a_server_without_transactions_gets_the_operations_one_by_one(dirs):
    # ldap3's mock answers the start of a transaction with unwillingToPerform, as a server without them would
    assert io.start_transaction(dirs.target) is None
    result = io_sync()
    assert result["applied"] == 22 and not result["transaction"] and len(dirs.target_people()) == 20


class Transactional:
    """A connection whose server has transactions: records every request and its controls."""

    def __init__(self, fail_on=None):
        self.requests, self.result, self.fail_on = [], {}, fail_on

    def extended(self, name, value=None):
        self.requests.append(("extended", name, value))
        self.result = {"result": 0, "responseValue": b"txn-7"} if name == io.TXN_START else {"result": 0}

    def _record(self, kind, dn, controls):
        self.requests.append((kind, dn, controls))
        if kind == self.fail_on:
            raise ldap3.core.exceptions.LDAPSocketReceiveError("connection lost")

    def add(self, dn, object_class, attributes, controls=None):
        self._record("add", dn, controls)

    def modify(self, dn, changes, controls=None):
        self._record("modify", dn, controls)

    def modify_dn(self, dn, rdn, new_superior=None, controls=None):
        self._record("modify_dn", dn, controls)

    def delete(self, dn, controls=None):
        self._record("delete", dn, controls)


def test_every_write_goes_into_one_transaction_which_commits_or_is_aborted():
    ops = [
        {"op": "create", "uid": "a001", "changes": {"uid": ["a001"]}},
        {"op": "modify", "uid": "a002", "changes": {"mail": ["x@pref"]}},
        {"op": "disable", "uid": "a003"},
    ]
    group_ops = [{"op": "group_members", "group": "防災課", "members": ["a001", "a002"]}]
    conn = Transactional()
    assert io.apply(conn, "dc=anshin", ops, group_ops) == (4, True)
    assert conn.requests[0] == ("extended", io.TXN_START, None)
    writes = conn.requests[1:-2]
    assert [w[0] for w in writes] == ["add", "modify", "modify"]  # people, then groups
    assert all(w[2] == [(io.TXN_SPECIFICATION, True, b"txn-7")] for w in writes)
    end = conn.requests[-2]
    assert end[:2] == ("extended", io.TXN_END) and end[2]["identifier"] == b"txn-7" and end[2]["commit"]
    # the leaver's move to ou=disabled after the commit, on its own (slapd 2.5 drops a modrdn in a transaction)
    assert conn.requests[-1] == ("modify_dn", "uid=a003,ou=people,dc=anshin", None)
    # a failure half way: the transaction is aborted, so nothing of it is written, and nobody is moved
    conn = Transactional(fail_on="modify")
    with pytest.raises(ldap3.core.exceptions.LDAPSocketReceiveError):
        io.apply(conn, "dc=anshin", ops, group_ops)
    end = conn.requests[-1]
    assert end[:2] == ("extended", io.TXN_END) and not end[2]["commit"]
    assert "modify_dn" not in [r[0] for r in conn.requests]
    # nothing to write: no transaction either
    conn = Transactional()
    assert io.apply(conn, "dc=anshin", [], []) == (0, False) and conn.requests == []


# -- the initial load of an empty target with slapadd ------------------------------------------------------------
LOAD = {"service": "slapd", "process": "slapd", "user": "openldap", "min_people": 5}
OFFLINE = dict(TARGET, offline_load=LOAD)


def parse_ldif(text):
    """LDIF content records as RFC 2849 reads them (values after '::' are base64): [(dn, {attr: [values]})]."""
    records = []
    for block in text.strip("\n").split("\n\n"):
        attrs = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            value = base64.b64decode(value[2:]).decode("utf-8") if value.startswith(": ") else value[1:]
            attrs.setdefault(name, []).append(value)
        records.append((attrs.pop("dn")[0], attrs))
    return records


class FakeHost:
    """systemctl and slapadd of the VM against the mock target, whose database file is data.mdb in a temporary
    directory. slapadd -u parses the LDIF; -q adds its records and writes data.mdb, and with fail_after stops
    with an error after that many, leaving data.mdb torn. systemctl start opens what data.mdb holds: the file of
    before (the entries the failed load added are gone, as slapd would find them) or a torn one (unusable)."""

    BEFORE = b"mdb: base and branches"

    def __init__(self, dirs, directory):
        self.dirs, self.directory, self.fail_after, self.calls, self.loaded = dirs, directory, None, [], []
        self.unusable, self.start_fails, self.put_back_fails = False, False, False

    def run(self, argv, **kwargs):
        if argv[0] == "runuser":
            assert argv[:4] == ["runuser", "-u", "openldap", "--"]
            argv = argv[4:]
        self.calls.append(" ".join(argv[:2] if argv[0] == "systemctl" else argv[:1] + argv[3:]))
        assert argv[0] == "systemctl" or self.calls[0] == "systemctl stop", self.calls  # never beside a running slapd
        data = self.directory / "data.mdb"
        if argv[:2] == ["systemctl", "start"]:
            if data.is_file() and data.read_bytes() == self.BEFORE:
                for dn in self.loaded:
                    self.dirs.target.strategy.remove_entry(dn)
                self.loaded = []
            elif not data.is_file() or data.read_bytes().endswith(b"torn"):
                self.unusable = True
            if self.start_fails:
                return subprocess.CompletedProcess(argv, 1, b"", b"Job for slapd.service failed.\n")
        if argv[0] == "slapadd":
            assert argv[1:3] == ["-b", "dc=anshin"] and argv[3:] in (["-u"], ["-q"])
            records = parse_ldif(kwargs["input"].decode("utf-8"))
            if argv[3:] == ["-q"]:
                for i, (dn, attrs) in enumerate(records):
                    if i == self.fail_after:
                        data.write_bytes(data.read_bytes() + b" torn")
                        if self.put_back_fails:  # the file cannot be written again
                            data.unlink()
                            data.mkdir()
                        return subprocess.CompletedProcess(argv, 1, b"", b'slapadd: could not add entry dn="x"\n')
                    self.dirs.target.strategy.add_entry(dn, attrs)
                    self.loaded.append(dn)
                data.write_bytes(data.read_bytes() + b" + loaded")
        return subprocess.CompletedProcess(argv, 0, b"", b"")


@pytest.fixture
def host(dirs, monkeypatch, tmp_path):
    (tmp_path / "data.mdb").write_bytes(FakeHost.BEFORE)
    (tmp_path / "lock.mdb").write_bytes(b"lock")
    fake = FakeHost(dirs, tmp_path)
    monkeypatch.setitem(LOAD, "directory", str(tmp_path))
    monkeypatch.setattr(io, "_run", fake.run)
    monkeypatch.setattr(io, "wait_gone", lambda names, term_after: None)
    return fake


def test_the_initial_load_of_an_empty_target_goes_through_slapadd(run_module, dirs, host):
    failed, result = run_module(mod, args(target=OFFLINE))
    assert not failed and result["offline_load"] and not result["transaction"]
    # stopped, the database before kept, the load checked, then loaded quickly, started
    assert host.calls == ["systemctl stop", "slapadd -u", "slapadd -q", "systemctl start"]
    assert not host.unusable and len(host.loaded) == 22 and result["applied"] == 22  # 20 people and 2 groups
    assert dirs.target_people() == dict(PEOPLE)
    assert len(dirs.group_members("防災課")) == 12
    failed, again = run_module(mod, args(target=OFFLINE))  # loaded exactly as the LDAP path writes
    assert not failed and not again["changed"] and len(host.calls) == 4


def test_a_failed_quick_load_puts_the_database_back_and_completes_over_ldap(run_module, dirs, host):
    host.fail_after = 7
    failed, result = run_module(mod, args(target=OFFLINE))
    assert not failed and not result["offline_load"] and "could not add entry" in result["offline_load_failed"]
    assert host.calls == ["systemctl stop", "slapadd -u", "slapadd -q", "systemctl start"]
    assert not host.unusable and (host.directory / "data.mdb").read_bytes() == FakeHost.BEFORE  # the file of before
    assert result["summary"]["create"] == 20 and result["applied"] == 22
    assert dirs.target_people() == dict(PEOPLE) and len(dirs.group_members("税務課")) == 8


def test_a_load_that_does_not_pass_the_dry_run_is_never_written(run_module, dirs, host, monkeypatch):
    def refuse(argv, **kwargs):
        if argv[-1] == "-u":
            host.calls.append("slapadd -u")
            return subprocess.CompletedProcess(argv, 80, b"", b"slapadd: unknown attributeDescription\n")
        return FakeHost.run(host, argv, **kwargs)

    monkeypatch.setattr(io, "_run", refuse)
    failed, result = run_module(mod, args(target=OFFLINE))
    assert not failed and result["offline_load_failed"] == "slapadd (dry run): slapadd: unknown attributeDescription"
    assert host.calls == ["systemctl stop", "slapadd -u", "systemctl start"] and host.loaded == []
    assert dirs.target_people() == dict(PEOPLE)  # over LDAP


def test_slapd_is_never_stopped_for_a_target_that_holds_people_or_a_small_load(run_module, dirs, host):
    small = dict(OFFLINE, offline_load=dict(OFFLINE["offline_load"], min_people=21))
    failed, result = run_module(mod, args(target=small))
    assert not failed and not result["offline_load"] and host.calls == []  # 20 people: below the threshold
    for i in range(6):  # enough new people for a load, but the target holds people now
        dirs.source.strategy.add_entry(
            f"uid=c{i:03d},ou=staff,dc=pref",
            {"objectClass": ["inetOrgPerson"], "uid": f"c{i:03d}", "cn": "c", "sn": "c", "ou": "防災課"},
        )
    failed, result = run_module(mod, args(target=OFFLINE))
    assert not failed and result["summary"] == {"create": 6, "group_members": 1} and host.calls == []
    assert not run_module(mod, args(target=dict(TARGET, offline_load={})))[1]["offline_load"]


def test_a_target_that_holds_anything_else_keeps_its_slapd_running(run_module, dirs, host):
    dirs.target.strategy.add_entry("cn=proxy,dc=anshin", {"objectClass": ["applicationProcess"], "cn": "proxy"})
    failed, result = run_module(mod, args(target=OFFLINE))  # a service account someone may be using
    assert not failed and not result["offline_load"] and host.calls == [] and result["summary"]["create"] == 20


def test_a_failed_put_back_and_a_failed_start_are_both_named(run_module, dirs, host):
    host.fail_after, host.put_back_fails, host.start_fails = 3, True, True
    failed, result = run_module(mod, args(target=OFFLINE))
    assert (
        failed
        and "systemctl start slapd: Job for slapd.service failed. (after the offline load stopped short)"
        in result["msg"]
    )
    assert (
        'before that: target: slapadd: slapadd: could not add entry dn="x", and the database before could not be '
        "put back" in result["msg"]
    )
    assert "restore it (playbooks/restore.yml)" in result["msg"]


def test_ldif_values_that_are_not_safe_strings_go_base64():
    text = io.ldif_entry(
        "uid=a,ou=people,dc=anshin",
        ["inetOrgPerson"],
        {
            "cn": ["防災 太郎"],
            "sn": [" lead"],
            "title": ["trail "],
            "mail": ["a@b"],
            "description": [":x", "<y", "a\nb"],
        },
    )
    assert "cn:: " in text and "sn:: " in text and "title:: " in text and "mail: a@b\n" in text
    assert text.count("description:: ") == 3
    ((dn, attrs),) = parse_ldif(text)
    assert dn == "uid=a,ou=people,dc=anshin" and attrs["cn"] == ["防災 太郎"] and attrs["description"][2] == "a\nb"
