"""Retention: purge messages older than the configured days, but never a row that
current_real shows and never one the backup has not yet taken.

What the backup has taken comes from its textfile metric (the time of its last
success). Without that evidence nothing is removed: the purge fails closed.
"""

import time

from prometheus_client.parser import text_string_to_metric_families

from .store import Store

DAY = 86400


class RetentionError(RuntimeError):
    pass


def backed_up_until(path, metric):
    """Epoch seconds by which every backup repository has succeeded, from the backup's textfile
    metric. A repository the backup writes to (any anshin_backup sample names it) without a
    success yet holds nothing: then nothing may go. Raises RetentionError."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    except (OSError, ValueError) as exc:
        raise RetentionError(f"cannot read {path}: {exc}; nothing removed") from None
    successes = {s.labels.get("repository", ""): s.value for s in samples if s.name == metric}
    repositories = {s.labels["repository"] for s in samples if "repository" in s.labels} | set(successes)
    missing = sorted(r for r in repositories if not successes.get(r, 0) > 0)
    if not successes or missing:
        raise RetentionError(
            f"{path}: no {metric} for {', '.join(missing) or 'any repository'}: "
            "a backup has never succeeded there; nothing removed"
        )
    return min(successes.values())


def purge(config, now=None):
    """Purge by config.retention_days. Returns the counts removed. Raises RetentionError."""
    now = time.time() if now is None else now
    if not config.retention_days:
        return {"messages": 0, "conflicts": 0, "spool_files": 0}
    taken = backed_up_until(config.backup_metrics_file, config.backup_metric)
    # a message that arrived during the last successful backup may not be in it: a day's margin
    older_than = min(now - config.retention_days * DAY, taken - DAY)
    return Store(config.database, config.spool_dir).purge(older_than)
