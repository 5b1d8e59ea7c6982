"""library/ldap_sync.py and module_utils/anshin_ldap_io.py against ldap3's mock directories: the sync, check
mode, a second run, an interrupted run, the guard, truncated and empty sources, bad input.
(Against two real slapd: molecule/ldap_sync.)"""

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
