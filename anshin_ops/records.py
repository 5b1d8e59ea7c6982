"""Where bin/anshin reads and writes an inventory's records: the rule of filter_plugins/records.py
(which the playbooks and roles use through the inventory's anshin_records_dir), not a copy of it."""

import os

from anshin_ops import incidents, inventory
from anshin_ops.modules import load_file

_rule = load_file("filter_plugins/records.py", "anshin_records_rule")
KINDS = _rule.KINDS


def records_dir(inventory_name_or_path, kind=None):
    """The inventory's records folder (or a kind's folder below it). An unknown inventory is refused.
    ANSHIN_RECORDS_ROOT replaces the root (tests, or a separate working copy of the records)."""
    inventory_dir = os.path.dirname(inventory.path_of(inventory_name_or_path))  # refuses an unknown one
    if kind is not None and kind not in KINDS:
        raise incidents.RecordError(f"unknown kind of record {kind!r}")
    if os.environ.get("ANSHIN_RECORDS_ROOT"):
        root = os.environ["ANSHIN_RECORDS_ROOT"]
        return os.path.join(root, kind) if kind else root
    return _rule.anshin_records_dir(inventory_dir, kind)


def is_versioned(inventory_name_or_path):
    """True for the inventories whose records are evidence in git (staging, production)."""
    inventory_dir = os.path.dirname(inventory.path_of(inventory_name_or_path))
    return (
        os.path.basename(inventory_dir) in _rule.VERSIONED
        and os.path.basename(os.path.dirname(inventory_dir)) == "inventories"
    )


def collected_dir(inventory_name_or_path, what):
    """Where logs collected for the inventory are kept (filter_plugins/records.py anshin_collected_dir)."""
    inventory_dir = os.path.dirname(inventory.path_of(inventory_name_or_path))
    try:
        return _rule.anshin_collected_dir(inventory_dir, what)
    except ValueError as exc:
        raise incidents.RecordError(str(exc)) from None
