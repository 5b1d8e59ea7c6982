"""運用報告書: the monthly operations report for the prefecture (clause 9(1)), one document as HTML (charts as
PNG) and xlsx in the inventory's records (monthly/YYYY-MM/), Japanese headings and chart labels.

Every section comes from what the jobs and commands already keep, so the report adds no second bookkeeping:

- the records of the inventory: 障害管理表 (incidents), 保守作業記録 (maintenance), パッチ適用記録 (patching),
  パッチ状況報告 (patch_report), ログ監査報告書 (log_audit), リソース使用状況報告書 (resource_report), 外部連携 確認結果
  (integration_check), LDAP同期 差分報告書 (ldap_sync), 問合せ記録 (inquiries), and the month's counts of the
  月次報告書 (monthly/YYYY-MM/usage-*.json, the public site's access counts: monthly.py's sections);
- what Prometheus saw of the month (playbooks/operations_history.yml): nightly backups and restore drills, the
  integrations' probe success, the daily log audits and the checks they found above a threshold, the security
  updates pending at the month's end.

A section without its data says what is missing and how to get it; it never shows a zero for a figure nobody
measured. The tables are shared by the page and the workbook (monthly.Table, monthly.tables_xlsx).
"""

import csv
import datetime
import glob
import json
import os
import re

from anshin_ops import incidents, inquiries, monthly, office_calendar as cal, output, runner
from anshin_ops.monthly import Table

# the daily log audit's checks (module_utils/anshin_log_audit.py DEFAULT_THRESHOLDS; a test keeps them equal):
# 確認項目 and 対策提案
LOG_AUDIT_CHECKS = {
    "ssh_failures_per_source": (
        "SSH 認証失敗 (送信元あたり最大)",
        "送信元をファイアウォールで遮断し、SSH の接続元が VPN の範囲だけであること (remote_access_ssh_allowed_sources) "
        "を確認する。",
    ),
    "logins_outside_ranges": (
        "承認範囲外からのログイン",
        "作業者と作業内容を確認する。説明のつかないログインは直ちに鍵・パスワードを無効化し、障害として記録する。",
    ),
    "sudo_refusals": ("sudo の拒否", "実行者に確認し、権限の付与が必要な作業か、不正な操作の試みかを判断する。"),
    "http_5xx_per_hour": (
        "HTTP 5xx (1 時間あたり最大)",
        "受信サービスのログ (journalctl -u lalert-receiver) と nginx のエラーログで原因を確認し、障害として記録する。",
    ),
    "attack_requests": (
        "攻撃パスへの要求",
        "存在しないパスの探索で実害はない。同じ送信元が続く場合は nginx の許可リストで遮断する。",
    ),
    "receiver_rejects": (
        "Lアラート受信の拒否",
        "認証情報・送信元の変更がないか、Lアラート側 (総務省・運用者) と確認する。",
    ),
    "nginx_errors": ("nginx エラー (error 以上)", "エラーログの内容から設定・証明書・ディスク容量を点検する。"),
    "unparsable_lines": ("解析できなかった行", "ログ形式の変更 (nginx の log_format) がないか確認する。"),
    "damaged_files": ("読めなかったファイル", "ディスクとログローテーションの状態を確認する。"),
}
LDAP_ACTIONS = ("追加", "再有効化", "変更", "無効化", "削除")
H_AVAILABILITY = "稼働率 (開庁時間内)"
H_INCIDENTS = "障害対応 (当月発生分)"
H_MAINTENANCE = "保守作業 (保守作業記録)"
H_BACKUP = "バックアップ・リストア訓練"
H_PATCHING = "パッチ適用"
H_PENDING = "未適用のセキュリティ更新 (月末時点)"
H_LOG_AUDIT = "ログ監査 (日次, 閾値超過と対策提案)"
H_LOG_AUDIT_RUNS = "ログ監査報告書 (当月作成分)"
H_RESOURCES = "リソース使用状況と提案"
H_INTEGRATIONS = "外部連携の状態"
H_LDAP = "LDAP 同期 (組織改正・人事異動の反映)"
H_INQUIRIES = "問合せ対応"


class Month:
    """The JST days FIRST up to AFTER (excluded) of YYYY-MM, cut at TODAY (the report of a running month
    reads up to today), and the same as epoch seconds."""

    def __init__(self, month, today):
        year, number, self.finished = monthly.check_month(month, today)
        self.name = month
        self.first = datetime.date(year, number, 1)
        self.after = datetime.date(year + number // 12, number % 12 + 1, 1)
        self.until = self.after if self.finished else today + datetime.timedelta(days=1)
        self.start = int(datetime.datetime(year, number, 1, tzinfo=cal.JST).timestamp())
        self.end = int(datetime.datetime.combine(self.until, datetime.time(), cal.JST).timestamp())

    def holds(self, moment):
        """True when MOMENT (ISO 8601 text, a datetime or epoch seconds) falls in the month."""
        if moment in (None, ""):
            return False
        if isinstance(moment, int | float):
            return self.start <= moment < self.end
        if isinstance(moment, str):
            moment = incidents.parse_time(moment, "time")
        if isinstance(moment, datetime.datetime):
            return self.first <= moment.astimezone(cal.JST).date() < self.until
        return self.first <= moment < self.until


def _epoch_jst(epoch):
    return datetime.datetime.fromtimestamp(epoch, cal.JST).strftime("%Y-%m-%d %H:%M")


def _series_name(metric, *keys):
    return " ".join(str(metric[k]) for k in keys if metric.get(k)) or "-"


def _runs(series, month):
    """Distinct values of a timestamp metric's hourly points that fall in the month: one per run."""
    return sorted({float(v) for _, v in series.get("values", []) if month.holds(float(v))})


# ---- sections -------------------------------------------------------------------------------------------


def availability_tables(incident_records, settings, month, now):
    """This month and the fiscal year up to it, over office hours, from the 障害管理表's unplanned outages."""
    downtimes, still_open = incidents.outages(incident_records, now)
    fiscal_year = month.first.year if month.first.month >= 4 else month.first.year - 1

    def judged(first, after):
        return cal.availability_between(
            first, after, downtimes, settings["hours"], settings["extra_closed"], settings["target"]
        )

    by_month = []  # the chart: each month of the fiscal year up to this one that had an office day
    first = datetime.date(fiscal_year, 4, 1)
    while first <= month.first:
        after = datetime.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        percent = judged(first, min(after, month.until))["availability_percent"]
        if percent is not None:
            by_month.append((f"{first.month}月", percent))
        first = after
    rows = []
    for label, first in (("当月", month.first), ("年度累計", datetime.date(fiscal_year, 4, 1))):
        r = judged(first, month.until)
        none = r["availability_percent"] is None
        rows.append(
            [
                label,
                r["period"],
                r["office_days"],
                r["office_minutes"],
                r["downtime_minutes"],
                r["allowed_minutes"],
                "-" if none else f"{r['availability_percent']:.3f}",
                f"{r['target_percent']}",
                "対象の開庁日なし" if none else ("達成" if r["met"] else "未達"),
            ]
        )
    notes = [
        "障害管理表の停止時間 (計画停止を除く) から開庁時間内で算出。"
        "監視プローブの失敗時間も含める場合は bin/anshin report availability YYYY --fiscal --probes。"
    ]
    if still_open:
        notes.append(f"停止終了時刻のない障害は作成時点まで停止として算出: {', '.join(still_open)}")
    if not incident_records:
        notes.append("障害管理表に記録がありません: 停止のなかった期間として算出しています。")
    header = ["期間", "対象日", "開庁日数", "開庁時間(分)", "停止(分)", "許容(分)", "稼働率(%)", "目標(%)", "判定"]
    return [Table(H_AVAILABILITY, "稼働率", header, rows, notes, "availability")], by_month


def incident_table(incident_records, settings, month, now):
    of_month = [r for r in incident_records if month.holds(r.get("occurred"))]
    rows = []
    cells = incidents.rows(of_month, settings["hours"], settings["extra_closed"], now)
    for record, row in zip(of_month, cells, strict=True):
        values = dict(zip([k for k, _ in incidents.COLUMNS], row, strict=True))
        rows.append(
            [
                record["id"],
                _minute(values["occurred"]),
                record.get("severity", ""),
                record.get("summary", "") + (" (計画停止)" if record.get("planned") else ""),
                float(values["office_minutes"]),
                _minute(values["recovery_deadline"]),
                values["deadline_met"],
                _minute(values.get("reported_to_pref")) or "未報告",
                record.get("status", ""),
            ]
        )
    notes = [] if rows else ["当月に発生した障害はありません (障害管理表)。"]
    header = ["管理番号", "発生", "重大度", "概要", "停止(開庁時間内,分)", "復旧期限", "期限", "県への報告", "状態"]
    return Table(H_INCIDENTS, "障害対応", header, rows, notes)


def maintenance_table(entries, jobs, month):
    rows = [
        [
            _minute(str(e.get("started"))),
            e.get("title") or e.get("job", ""),
            "確認 (チェックモード)"
            if e.get("check")
            else ("変更" if jobs.get(e.get("job"), {}).get("changes") else "参照"),
            e.get("approval")
            or ("不要" if e.get("check") or not jobs.get(e.get("job"), {}).get("changes") else "なし"),
            e.get("operator", ""),
            e.get("result", ""),
        ]
        for e in entries
        if isinstance(e, dict) and month.holds(str(e.get("started") or ""))
    ]
    notes = [] if rows else ["当月の保守作業記録はありません (bin/anshin run が記録します)。"]
    return Table(H_MAINTENANCE, "保守作業", ["開始", "作業", "種別", "承認番号", "実施者", "結果"], rows, notes)


def backup_table(history, month):
    if history is None:
        return Table(H_BACKUP, "バックアップ", None, [], [_no_history("夜間バックアップとリストア訓練の結果")])
    results = history["results"]
    by_repo = {}
    for kind in ("backup_success", "backup_failed", "drill", "drill_mismatched"):
        for series in results.get(kind, []):
            key = _series_name(series["metric"], "instance", "repository")
            # a repository can answer twice for one kind (the failure gauge, and the fallback of a VM whose
            # anshin-backup predates it): every run counts once
            runs = by_repo.setdefault(key, {})
            runs[kind] = sorted(set(runs.get(kind, [])) | set(_runs(series, month)))
    rows = []
    for key, runs in sorted(by_repo.items()):
        success, failed = runs.get("backup_success", []), runs.get("backup_failed", [])
        drills, mismatched = runs.get("drill", []), runs.get("drill_mismatched", [])
        rows.append(
            [
                key,
                len(success),
                len(failed),
                _epoch_jst(success[-1]) if success else "なし",
                len(drills),
                len(mismatched),
                _epoch_jst(drills[-1]) if drills else "なし",
            ]
        )
    days = (month.until - month.first).days
    notes = [
        f"夜間バックアップは毎日 1 回 (対象 {days} 日)。回数は Prometheus が記録した実行時刻の数 "
        "(監視の止まっていた時間の実行は数えられません)。"
    ]
    if not rows:
        notes = [
            "監視データにバックアップの記録がありません (バックアップのメトリクスが Prometheus に届いていません)。"
        ]
        return Table(H_BACKUP, "バックアップ", None, [], notes)
    header = ["リポジトリ", "成功", "失敗", "最終成功", "リストア訓練", "訓練の不一致", "最終訓練"]
    return Table(H_BACKUP, "バックアップ", header, rows, notes, "backups")


def patching_tables(records_root, history, month):
    applied = []
    for path in sorted(glob.glob(os.path.join(records_root, "patching", "*.json"))):
        record = _json(path)
        if not month.holds(_jst_text(record.get("started"))):
            continue
        applied.append(
            [
                record.get("started", ""),
                record.get("host", ""),
                len(record.get("changes") or []),
                ", ".join(record.get("restarted") or []) or "-",
                "再起動" if str(record.get("rebooted")).lower() == "true" else "-",
                "成功" if record.get("result") == "ok" else f"失敗 ({record.get('failed_step') or '-'})",
            ]
        )
    tables = [
        Table(
            H_PATCHING,
            "パッチ適用",
            ["開始", "ホスト", "更新パッケージ数", "再起動したサービス", "OS再起動", "結果"],
            applied,
            ["承認番号は保守作業の表 (作業: セキュリティパッチ適用) に記載。"]
            if applied
            else ["当月のパッチ適用記録はありません (records/<inventory>/patching/)。"],
        )
    ]
    if history is None:
        why = [_no_history("未適用のセキュリティ更新")]
        tables.append(pending_from_reports(records_root, month, why) or Table(H_PENDING, "未適用更新", None, [], why))
        return tables
    oldest = {
        s["metric"].get("instance", ""): float(s["value"][1]) for s in history["results"].get("security_oldest", [])
    }
    rows = [
        [
            s["metric"].get("instance", ""),
            int(float(s["value"][1])),
            round(oldest[s["metric"].get("instance", "")] / 86400, 1)
            if s["metric"].get("instance", "") in oldest
            else "不明",
        ]
        for s in history["results"].get("security_pending", [])
    ]
    notes = ["日次の更新プログラム確認 (anshin-pending-updates) の値。日数はその版を最初に確認した日から。"]
    if not rows:
        notes = [
            "監視データに更新プログラム確認の値がありません (日次の確認が動いていないか、メトリクスが届いていません)。"
        ]
        return tables + [
            pending_from_reports(records_root, month, notes) or Table(H_PENDING, "未適用更新", None, [], notes)
        ]
    tables.append(Table(H_PENDING, "未適用更新", ["ホスト", "セキュリティ更新(件)", "最も古いもの(日)"], rows, notes))
    return tables


def log_audit_tables(records_root, history, month):
    tables = []
    if history is None:
        tables.append(Table(H_LOG_AUDIT, "ログ監査", None, [], [_no_history("日次のログ監査")]))
    else:
        results = history["results"]
        done = {s["metric"].get("instance", ""): len(_runs(s, month)) for s in results.get("log_audit_run", [])}
        failed = {s["metric"].get("instance", ""): len(_runs(s, month)) for s in results.get("log_audit_failed", [])}
        crossed, run_at = {}, {}
        for series in results.get("log_audit_crossed_runs", []):  # values: the time of the audit that crossed
            key = (series["metric"].get("instance", ""), series["metric"].get("check", ""))
            run_at[key] = {t: float(v) for t, v in series.get("values", [])}
            runs = _runs(series, month)
            if runs:
                seen = crossed.setdefault(key[1], {"runs": set(), "max": 0.0, "hosts": set()})
                seen["runs"] |= {(key[0], t) for t in runs}
                seen["hosts"].add(key[0])
        for series in results.get("log_audit_crossed", []):  # values: the count above the threshold
            key = (series["metric"].get("instance", ""), series["metric"].get("check", ""))
            if key[1] in crossed:  # the counts found by this month's audits, not by one before it
                found = [float(v) for t, v in series.get("values", []) if month.holds(run_at.get(key, {}).get(t, 0.0))]
                crossed[key[1]]["max"] = max([crossed[key[1]]["max"], *found])
        rows = [
            [
                LOG_AUDIT_CHECKS.get(check, (check, ""))[0],
                len(seen["runs"]),
                int(seen["max"]),
                ", ".join(sorted(seen["hosts"])),
                LOG_AUDIT_CHECKS.get(check, ("", "ログ監査報告書で内容を確認する。"))[1],
            ]
            for check, seen in sorted(crossed.items(), key=lambda kv: (-len(kv[1]["runs"]), kv[0]))
        ]
        hosts = sorted(set(done) | set(failed))
        ran = ", ".join(f"{h} 成功 {done.get(h, 0)} 回・失敗 {failed.get(h, 0)} 回" for h in hosts) or "記録なし"
        notes = [f"日次のログ監査の実行: {ran}。"]
        if not any(done.values()):
            notes.append(
                "当月、完了した日次のログ監査が監視データにありません (anshin-log-audit.timer と "
                "journalctl -u anshin-log-audit を確認してください)。閾値超過の有無は判断できません。"
            )
            if not rows:
                return tables + [Table(H_LOG_AUDIT, "ログ監査", None, [], notes)] + _audit_reports(records_root, month)
        elif any(failed.values()):
            notes.append("失敗した監査の日の閾値超過は数えられていません。")
        if any(done.values()) and not rows:
            notes.append("完了した監査で閾値を超えた項目はありません。")
        header = ["確認項目", "閾値を超えた監査(回)", "最大値", "ホスト", "対策提案"]
        tables.append(Table(H_LOG_AUDIT, "ログ監査", header, rows, notes))
    return tables + _audit_reports(records_root, month)


def _audit_reports(records_root, month):
    """The log audit reports of the month (bin/anshin run log_audit), by the end of their period."""
    reports = []
    for path in sorted(glob.glob(os.path.join(records_root, "log_audit", "*.json"))):
        report = _json(path)
        period = report.get("period") if isinstance(report.get("period"), dict) else {}
        until = incidents.parse_time(period.get("until"), f"{os.path.basename(path)}: period.until")
        if until is None or not month.holds(until - datetime.timedelta(seconds=1)):  # the end is not in it
            continue
        flags = ", ".join(
            f"{LOG_AUDIT_CHECKS.get(f.get('name'), (f.get('name'),))[0]} {f.get('value')}"
            for f in report.get("flags") or []
            if isinstance(f, dict)
        )
        name = os.path.basename(path)[: -len(".json")]
        verdict = "要確認" if report.get("flagged") else "異常なし"
        reports.append([name, report.get("host", ""), verdict, flags or "-"])
    if not reports:
        return []
    return [Table(H_LOG_AUDIT_RUNS, "ログ監査報告書", ["報告書", "ホスト", "判定", "閾値超過"], reports)]


def resource_table(records_root, month):
    """The proposals of the latest resource report whose period ends in the month."""
    latest = None
    for path in sorted(glob.glob(os.path.join(records_root, "resource_report", "resource_report_*.json"))):
        data = _json(path)
        end = data.get("period_end")
        if (
            isinstance(end, int | float)
            and month.holds(float(end))
            and (latest is None or end >= latest[1]["period_end"])
        ):
            latest = (path, data)
    if latest is None:
        return Table(
            H_RESOURCES,
            "リソース",
            None,
            [],
            [
                "当月のリソース使用状況報告書がありません: 監視ホストの定期実行 (毎月末) の結果は、"
                "その後の report operations が取り込みます。"
                "すぐに必要なら bin/anshin run resource_report で作成してください。"
            ],
        )
    path, data = latest
    rows = [[f"提案 {i}", proposal] for i, proposal in enumerate(data.get("proposals") or [], 1)]
    start = data.get("period_start")
    period = f"{_epoch_jst(start) if isinstance(start, int | float) else '?'} - {_epoch_jst(data['period_end'])}"
    made = "監視ホストの定期実行" if path.endswith("_scheduled.json") else "手動実行"
    notes = [f"出典: {os.path.basename(path)} ({made}、期間 {period} JST)"]
    if data.get("missing"):
        notes.append("監視データのなかった項目: " + ", ".join(map(str, data["missing"])))
    return Table(H_RESOURCES, "リソース", ["項目", "内容"], rows, notes)


def integration_table(records_root, history, month):
    checks = [
        p
        for p in sorted(glob.glob(os.path.join(records_root, "integration_check", "integration_check_*Z.md")))
        if month.holds(_stamp_time(p))
    ]
    notes = [f"外部連携の確認 (bin/anshin run integration_check): 当月 {len(checks)} 回。"]
    if history is None:
        return Table(H_INTEGRATIONS, "外部連携", None, [], [_no_history("外部連携の監視結果"), *notes])
    samples = {
        _series_name(s["metric"], "probe"): int(float(s["value"][1]))
        for s in history["results"].get("probe_samples", [])
    }
    rows = []
    for series in sorted(history["results"].get("probe_success", []), key=lambda s: s["metric"].get("probe", "")):
        probe = _series_name(series["metric"], "probe")
        rows.append(
            [
                probe,
                series["metric"].get("kind", ""),
                f"{100 * float(series['value'][1]):.2f}",
                samples.get(probe, "不明"),
            ]
        )
    if not rows:
        return Table(H_INTEGRATIONS, "外部連携", None, [], ["監視データに外部連携のプローブ結果がありません。", *notes])
    notes.insert(0, "監視サーバが 15 秒ごとに行う接続確認の成功率。")
    return Table(H_INTEGRATIONS, "外部連携", ["連携先", "種別", "成功率(%)", "確認回数"], rows, notes, "integrations")


def ldap_table(records_root, month):
    """Per 差分報告書 of the month: applied or a dry run (予行, its .md says), and the people per action."""
    rows = []
    for path in sorted(glob.glob(os.path.join(records_root, "ldap_sync", "*.csv"))):
        if not month.holds(_stamp_time(path)):
            continue
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                changes = [(row.get("区分"), row.get("uid")) for row in csv.DictReader(fh)]
            with open(path[: -len(".csv")] + ".md", encoding="utf-8") as fh:
                dry_run = "- 区分: 予行" in fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise incidents.RecordError(f"{path}: cannot be read ({exc})") from exc
        people = [len({uid for action, uid in changes if action == a}) for a in LDAP_ACTIONS]
        rows.append([os.path.basename(path)[: -len(".csv")], "予行 (変更なし)" if dry_run else "適用", *people])
    notes = ["件数は人数 (変更は属性ごとではなく人ごと)。"] if rows else ["当月の LDAP同期 差分報告書はありません。"]
    return Table(H_LDAP, "LDAP同期", ["差分報告書", "区分", *LDAP_ACTIONS], rows, notes)


def inquiry_table(records_, settings, month):
    of_month = [r for r in records_ if month.holds(r.get("received"))]
    hours = settings.get("inquiry_hours", ("08:30", "17:30"))
    rows = []
    for record in of_month:
        minutes = inquiries.answer_minutes(record, hours, settings["extra_closed"])
        rows.append(
            [
                record["id"],
                _minute(record.get("received")),
                record.get("subject", ""),
                record.get("status", ""),
                "未回答" if minutes is None else round(minutes),
            ]
        )
    notes = [] if rows else ["当月の問合せはありません (問合せ記録)。"]
    return Table(H_INQUIRIES, "問合せ", ["管理番号", "受付", "件名", "状態", "回答まで(分)"], rows, notes)


def usage_tables(usage, site_access, month, today):
    """The 月次報告書's sections: the public site's access counts and the VM's posts (投稿数)."""
    if usage is None:
        return [
            Table(
                "アクセス件数・投稿数",
                "アクセス件数",
                None,
                [],
                [
                    f"当月の集計がありません: bin/anshin report monthly {month.name} で集計してから作成してください "
                    "(公開サイトのアクセス件数と電文の投稿数)。"
                ],
            )
        ]
    return monthly.section_tables(usage, site_access, today)


# ---- helpers ----------------------------------------------------------------------------------------------


def pending_from_reports(records_root, month, why=()):
    """Without the monitoring data: the security updates pending in each host's last パッチ状況報告
    (patch_report) of the month, with the time it was checked; None when there is none."""
    latest = {}
    for path in sorted(glob.glob(os.path.join(records_root, "patch_report", "*.json"))):
        report = _json(path)
        checked = _jst_text(report.get("checked"))
        if not (checked and month.holds(checked) and isinstance(report.get("pending_security"), int)):
            continue
        host = str(report.get("host", ""))
        if host not in latest or checked >= latest[host][0]:
            latest[host] = (checked, report)
    if not latest:
        return None
    rows = []
    for host, (checked, report) in sorted(latest.items()):
        age = report.get("oldest_pending_security_seconds")
        days = round(age / 86400, 1) if isinstance(age, int | float) and not isinstance(age, bool) else "不明"
        rows.append([host, report["pending_security"], days, checked.replace("T", " ")])
    notes = [*why, "当月最後のパッチ状況報告 (bin/anshin run patch_report) の値です。月末時点の値ではありません。"]
    header = ["ホスト", "セキュリティ更新(件)", "最も古いもの(日)", "確認日時"]
    return Table(H_PENDING, "未適用更新", header, rows, notes)


def _no_history(what):
    return (
        f"{what}: 監視データを取得できませんでした (監視サーバの Prometheus に問い合わせられないか、"
        "--no-collect で実行されました)。"
        "監視サーバに到達できる環境で bin/anshin report operations を再実行してください。"
    )


def _json(path):
    """A record written as a JSON object; RecordError naming the file otherwise."""
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise incidents.RecordError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise incidents.RecordError(f"{path}: not a JSON object")
    return data


def _minute(value):
    """ISO 8601 text as 'YYYY-MM-DD HH:MM' in JST, as people read it ('' for none)."""
    moment = incidents.parse_time(value, "time") if value else None
    return f"{moment.astimezone(cal.JST):%Y-%m-%d %H:%M}" if moment else ""


def _jst_text(value):
    """'YYYY-MM-DD HH:MM' (JST, as the roles write it) or ISO 8601 text, as ISO 8601 for Month.holds."""
    if not value:
        return None
    return str(value).replace(" ", "T", 1)


def _stamp_time(path):
    """The time in a file name: YYYYmmddTHHMMSSZ (UTC) or YYYYmmddTHHMM / YYYYmmdd (JST)."""
    name = os.path.basename(path)
    utc = re.search(r"(\d{8}T\d{6})Z", name)
    if utc:
        return datetime.datetime.strptime(utc.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=datetime.UTC)
    local = re.search(r"(\d{8})(?:T(\d{4}))?", name)
    if local:
        return datetime.datetime.strptime(local.group(1) + (local.group(2) or "0000"), "%Y%m%d%H%M").replace(
            tzinfo=cal.JST
        )
    return None


def build(month, records_root, settings, history, usage, site_access, today, now=None):
    """Every section of the report, in the order the prefecture reads it."""
    incident_records = incidents.load(os.path.join(records_root, "incidents"))
    inquiry_records = incidents.load(os.path.join(records_root, "inquiries"), check=inquiries.validate)
    jobs = runner.jobs()
    entries = runner.load_log(os.path.join(records_root, "maintenance"))
    now = now or datetime.datetime.now(cal.JST)
    availability, by_month = availability_tables(incident_records, settings, month, now)
    tables = [
        *availability,
        incident_table(incident_records, settings, month, now),
        maintenance_table(entries, jobs, month),
        backup_table(history, month),
        *patching_tables(records_root, history, month),
        *log_audit_tables(records_root, history, month),
        resource_table(records_root, month),
        integration_table(records_root, history, month),
        ldap_table(records_root, month),
        *usage_tables(usage, site_access, month, today),
        inquiry_table(inquiry_records, settings, month),
    ]
    return tables, {"availability_by_month": by_month, "target": settings["target"]}


# ---- the document -----------------------------------------------------------------------------------------


def _charts(tables, extra, usage, site_access, directory, font, today):
    """The PNG charts in DIRECTORY with Japanese titles and labels (FONT); {chart key: file name}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    by_heading = {t.heading: t for t in tables}
    with matplotlib.rc_context({"font.family": [monthly.FONT_FAMILY], "axes.unicode_minus": False}):
        months = extra["availability_by_month"]
        fig, ax = plt.subplots(figsize=(10, 3.5))
        ax.bar([m for m, _ in months], [v for _, v in months], color="#4a7ebb", label="稼働率")
        ax.axhline(extra["target"], color="#c0392b", linestyle="--", label=f"目標 {extra['target']}%")
        low = min([v for _, v in months] + [extra["target"]])
        ax.set_ylim(max(0, low - 1), 100.2)
        ax.set_title("月別稼働率 (開庁時間内, 年度)")
        ax.set_xlabel("月")
        ax.set_ylabel("稼働率 (%)")
        ax.legend(loc="lower right", fontsize="small")
        monthly.save_chart(fig, directory, "operations_availability.png", files, "availability")
        plt.close(fig)

        backups = by_heading.get(H_BACKUP)
        if backups and backups.header:
            fig, ax = plt.subplots(figsize=(10, 0.5 * max(len(backups.rows), 2) + 1.5))
            names = [r[0] for r in backups.rows]
            ax.barh(names, [r[1] for r in backups.rows], color="#4a7ebb", label="成功")
            ax.barh(
                names, [r[2] for r in backups.rows], left=[r[1] for r in backups.rows], color="#c0392b", label="失敗"
            )
            ax.set_title("夜間バックアップの回数 (リポジトリ別)")
            ax.set_xlabel("件数")
            ax.legend(loc="lower right", fontsize="small")
            monthly.save_chart(fig, directory, "operations_backups.png", files, "backups")
            plt.close(fig)

        integrations = by_heading.get(H_INTEGRATIONS)
        if integrations and integrations.header:
            fig, ax = plt.subplots(figsize=(10, 0.4 * max(len(integrations.rows), 2) + 1.5))
            ax.barh([r[0] for r in integrations.rows], [float(r[2]) for r in integrations.rows], color="#4a7ebb")
            ax.set_xlim(0, 100)
            ax.set_title("外部連携の接続確認の成功率")
            ax.set_xlabel("成功率 (%)")
            monthly.save_chart(fig, directory, "operations_integrations.png", files, "integrations")
            plt.close(fig)
    if usage is not None:
        files.update(monthly.draw_charts(usage, directory, "operations_", font, site_access, today))
    return files


def render(month, inventory_name, tables, extra, usage, site_access, out_dir, today):
    """運用報告書_YYYY-MM.html (with its PNG charts) and .xlsx in OUT_DIR, all or nothing; the files written."""
    font = monthly.japanese_font()  # refused before anything is drawn
    with output.drawing(out_dir) as (scratch, written):
        charts = _charts(tables, extra, usage, site_access, scratch, font, today)
        stem = f"運用報告書_{month.name}"
        page = output.render_html(
            "operations.html.j2",
            title=f"運用報告書 {month.name} (安心とくしま Lアラート連携サーバ, {inventory_name})",
            finished=month.finished,
            created=f"{cal.now_jst():%Y-%m-%d %H:%M}",
            tables=[(t.heading, t.header, t.rows, t.notes, charts.get(t.chart)) for t in tables],
        )
        output.write_text(os.path.join(scratch, stem + ".html"), page)
        monthly.tables_xlsx(tables, os.path.join(scratch, stem + ".xlsx"))
    return written
