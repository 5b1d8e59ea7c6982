"""`anshin docs`: 運用保守体制表 and 緊急連絡窓口一覧表 from the inventory's contact data, the minutes template,
and the handover document (hosts and roles, schedules, where secrets live without their values, a runbook per
job, the latest results); bad contact data stops it before anything is written."""

import datetime
import json
import shutil

import openpyxl
import pytest
import yaml

from anshin_ops import cli, docs, incidents, output, runner
from conftest import ROOT

TODAY = datetime.date(2026, 11, 29)


@pytest.fixture
def inventory(tmp_path, monkeypatch):
    """A copy of inventories/local to change freely; records and patch records in tmp_path."""
    copy = tmp_path / "inv"
    shutil.copytree(ROOT / "inventories" / "local", copy)
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path / "records"))
    return copy


def contacts(inventory, change):
    path = inventory / "group_vars" / "all" / "contacts.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def generate(inventory, tmp_path):
    return docs.generate(str(inventory / "hosts.yml"), str(tmp_path / "out"), today=TODAY)


def test_every_document_from_the_local_inventory(inventory, tmp_path):
    written, problems = generate(inventory, tmp_path)
    assert sorted(p.rsplit("/", 1)[1] for p in written) == sorted(
        [
            "運用保守体制表.xlsx",
            "運用保守体制表.md",
            "緊急連絡窓口一覧表.xlsx",
            "緊急連絡窓口一覧表.md",
            "議事録テンプレート.md",
            "引継書.md",
        ]
    )
    assert problems == []
    team = openpyxl.load_workbook(tmp_path / "out" / "運用保守体制表.xlsx").active
    assert [c.value for c in team[3]] == ["役割", "所属", "氏名", "担当範囲", "対応時間帯", "代行者"]
    assert team["A4"].value == "統括責任者" and team.max_row == 6
    sheet = openpyxl.load_workbook(tmp_path / "out" / "緊急連絡窓口一覧表.xlsx").active
    assert [c.value for c in sheet[3]] == [
        "連絡順位",
        "区分",
        "組織名",
        "担当者",
        "電話",
        "携帯",
        "メール",
        "受付時間",
        "夜間・休日連絡手段",
        "エスカレーション条件",
        "最終確認日",
    ]
    assert [sheet.cell(row=r, column=1).value for r in (4, 5, 6)] == ["1", "2", "3"]
    assert "| 統括責任者 | アンシン運用株式会社" in (tmp_path / "out" / "運用保守体制表.md").read_text(encoding="utf-8")
    assert "## 4. 決定事項" in (tmp_path / "out" / "議事録テンプレート.md").read_text(encoding="utf-8")


def test_handover_document(inventory, tmp_path):
    output.write_yaml(
        str(tmp_path / "records" / "maintenance" / "1.yml"),
        {
            "job": "restore_drill",
            "check": False,
            "started": "2026-11-20T04:00:00+09:00",
            "result": "成功",
            "operator": "阿波 花子",
            "artifacts": ".local/runs/x",
        },
    )
    (tmp_path / "records" / "patching").mkdir(parents=True)
    for started, result in (("2026-10-01 02:10:00", "ok"), ("2026-11-05 02:10:00", "failed")):
        (tmp_path / "records" / "patching" / f"lalert-vm_{started[:10]}.json").write_text(
            json.dumps(
                {
                    "host": "lalert-vm",
                    "started": started,
                    "result": result,
                    "changes": [{"name": "openssl"}],
                    "pre_change_archive": "lalert-vm-2026",
                }
            ),
            encoding="utf-8",
        )
    generate(inventory, tmp_path)
    text = (tmp_path / "out" / "引継書.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| lalert-vm |"))
    assert "lalert_receiver (playbooks/lalert_receiver.yml)" in row and "backup (playbooks/backup.yml)" in row
    standby = next(line for line in text.splitlines() if line.startswith("| standby-vm |"))
    assert "lalert_receiver (playbooks/failover.yml 実行時)" in standby
    assert "| 夜間バックアップ | *-*-* 02:00:00 | backup_time (ロール既定値) |" in text
    # the stand-ins audit and make the resource report every 2 minutes (inventories/local); the pending-updates
    # check keeps its default
    assert "| ログ監査 (自動) | *:0/2 | log_audit_schedule_time (インベントリ: lalert-vm) |" in text
    assert "| 未適用の更新プログラム確認 (自動) | *-*-* 05:30:00 | patching_check_time (ロール既定値) |" in text
    assert "| パッチ適用の保守時間帯 | 02:00-05:00 (JST) |" in text
    assert (
        "| リソース使用状況報告書 (監視サーバ, 自動, 有効時) | *:0/2 |"
        " monitoring_server_resource_report_schedule_time (インベントリ: monitoring-server) |"
    ) in text
    for name, job in runner.jobs().items():
        assert f"### {job['title']} (`bin/anshin run {name}`)" in text
    assert "| リストア訓練 | 2026-11-20T04:00:00+09:00 | 成功 | 阿波 花子 |" in text
    assert "| lalert-vm | 2026-11-05 02:10:00 | failed | 1 | lalert-vm-2026 |" in text  # the latest only
    assert "2026-10-01" not in text


def test_secrets_are_located_never_shown(inventory, tmp_path):
    (inventory / "group_vars" / "lalert_vms" / "lalert_receiver.yml").write_text(
        "---\nlalert_receiver_password: PlainTextSecret123\nlalert_receiver_username: lalert\n", encoding="utf-8"
    )
    (inventory / "group_vars" / "lalert_vms" / "backup.yml").write_text(
        "---\nbackup_passphrase: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n", encoding="utf-8"
    )
    generate(inventory, tmp_path)
    text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*.md"))
    assert "PlainTextSecret123" not in text and "6162" not in text
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert "要対応: 平文で記載されています" in lines["| lalert_receiver_password"]
    assert "ansible-vault (暗号化された値)" in lines["| backup_passphrase"]
    assert (
        "リポジトリ外の自動生成されるファイル .local/secrets/ldap_admin_password" in lines["| ldap_sync_admin_password"]
    )
    assert "bind_password: リポジトリ外の" in lines["| ldap_sync_source"]
    assert "CI のシークレット変数" in lines["| ANSIBLE_VAULT_PASSWORD"]


def test_production_secrets_come_from_vault_and_placeholders_are_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path / "records"))
    written, problems = docs.generate("production", str(tmp_path / "out"), today=TODAY)
    text = (tmp_path / "out" / "引継書.md").read_text(encoding="utf-8")
    assert "平文" not in text and "ansible-vault 変数 vault_backup_passphrase" in text
    assert "運用保守体制表 1 行目: 氏名 が未記入" in problems and "## 未記入・要確認の項目" in text


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["anshin_support_team"][0].pop("deputy"), "missing ['deputy']"),
        (lambda d: d["anshin_emergency_contacts"][0].update(fax="1"), "unknown ['fax']"),
        (lambda d: d["anshin_emergency_contacts"][1].update(order=1), "order (連絡順位) must be unique"),
        (lambda d: d["anshin_emergency_contacts"][0].update(last_checked="先月"), "is not YYYY-MM-DD"),
        (lambda d: d.update(anshin_support_team=[]), "a non-empty list is required"),
    ],
)
def test_bad_contact_data_writes_nothing(inventory, tmp_path, change, message):
    contacts(inventory, change)
    with pytest.raises(
        incidents.RecordError,
        match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]"),
    ):
        generate(inventory, tmp_path)
    assert not (tmp_path / "out").exists()


def test_an_old_confirmation_date_is_flagged(inventory, tmp_path):
    contacts(inventory, lambda d: d["anshin_emergency_contacts"][2].update(last_checked=datetime.date(2026, 1, 5)))
    _, problems = generate(inventory, tmp_path)
    assert problems == ["緊急連絡窓口一覧表 3 行目: 最終確認日 2026-01-05 から 180 日を超えています (要確認)"]


def test_cli_missing_inventory(capsys):
    assert cli.main(["docs", "--inventory", "no_such_inventory"]) == 2
    assert "no inventory 'no_such_inventory'" in capsys.readouterr().err
