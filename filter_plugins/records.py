"""Where the records and reports of an inventory live: the one rule, as a pure function.

    {{ inventory_dir | anshin_records_dir }}            (inventories/*/group_vars/all/records.yml)

The staging and production inventories' records are evidence: they live in git, under
records/<inventory>/<kind>/ of this repository, reviewed like code. Everything else (the
local stand-ins, a molecule scenario's inventory) is not maintenance of the real system and
goes under .local/records/, which git ignores. anshin_ops (bin/anshin) uses the same function.
The same rule tells the real inventories apart for the stand-in gate of playbooks/local/:

    {{ ansible_inventory_sources | anshin_real_inventories }}

Logs collected from other contracts' machines (the CMS web servers' IIS logs) are raw input, not
records: they name the site's visitors (client addresses), so they never go into git. They live
under .local/collected/<inventory>/<what>/, one folder per inventory so a stand-in's sample never
mixes with production's logs; the figures drawn from them are the records.

    {{ inventory_dir | anshin_collected_dir('iis-logs') }}
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


def _versioned(path):
    """staging or production as inventories/<name>: the real system."""
    return os.path.basename(path) in VERSIONED and os.path.basename(os.path.dirname(path)) == "inventories"


def anshin_real_inventories(sources):
    """The inventory sources (ansible_inventory_sources: a directory or a file in it) that are staging or
    production by the same rule. The playbooks of playbooks/local/ refuse to run when there is any."""
    if isinstance(sources, str):
        sources = [sources]
    paths = [os.path.normpath(str(source)) for source in sources or []]
    return [path for path in paths if _versioned(path) or _versioned(os.path.dirname(path))]


def anshin_records_dir(inventory_dir, kind=None):
    """records/<inventory>/ for staging and production (as in inventories/<name>), else .local/records/;
    with a kind, its folder below."""
    if not inventory_dir:
        raise ValueError("anshin_records_dir needs the inventory's directory (inventory_dir)")
    path = os.path.normpath(str(inventory_dir))
    if _versioned(path):
        root = os.path.join(os.path.dirname(os.path.dirname(path)), "records", os.path.basename(path))
    else:
        root = os.path.join(REPO, ".local", "records")
    if kind is None:
        return root
    if kind not in KINDS:
        raise ValueError(f"unknown kind of record {kind!r}; kinds: {', '.join(KINDS)}")
    return os.path.join(root, kind)


COLLECTED = ("iis-logs",)


def anshin_collected_dir(inventory_dir, what):
    """.local/collected/<inventory>/<what>/: where logs collected for this inventory are kept (not in git)."""
    if not inventory_dir:
        raise ValueError("anshin_collected_dir needs the inventory's directory (inventory_dir)")
    if what not in COLLECTED:
        raise ValueError(f"unknown kind of collected log {what!r}; kinds: {', '.join(COLLECTED)}")
    name = os.path.basename(os.path.normpath(str(inventory_dir)))
    return os.path.join(REPO, ".local", "collected", name, what)


class FilterModule:
    def filters(self):
        return {
            "anshin_records_dir": anshin_records_dir,
            "anshin_real_inventories": anshin_real_inventories,
            "anshin_collected_dir": anshin_collected_dir,
        }
