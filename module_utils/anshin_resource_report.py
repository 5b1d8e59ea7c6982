"""The resource report's analysis (contract clause 9(3)): figures, trends and Japanese proposals from Prometheus
range queries. Shared by the anshin_resource_report module (the on-demand report on the controller) and the
monitoring host's monthly run (roles/monitoring_server/files/anshin-resource-report), which runs it without
Ansible: standard library only."""

METRICS = [
    # key, Japanese heading, unit, threshold key
    ("cpu", "CPU 使用率", "%", "cpu_percent"),
    ("memory", "メモリ使用率", "%", "memory_percent"),
    ("disk", "ディスク使用率", "%", "disk_percent"),
    ("inodes", "inode 使用率", "%", "inode_percent"),
    ("load", "負荷 (15分平均 / コア)", "", "load_per_core"),
]
THRESHOLD_KEYS = [t for _, _, _, t in METRICS] + ["days_to_full"]
# the one proposal of a period without findings
NO_FINDINGS = "期間中のリソース使用率はいずれも基準内で、増加傾向も問題ありません。現状の構成で十分です。"
# the proposal of a period with metrics missing, followed by what is missing
INCOMPLETE = "監視データのない項目があり、その項目は判定できていません (監視対象の取得状況を確認してください): "


def series_name(labels):
    name = labels.get("instance", "?")
    return f"{name} {labels['mountpoint']}" if labels.get("mountpoint") else name


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    index = (len(ordered) - 1) * fraction
    low = int(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def slope_per_day(points):
    """Least-squares slope of (epoch, value) points, in units per day; 0 for fewer than two points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 86400


def summarise(entry):
    points = [(float(t), float(v)) for t, v in entry.get("values", []) if v not in ("NaN", "+Inf", "-Inf")]
    values = [v for _, v in points]
    if not values:
        return None
    return {
        "series": series_name(entry.get("metric", {})),
        "instance": entry.get("metric", {}).get("instance", "?"),
        "mountpoint": entry.get("metric", {}).get("mountpoint", ""),
        "avg": round(sum(values) / len(values), 2),
        "p95": round(percentile(values, 0.95), 2),
        "max": round(max(values), 2),
        "last": round(values[-1], 2),
        "per_day": round(slope_per_day(points), 4),
        "points": points,
    }


def analyse(series, thresholds, expected=()):
    """Figures per metric, Japanese proposals, and what had no data: a metric without any series, or (with
    expected, the hosts that must be there) "metric:host" for each expected host without one."""
    figures, findings, missing = {}, [], []
    for key, _heading, _unit, threshold_key in METRICS:
        rows = [s for s in (summarise(e) for e in series.get(key) or []) if s]
        if not rows:
            missing.append(key)
        else:
            present = {row["instance"] for row in rows}
            missing.extend(f"{key}:{host}" for host in expected if host not in present)
        figures[key] = rows
        limit = thresholds[threshold_key]
        for row in rows:
            if key == "cpu" and row["p95"] > limit:
                findings.append(
                    f"{row['series']}: CPU 使用率の95パーセンタイルが {row['p95']}% (基準 {limit}%) です。"
                    "vCPU の増設、または受信処理のスレッド数 (lalert_receiver_threads) の見直しを提案します。"
                )
            if key == "memory" and row["max"] > limit:
                findings.append(
                    f"{row['series']}: メモリ使用率が最大 {row['max']}% (基準 {limit}%) に達しました。"
                    "メモリの増設、または常駐プロセスの見直しを提案します。"
                )
            if key == "inodes" and row["last"] > limit:
                findings.append(
                    f"{row['series']}: inode 使用率が {row['last']}% (基準 {limit}%) です。"
                    "小さなファイル (スプール、ローテート済みログ) の整理を提案します。"
                )
            if key == "load" and row["p95"] > limit:
                findings.append(
                    f"{row['series']}: 負荷 (15分平均/コア) の95パーセンタイルが {row['p95']} (基準 {limit}) です。"
                    "処理の集中する時間帯の確認と vCPU の増設を提案します。"
                )
            if key == "disk":
                days_to_full = None
                if row["per_day"] > 0:
                    days_to_full = round((100 - row["last"]) / row["per_day"], 1)
                row["days_to_full"] = days_to_full
                if row["last"] > limit:
                    findings.append(
                        f"{row['series']}: ディスク使用率が {row['last']}% (基準 {limit}%) です。"
                        "ディスクの拡張、またはログ保存期間 (logrotate_retention_days) の見直しを提案します。"
                    )
                elif days_to_full is not None and days_to_full < thresholds["days_to_full"]:
                    findings.append(
                        f"{row['series']}: 現在の増加ペース (1日 {row['per_day']} ポイント) では約 {days_to_full} 日で"
                        "満杯になります。ディスクの拡張、またはアーカイブ・保存期間の見直しを提案します。"
                    )
    if missing:  # never "all within the thresholds" over data that is not there
        findings.append(INCOMPLETE + ", ".join(missing))
    return figures, findings or [NO_FINDINGS], missing


def findings_of(proposals):
    """The proposals that ask someone to act: neither the all-clear nor the note on missing data."""
    return [p for p in proposals if p != NO_FINDINGS and not p.startswith(INCOMPLETE)]
