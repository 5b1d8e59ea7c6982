"""Where the records and reports of an inventory live: the one rule, as a pure function.

    {{ inventory_dir | anshin_records_dir }}            (inventories/*/group_vars/all/records.yml)

The staging and production inventories' records are evidence: they live in git, under
records/<inventory>/<kind>/ of this repository, reviewed like code. Everything else (the
local stand-ins, a molecule scenario's inventory) is not maintenance of the real system and
goes under .local/records/, which git ignores. anshin_ops (bin/anshin) uses the same function.
"""

import os

VERSIONED = ("staging", "production")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# what a kind holds; roles and commands name one of these, nothing else
KINDS = {
    "maintenance": "保守作業記録 (bin/anshin run)",
    "incidents": "障害管理表",
    "inquiries": "問合せ記録",
    "minutes": "打合せ議事録",
    "patching": "パッチ適用記録",
    "patch_report": "パッチ状況報告",
    "log_audit": "ログ監査報告書",
    "ldap_sync": "LDAP同期 差分報告書",
    "resource_report": "リソース使用状況報告書",
    "integration_check": "外部連携 確認結果",
    "availability": "稼働率報告書",
    "monthly": "月次報告書",
    "docs": "引継書ほか納品文書",
}


def anshin_records_dir(inventory_dir, kind=None):
    """records/<inventory>/ for staging and production (as in inventories/<name>), else .local/records/;
    with a kind, its folder below."""
    if not inventory_dir:
        raise ValueError("anshin_records_dir needs the inventory's directory (inventory_dir)")
    path = os.path.normpath(str(inventory_dir))
    name, parent = os.path.basename(path), os.path.basename(os.path.dirname(path))
    if name in VERSIONED and parent == "inventories":
        root = os.path.join(os.path.dirname(os.path.dirname(path)), "records", name)
    else:
        root = os.path.join(REPO, ".local", "records")
    if kind is None:
        return root
    if kind not in KINDS:
        raise ValueError(f"unknown kind of record {kind!r}; kinds: {', '.join(KINDS)}")
    return os.path.join(root, kind)


class FilterModule:
    def filters(self):
        return {"anshin_records_dir": anshin_records_dir}
