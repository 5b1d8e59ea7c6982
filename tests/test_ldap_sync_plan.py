"""module_utils/anshin_ldap_sync.py: attribute map and reorganisation checks, mapping, the plan, the guard."""

import pytest

from conftest import load_module

load_module("anshin_pending_updates")  # makes module_utils importable as ansible.module_utils.*
from ansible.module_utils import anshin_ldap_sync as sync  # noqa: E402

MAP = {"uid": "uid", "cn": "cn", "sn": "sn", "mail": "mail", "departmentNumber": "ou"}


def person(uid, department, mail=None, cn=None):
    entry = {
        "dn": f"uid={uid},ou=people,dc=pref",
        "uid": [uid],
        "cn": [cn or f"職員 {uid}"],
        "sn": ["職員"],
        "ou": [department],
    }
    if mail:
        entry["mail"] = [mail]
    return entry


def test_the_attribute_map_names_known_attributes_only():
    assert sync.check_attribute_map(MAP) == []
    errors = sync.check_attribute_map({**MAP, "favouriteColour": "color", "title": "bad attr!"})
    assert "attribute_map: unknown target attribute 'favouriteColour'" in errors[0]
    assert "'title' maps from 'bad attr!', which is not an attribute name" in errors[1]
    assert sync.check_attribute_map({"uid": "uid"})[-1] == "attribute_map: 'departmentNumber' is required"


def test_people_are_mapped_and_bad_entries_skipped_with_a_reason():
    entries = [
        person("a001", "防災課", "a@pref"),
        {"dn": "cn=x", "cn": ["no uid"]},
        {"uid": ["a002"], "cn": ["名無し"], "sn": ["名"]},
        person("a001", "税務課"),
    ]
    people, skipped = sync.map_people(entries, MAP)
    assert people == {
        "a001": {
            "uid": ["a001"],
            "cn": ["職員 a001"],
            "sn": ["職員"],
            "mail": ["a@pref"],
            "departmentNumber": ["防災課"],
        }
    }
    assert [s["reason"] for s in skipped] == ["no uid", "missing departmentNumber", "uid twice in the source"]


REORG = [
    {"type": "rename", "from": "防災課", "to": "危機管理課", "effective": "2027-04-01"},
    {"type": "merge", "from": ["税務課", "収納課"], "to": "税務収納課", "effective": "2027-04-01"},
    {
        "type": "split",
        "from": "企画課",
        "to": {"政策企画課": ["c002"]},
        "default": "地域創生課",
        "effective": "2027-04-01",
    },
]
DEPARTMENTS = {"防災課", "税務課", "収納課", "企画課", "総務課"}


def test_a_sound_reorganisation_has_no_errors():
    assert sync.check_reorganisation(REORG, DEPARTMENTS) == []


@pytest.mark.parametrize(
    "mapping,message",
    [
        (
            {"type": "rename", "from": "消防課", "to": "x", "effective": "2027-04-01"},
            "department '消防課' does not exist in the source directory",
        ),
        (
            {"type": "rename", "from": "防災課", "to": "y", "effective": "2027-04-01"},
            "department '防災課' is already mapped by reorganisation[0] (overlapping mappings)",
        ),
        (
            {"type": "merge", "from": ["総務課"], "to": "z", "effective": "2027-04-01"},
            "merge needs two or more departments",
        ),
        ({"type": "rename", "from": "総務課", "to": "z", "effective": "4/1"}, "effective must be YYYY-MM-DD"),
        (
            {"type": "move", "from": "総務課", "to": "z", "effective": "2027-04-01"},
            "type must be rename, merge or split",
        ),
        (
            {
                "type": "split",
                "from": "総務課",
                "to": {"a": ["u1"], "b": ["u1"]},
                "default": "a",
                "effective": "2027-04-01",
            },
            "u1 is in both 'a' and 'b'",
        ),
        ({"type": "split", "from": "総務課", "to": {"a": ["u1"]}, "effective": "2027-04-01"}, "a default department"),
    ],
)
def test_bad_reorganisations_are_named(mapping, message):
    errors = sync.check_reorganisation([REORG[0], mapping], DEPARTMENTS)
    assert any(message in e for e in errors), errors


def test_reorganisation_applies_from_its_effective_date():
    people, _ = sync.map_people(
        [
            person("b001", "防災課"),
            person("c001", "企画課"),
            person("c002", "企画課"),
            person("t001", "収納課"),
            person("s001", "総務課"),
        ],
        MAP,
    )
    before, moves = sync.reorganise(people, REORG, "2027-03-31")
    assert before == people and moves == []
    after, moves = sync.reorganise(people, REORG, "2027-04-01")
    assert {uid: p["departmentNumber"][0] for uid, p in after.items()} == {
        "b001": "危機管理課",
        "c001": "地域創生課",
        "c002": "政策企画課",
        "t001": "税務収納課",
        "s001": "総務課",
    }
    assert {m["uid"]: m["type"] for m in moves} == {"b001": "rename", "c001": "split", "c002": "split", "t001": "merge"}


def test_the_plan_creates_modifies_only_what_changed_and_parks_leavers():
    source, _ = sync.map_people(
        [
            person("a001", "防災課", "new@pref"),
            person("a002", "防災課"),
            person("a003", "総務課"),
            person("a005", "総務課"),
        ],
        MAP,
    )
    target = {
        "a001": {
            "uid": ["a001"],
            "cn": ["職員 a001"],
            "sn": ["職員"],
            "mail": ["old@pref"],
            "departmentNumber": ["防災課"],
        },
        "a002": {
            "uid": ["a002"],
            "cn": ["職員 a002"],
            "sn": ["職員"],
            "departmentNumber": ["防災課"],
            "title": ["主任"],
        },
        "a003": {"uid": ["a003"], "cn": ["職員 a003"], "sn": ["職員"], "departmentNumber": ["総務課"]},
        "a004": {"uid": ["a004"], "cn": ["職員 a004"], "sn": ["職員"], "departmentNumber": ["総務課"]},
    }
    disabled = {"a005": {"uid": ["a005"]}}
    ops = sync.plan(source, target, disabled, "disable")
    assert [(o["op"], o["uid"]) for o in ops] == [
        ("modify", "a001"),
        ("modify", "a002"),
        ("enable", "a005"),
        ("disable", "a004"),
    ]
    assert ops[0]["changes"] == {"mail": ["new@pref"]} and ops[0]["before"] == {"mail": ["old@pref"]}
    assert ops[1]["changes"] == {"title": []}  # no longer in the source: removed, nothing else touched
    assert sync.plan(source, {**target, **{u: source[u] for u in source}}, {}, "delete")[-1]["op"] == "delete"
    # the same state twice: nothing to do
    assert sync.plan(source, source, {}, "disable") == []


def test_groups_follow_the_departments():
    source, _ = sync.map_people([person("a001", "防災課"), person("a002", "危機管理課")], MAP)
    ops = sync.group_plan(sync.departments(source), {"防災課": ["a001", "a009"], "税務課": ["a007"]})
    assert ops == [
        {"op": "group_create", "group": "危機管理課", "members": ["a002"]},
        {"op": "group_delete", "group": "税務課", "members": []},
        {"op": "group_members", "group": "防災課", "members": ["a001"], "added": [], "removed": ["a009"]},
    ]
    assert sync.group_plan(sync.departments(source), {"防災課": ["a001"], "危機管理課": ["a002"]}) == []


def test_an_incremental_sync_changes_only_the_groups_of_the_people_who_changed():
    groups = {"防災課": ["a001", "a002", "a003"], "税務課": ["a004"], "広報課": ["a005", "a006"]}
    # a002 moved to 税務課, a004 (税務課's last member) to a new department, a007 joined 広報課
    changed, _ = sync.map_people(
        [person("a002", "税務課"), person("a004", "危機管理課"), person("a007", "広報課")], MAP
    )
    affected = {"防災課", "税務課", "危機管理課", "広報課"}  # the changed people's old and new departments
    wanted = sync.groups_after(groups, affected, changed)
    assert wanted == {
        "防災課": ["a001", "a003"],
        "税務課": ["a002"],
        "危機管理課": ["a004"],
        "広報課": ["a005", "a006", "a007"],
    }
    # the same as a full reconcile of everyone would give
    everyone = {
        **{uid: {"departmentNumber": ["防災課"]} for uid in ("a001", "a003")},
        "a005": {"departmentNumber": ["広報課"]},
        "a006": {"departmentNumber": ["広報課"]},
        **changed,
    }
    assert sync.group_plan(wanted, groups) == sync.group_plan(sync.departments(everyone), groups)
    # a group left empty is deleted, and nothing else
    before = {"税務課": ["a004"], "防災課": ["a001"]}
    emptied = sync.groups_after(before, {"税務課", "防災課"}, {"a004": {"departmentNumber": ["防災課"]}})
    assert sync.group_plan(emptied, before) == [
        {"op": "group_delete", "group": "税務課", "members": []},
        {"op": "group_members", "group": "防災課", "members": ["a001", "a004"], "added": ["a004"], "removed": []},
    ]


def test_the_guard_stops_a_mass_deletion_unless_overridden():
    ops = [{"op": "disable", "uid": str(i)} for i in range(11)] + [{"op": "modify", "uid": "x"}]
    assert "11 of 100 people (11.0 %)" in sync.guard(ops, 100, 10, False)
    assert sync.guard(ops, 100, 10, True) is None
    assert sync.guard(ops[:10], 100, 10, False) is None
    assert sync.summary(ops) == {"disable": 11, "modify": 1}
