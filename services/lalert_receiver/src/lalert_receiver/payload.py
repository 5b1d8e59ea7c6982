"""Summaries of embedded documents (JMA disaster XML, Public Commons XML).

Which telegram a document is, and how it is labelled, comes from
data/titles.json (keyed by namespace and Control/Title), not from code.
"""

import functools
import json
from importlib import resources

from .edxl import normalise


@functools.lru_cache(maxsize=1)
def titles():
    with resources.files(__package__).joinpath("data/titles.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def _local(tag):
    return tag.rpartition("}")[2]


def _ns(tag):
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def _find(el, *path):
    """Follow local names, whatever their namespaces (JMA mixes several)."""
    for name in path:
        el = next((c for c in el if _local(c.tag) == name), None)
        if el is None:
            return None
    return el


def _text(el, *path):
    found = _find(el, *path)
    return (found.text or "").strip() if found is not None else ""


def summarise(payload):
    """dict(kind, code, label, title, headline, info_type, areas, status, real) of a payload."""
    empty = {
        "kind": "unknown",
        "code": "",
        "label": "",
        "title": "",
        "headline": "",
        "info_type": "",
        "areas": [],
        "status": "",
        "real": True,
    }
    if payload is None or _local(payload.tag) != "Report":
        return empty
    table = titles()
    title = _text(payload, "Control", "Title")
    row = table.get(_ns(payload.tag), {}).get(title, {})
    found = _find(payload, "Control", "Status")
    status = normalise("".join(found.itertext())) if found is not None else ""  # `通常<x/>訓練` is not 通常
    areas = {}  # names in order, each once: a dict, not a list (a list's `in` was quadratic)
    head = _find(payload, "Head")
    if head is not None:
        for el in head.iter():
            if _local(el.tag) == "Area":
                name = _text(el, "Name")
                if name:
                    areas.setdefault(name)
    return {
        "kind": row.get("kind", "unknown"),
        "code": row.get("code", ""),
        "label": row.get("label", title),
        "title": title,
        "headline": _text(payload, "Head", "Headline", "Text"),
        "info_type": _text(payload, "Head", "InfoType"),
        "areas": list(areas),
        "status": status,
        # 訓練 (drill) and 試験 (test) inside the payload are never real either
        "real": not status or status in table["real_statuses"],
    }
