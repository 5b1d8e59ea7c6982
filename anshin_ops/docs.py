"""`anshin docs`: the contract's documents from the inventory and the repository (clauses 5(3), 10ウ):
運用保守体制表 and 緊急連絡窓口一覧表 (xlsx and Markdown), a meeting-minutes template (議事録), and the handover
document (引継書): hosts and their roles, schedules, where each secret lives (never its value), a runbook per
job and the latest drill and patch results.

Everything is drawn in a scratch directory and moved into place only when every file exists (output.drawing).
"""

import datetime
import glob
import json
import os
import re
import subprocess

import yaml

from anshin_ops import incidents, inquiries, inventory as inv_mod, office_calendar as cal, output, records, runner
from anshin_ops.output import markdown_table

ROOT = inv_mod.ROOT
PLACEHOLDER = "要記入"
TEAM = [
    ("role", "役割"),
    ("organisation", "所属"),
    ("name", "氏名"),
    ("scope", "担当範囲"),
    ("hours", "対応時間帯"),
    ("deputy", "代行者"),
]
CONTACTS = [
    ("order", "連絡順位"),
    ("kind", "区分"),
    ("organisation", "組織名"),
    ("person", "担当者"),
    ("phone", "電話"),
    ("mobile", "携帯"),
    ("email", "メール"),
    ("hours", "受付時間"),
    ("after_hours", "夜間・休日連絡手段"),
    ("escalation", "エスカレーション条件"),
    ("last_checked", "最終確認日"),
]
OPTIONAL = {"mobile"}  # may be empty: not every office has a mobile
# (role variable, what it schedules); values are systemd OnCalendar expressions or HH:MM
SCHEDULES = [
    ("backup_time", "夜間バックアップ"),
    ("backup_drill_time", "リストア訓練 (自動)"),
    ("backup_check_time", "バックアップ整合性検査"),
    ("logrotate_archive_time", "ログ保管 (アーカイブ)"),
    ("borg_store_prune_time", "バックアップ世代整理 (保管先)"),
    ("ldap_sync_schedule_time", "LDAP同期 (自動, 有効時)"),
    ("log_audit_schedule_time", "ログ監査 (自動)"),
    ("patching_check_time", "未適用の更新プログラム確認 (自動)"),
    ("monitoring_server_resource_report_schedule_time", "リソース使用状況報告書 (監視サーバ, 自動, 有効時)"),
]
CI_SECRETS = [
    (
        "ANSIBLE_VAULT_PASSWORD",
        "ansible-vault のパスワード",
        "CI のシークレット変数 (bin/vault-password-from-env が読む)",
    ),
    (
        "ANSHIN_SSH_KEY",
        "保守アカウントの SSH 秘密鍵",
        "CI のシークレット変数 (bin/deploy が実行中だけ 0600 のファイルに置く)",
    ),
]
STALE_DAYS = 180


def _rows(entries, columns, what, problems):
    """Table rows from inventory entries; a missing key is an error, a placeholder is listed as missing."""
    if not isinstance(entries, list) or not entries:
        raise incidents.RecordError(f"{what}: a non-empty list is required in group_vars/all/contacts.yml")
    keys = {k for k, _ in columns}
    rows = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise incidents.RecordError(f"{what}[{i}]: a mapping with {', '.join(sorted(keys))}")
        unknown, missing = set(entry) - keys, keys - set(entry) - OPTIONAL
        if unknown or missing:
            raise incidents.RecordError(
                f"{what}[{i}]: "
                + "; ".join(
                    ([f"unknown {sorted(unknown)}"] if unknown else [])
                    + ([f"missing {sorted(missing)}"] if missing else [])
                )
            )
        row = []
        for key, title in columns:
            value = "" if entry.get(key) is None else str(entry.get(key))
            if PLACEHOLDER in value or (not value and key not in OPTIONAL):
                problems.append(f"{what} {i + 1} 行目: {title} が未記入")
            row.append(value)
        rows.append(row)
    return rows


def contact_tables(inv, today):
    problems = []
    team = _rows(inv["vars"].get("anshin_support_team"), TEAM, "運用保守体制表", problems)
    contacts = _rows(inv["vars"].get("anshin_emergency_contacts"), CONTACTS, "緊急連絡窓口一覧表", problems)
    for i, row in enumerate(contacts):
        checked = row[-1]
        try:
            day = datetime.date.fromisoformat(checked)
        except ValueError:
            if PLACEHOLDER not in checked:
                raise incidents.RecordError(
                    f"緊急連絡窓口一覧表[{i}]: last_checked {checked!r} is not YYYY-MM-DD"
                ) from None
            continue
        if (today - day).days > STALE_DAYS:
            problems.append(
                f"緊急連絡窓口一覧表 {i + 1} 行目: 最終確認日 {checked} から {STALE_DAYS} 日を超えています (要確認)"
            )
    orders = [r[0] for r in contacts]
    if len(set(orders)) != len(orders):
        raise incidents.RecordError("緊急連絡窓口一覧表: order (連絡順位) must be unique")
    contacts.sort(key=lambda r: int(r[0]) if r[0].isdigit() else 999)
    return team, contacts, problems


# -- handover document -------------------------------------------------------------------------------------
def plays_with_roles():
    """[(playbook, host pattern, [roles])] of every play that applies roles (site.yml's and the jobs')."""
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))):
        with open(path, encoding="utf-8") as fh:
            plays = yaml.safe_load(fh) or []
        for play in plays:
            roles = [r["role"] if isinstance(r, dict) else r for r in play.get("roles", []) or []]
            if roles:
                pattern = str(play.get("hosts", ""))
                m = re.search(r"default\('([^']+)'\)", pattern)
                found.append((os.path.relpath(path, ROOT), m.group(1) if m else pattern, roles))
    return found


def hosts_and_roles(inv):
    roles = {}
    for playbook, pattern, names in plays_with_roles():
        for part in re.split(r"[:,]", pattern):
            for host in inv["groups"].get(part, [part] if part in inv["hostvars"] else []):
                for name in names:
                    roles.setdefault(host, {}).setdefault(name, playbook)
    # the standby gets the VM's plays when failover.yml builds it (anshin_lalert_hosts)
    for host in inv["groups"].get("lalert_standby", []):
        for primary in inv["groups"].get("lalert", [])[:1]:
            for name in roles.get(primary, {}):
                roles.setdefault(host, {}).setdefault(name, "playbooks/failover.yml 実行時")
    rows = []
    for host in sorted(inv["hostvars"]):
        groups = sorted(g for g, members in inv["groups"].items() if host in members and g not in ("all", "ungrouped"))
        address = inv["hostvars"][host].get("ansible_host", "")
        applied = ", ".join(f"{r} ({p})" for r, p in sorted(roles.get(host, {}).items())) or "(なし)"
        rows.append([host, ", ".join(groups), str(address), applied])
    return rows


def role_defaults():
    values = {}
    for path in glob.glob(os.path.join(ROOT, "roles", "*", "defaults", "main.yml")):
        with open(path, encoding="utf-8") as fh:
            values.update(yaml.safe_load(fh) or {})
    return values


def schedules(inv, hostvars):
    defaults = role_defaults()
    rows = []
    for var, what in SCHEDULES:
        where = [(h, v[var]) for h, v in sorted(hostvars.items()) if var in v]
        if where:
            for host, value in where:
                rows.append([what, str(value), f"{var} (インベントリ: {host})"])
        elif var in defaults:
            rows.append([what, str(defaults[var]), f"{var} (ロール既定値)"])

    def first_set(var):  # the patch window is one per site: the first host that sets it, else the default
        return next((v[var] for _, v in sorted(hostvars.items()) if v.get(var)), defaults.get(var))

    rows.append(
        [
            "パッチ適用の保守時間帯",
            f"{first_set('patching_window_start')}-{first_set('patching_window_end')} (JST)",
            "patching_window_start / patching_window_end",
        ]
    )
    dates = first_set("patching_window_dates") or []
    rows.append(["パッチ適用日", ", ".join(map(str, dates)) or "(県と都度合意)", "patching_window_dates"])
    return rows


def secret_names():
    """Role options marked no_log in meta/argument_specs.yml, and inventory-only secrets."""
    names = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml"))):
        with open(path, encoding="utf-8") as fh:
            specs = yaml.safe_load(fh)["argument_specs"]
        for entry in specs.values():
            for name, option in (entry.get("options") or {}).items():
                if option.get("no_log"):
                    names[name] = option.get("description", "")
    with open(os.path.join(ROOT, "inventories", "inventory_vars.yml"), encoding="utf-8") as fh:
        for name, text in (yaml.safe_load(fh) or {}).items():
            if "password" in name:
                names[name] = text
    return names


class _VaultLoader(yaml.SafeLoader):
    """Reads inventory files with inline `!vault` values without a password (they stay encrypted)."""


_VaultLoader.add_constructor("!vault", lambda loader, node: VAULTED)
VAULTED = object()


def where_secret(value, path):
    """Where a secret's value comes from, told from how the inventory sets it (the value is never read)."""
    if value is VAULTED:
        return f"ansible-vault (暗号化された値) {path}"
    if isinstance(value, dict):  # settings holding a password (ldap_sync_source, monitoring_server_smtp)
        parts = [f"{k}: {where_secret(v, path)}" for k, v in value.items() if "password" in k]
        return "; ".join(parts) or f"(パスワードなし) {path}"
    text = "" if value is None else str(value)
    vault = re.search(r"vault_[a-z0-9_]+", text)
    lookup = re.search(r"lookup\('(?:ansible\.builtin\.)?(file|password)',\s*([^,)]*)", text)
    if vault:
        return f"ansible-vault 変数 {vault.group(0)} (同じディレクトリの vault.yml; 参照: {path})"
    if lookup:
        made = "自動生成される" if lookup.group(1) == "password" else ""
        quoted = re.findall(r"'([^']*)'", lookup.group(2)) or [lookup.group(2).strip()]
        return f"リポジトリ外の{made}ファイル {re.sub(r'^(/[.][.])+/', '', quoted[-1])} (参照: {path})"
    if text.strip() in ("", "[]", "{}"):
        return f"(空: 使わない) {path}"
    return f"要対応: 平文で記載されています ({path})"


def secrets(inv):
    """Where each secret comes from in this inventory: a vault variable, a file outside the repository, or
    nowhere (not used there)."""
    directory = os.path.dirname(inv["path"])
    settings = {}
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.yml"), recursive=True)):
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_VaultLoader)  # noqa: S506 - a SafeLoader subclass
        for name, value in (data or {}).items() if isinstance(data, dict) else []:
            settings.setdefault(name, []).append((os.path.relpath(path, ROOT), value))
    rows = []
    for name, description in sorted(secret_names().items()):
        places = settings.get(name)
        if not places:
            rows.append([name, description, "(未設定: このインベントリでは使わない)"])
        for path, value in places or []:
            rows.append([name, description, where_secret(value, path)])
    for name, what, where in CI_SECRETS:
        rows.append([name, what, where])
    return rows


def latest_results(inv_name):
    """The latest run of each drill-like job from the maintenance log, and the latest patch record per host."""
    log = runner.load_log(records.records_dir(inv_name, "maintenance"))
    rows, jobs = [], runner.jobs()
    for job in ("restore_drill", "patch", "failover", "backup_now", "lalert_drill"):
        runs = [e for e in log if e.get("job") == job and not e.get("check")]
        if runs:
            last = runs[-1]
            rows.append(
                [
                    jobs[job]["title"],
                    last["started"],
                    last["result"],
                    last.get("operator", ""),
                    last.get("approval") or "-",
                    last.get("artifacts", ""),
                ]
            )
        else:
            rows.append([jobs[job]["title"], "(記録なし)", "", "", "", ""])
    patches = []
    for path in sorted(glob.glob(os.path.join(records.records_dir(inv_name, "patching"), "*.json"))):
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
        patches.append(
            [
                record.get("host", ""),
                record.get("started", ""),
                record.get("result", ""),
                str(len(record.get("changes") or [])),
                record.get("pre_change_archive") or "-",
                os.path.relpath(path, ROOT),
            ]
        )
    latest = {}
    for row in patches:
        if row[0] not in latest or row[1] > latest[row[0]][1]:
            latest[row[0]] = row
    return rows, [latest[h] for h in sorted(latest)]


def git_revision():
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
            ).stdout.strip()
            or "(不明)"
        )
    except OSError:
        return "(不明)"


def open_records(inv_name):
    """Section 6 of the handover: the records of the inventory the next contractor takes over."""
    folder = records.records_dir(inv_name)
    cases = incidents.load(records.records_dir(inv_name, "incidents"))
    asked = incidents.load(records.records_dir(inv_name, "inquiries"), check=inquiries.validate)
    minutes = sorted(glob.glob(os.path.join(records.records_dir(inv_name, "minutes"), "*.md")))
    parts = [
        "## 6. 記録 (障害・問合せ・打合せ)",
        "",
        f"記録の場所: `{os.path.relpath(folder, ROOT)}`",
        "",
        "### 障害管理表",
        "",
    ]
    parts += [
        markdown_table(
            ["管理番号", "発生日時", "対象", "障害内容", "ステータス", "復旧期限", "期限内復旧"],
            [
                [
                    r["id"],
                    r["occurred"],
                    r["target"],
                    r["summary"],
                    r["status"],
                    *[
                        str(v) if not hasattr(v, "isoformat") else v.isoformat(timespec="minutes")
                        for v in incidents.deadline(r)
                    ],
                ]
                for r in cases
            ],
        )
        if cases
        else "(記録なし)",
        "",
        "### 問合せ記録",
        "",
    ]
    parts += [
        markdown_table(
            ["管理番号", "受付日時", "問合せ者", "受付方法", "件名", "ステータス"],
            [[r["id"], r["received"], r["requester"], r["channel"], r["subject"], r["status"]] for r in asked],
        )
        if asked
        else "(記録なし)",
        "",
        "### 打合せ議事録",
        "",
    ]
    parts += [f"- `{os.path.relpath(path, ROOT)}`" for path in minutes] if minutes else ["(記録なし)"]
    return parts + [""]


def handover(inv, problems, today):
    hostvars = inv["hostvars"]
    runs, patches = latest_results(inv["name"])
    parts = [
        f"# 引継書 ({inv['name']})",
        "",
        f"作成日: {today.isoformat()} / リポジトリ版: {git_revision()} / インベントリ: "
        f"{os.path.relpath(inv['path'], ROOT)}",
        "",
        "この文書は `bin/anshin docs` がインベントリとリポジトリから生成します。手で直さず、元のデータを直して"
        "再生成してください。",
        "",
    ]
    if problems:
        parts += ["## 未記入・要確認の項目", ""] + [f"- {p}" for p in problems] + [""]
    parts += [
        "## 1. ホストと役割",
        "",
        markdown_table(["ホスト", "グループ", "アドレス", "適用ロール (プレイブック)"], hosts_and_roles(inv)),
        "",
        "## 2. 定期処理のスケジュール (JST)",
        "",
        markdown_table(["処理", "時刻 (systemd OnCalendar)", "設定変数"], schedules(inv, hostvars)),
        "",
        "## 3. 秘密情報の保管場所",
        "",
        "値はここに書きません。保管場所だけを示します。",
        "",
        markdown_table(["変数", "内容", "保管場所"], secrets(inv)),
        "",
        "## 4. 作業手順 (ジョブごと)",
        "",
    ]
    for name, job in runner.jobs().items():
        parts += (
            [
                f"### {job['title']} (`bin/anshin run {name}`)",
                "",
                f"- プレイブック: `{job['playbook']}`",
                f"- 実施時期: {job['when']}",
                "- 手順:",
            ]
            + [f"  {i}. {s}" for i, s in enumerate(job["steps"], 1)]
            + [f"- 戻し方・失敗時: {job['rollback']}", ""]
        )
    parts += [
        "## 5. 直近の訓練・作業結果",
        "",
        markdown_table(["作業", "実施日時", "結果", "実施者", "承認", "記録"], runs),
        "",
        "### パッチ適用記録 (ホストごとの最新)",
        "",
        markdown_table(["ホスト", "開始", "結果", "更新パッケージ数", "事前バックアップ", "記録"], patches)
        if patches
        else "(記録なし)",
        "",
    ]
    parts += open_records(inv["name"])
    parts += [
        "## 7. 関連文書",
        "",
        "- 運用保守体制表.xlsx / .md、緊急連絡窓口一覧表.xlsx / .md (この文書と同じディレクトリ)",
        "- 障害管理表: `bin/anshin incident export --xlsx 障害管理表.xlsx`",
        "- 稼働率: `bin/anshin report availability YYYY --fiscal --probes`",
        "- 月次報告書: `bin/anshin report monthly YYYY-MM`",
        "- 保守作業記録: `bin/anshin log`",
        "- 問合せ記録: `bin/anshin inquiry list` / `export`、打合せ議事録: `bin/anshin minutes new --date YYYY-MM-DD`",
        "- 県職員向けの説明: README.ja.md、技術者向け: README.md と各ロールの README.md",
        "",
    ]
    return "\n".join(parts)


def minutes_template(day=None, title="安心とくしま 運用保守 定例会"):
    """The 打合せ議事録 (5(3)); with a day, dated for that meeting (bin/anshin minutes new)."""
    when = f"{day.isoformat()} HH:MM-HH:MM" if day else "YYYY-MM-DD HH:MM-HH:MM"
    return (
        "\n".join(
            [
                "# 議事録",
                "",
                "| 項目 | 内容 |",
                "|---|---|",
                f"| 会議名 | {title} |",
                f"| 日時 | {when} |",
                "| 場所 | |",
                "| 出席者 (県) | |",
                "| 出席者 (受注者) | |",
                "| 記録者 | |",
                "",
                "## 1. 前回からの確認事項",
                "",
                "## 2. 運用状況報告",
                "",
                "- 稼働率 (開庁時間内): `bin/anshin report availability` の結果",
                "- 障害: 障害管理表の新規・継続案件",
                "- アクセス件数・電文件数・登録データ件数: 月次報告書",
                "- バックアップ・リストア訓練、パッチ適用の結果",
                "",
                "## 3. 協議事項",
                "",
                "## 4. 決定事項",
                "",
                "## 5. 課題・宿題 (担当者・期限)",
                "",
                "| No | 内容 | 担当 | 期限 | 状況 |",
                "|---|---|---|---|---|",
                "| 1 | | | | |",
                "",
                "## 6. 次回予定",
                "",
            ]
        )
        + "\n"
    )


def generate(inv_name, out_dir=None, today=None):
    """Write every document; returns (files, problems). Input is checked before anything is written."""
    today = today or datetime.datetime.now(cal.JST).date()
    inv = inv_mod.load(inv_name)
    full = dict(inv, hostvars=inv_mod.load_hostvars(inv_name))
    team, contacts, problems = contact_tables(inv, today)
    out_dir = out_dir or records.records_dir(inv_name, "docs")
    with output.drawing(out_dir) as (scratch, written):
        note = f"{inv_name} / {today.isoformat()} 作成 (bin/anshin docs)"
        for title, header, rows in (
            ("運用保守体制表", [t for _, t in TEAM], team),
            ("緊急連絡窓口一覧表", [t for _, t in CONTACTS], contacts),
        ):
            output.write_xlsx(os.path.join(scratch, f"{title}.xlsx"), title, header, rows, note)
            output.write_text(
                os.path.join(scratch, f"{title}.md"), f"# {title}\n\n{note}\n\n{markdown_table(header, rows)}\n"
            )
        output.write_text(os.path.join(scratch, "議事録テンプレート.md"), minutes_template())
        output.write_text(os.path.join(scratch, "引継書.md"), handover(full, problems, today))
    return written, problems
