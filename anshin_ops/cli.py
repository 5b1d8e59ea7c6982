"""anshin: the operators' command line on the controller.

    anshin run JOB [-i INVENTORY] [--limit HOSTS] [--check] [-e NAME=VALUE ...] [--approval TEXT]
                                                                      (anshin run --list)
    anshin log [-i INVENTORY]                                                       保守作業記録
    anshin incident new --target lalert-vm --summary "..." --occurred 2026-11-28T09:10 [--severity 中]
    anshin incident update INC-... --set cause="..." --set down_start=... --set down_end=...
    anshin incident close INC-... --recovered ... --reported ... --cause ... --remedy ... --prevention ...
    anshin incident list | export [--xlsx FILE] [--markdown FILE]                  障害管理表
    anshin report availability 2026 [--fiscal] [--include-planned] [--probes]      稼働率
    anshin report monthly 2026-11 [--no-collect]                                    月次報告書
    anshin report operations 2026-11 [--no-collect]                                 運用報告書
    anshin inquiry new --received 2026-11-30T10:05 --from "危機管理課 山田" --channel 電話 --subject "..."
    anshin inquiry answer INQ-... --answered 2026-11-30T11:00 --answer "..."   | list | export  問合せ記録
    anshin minutes new --date 2026-12-01 [--title 定例会]                            打合せ議事録
    anshin docs [--out DIR]                                   運用保守体制表, 緊急連絡窓口一覧表, 議事録, 引継書

INVENTORY is a name under inventories/ (default: $ANSHIN_INVENTORY, else local) or a path. It decides where
records go (filter_plugins/records.py): staging's and production's under records/<inventory>/ (version
control), the local stand-ins' in the folder git ignores.
Every command checks its input first and exits 2 with one line naming the problem; nothing is half-written.
"""

import argparse
import datetime
import glob
import json
import os
import sys

import yaml

from anshin_ops import (
    access_counts,
    docs,
    incidents,
    inquiries,
    inventory,
    monthly,
    office_calendar as cal,
    operations,
    output,
    records,
    runner,
)

ROOT = runner.ROOT


def incidents_dir(args):
    return args.records or records.records_dir(args.inventory, "incidents")


def calendar_settings(args):
    return inventory.office_calendar(inventory.load(args.inventory))


def cmd_run(args):
    if args.list or not args.job:
        for name, job in runner.jobs().items():
            print(f"{name:18} {job['title']}  ({job['playbook']})")
        return 0 if args.list else 2
    rc, entry = runner.run_job(
        args.job,
        args.inventory,
        args.limit,
        args.check,
        args.extra_vars or (),
        incidents_dir=args.records,
        approval=args.approval,
    )
    print(
        f"{entry['title']}: {entry['result']} (rc {entry['rc']}, tasks {entry['tasks']}, "
        f"changed {sum(entry['changed'].values())}, failed {sum(entry['failed'].values())}, "
        f"unreachable {sum(entry['unreachable'].values())})"
    )
    print(f"  artifacts: {entry['artifacts']}")
    if entry["incident"]:
        print(f"  障害管理表の下書き: {entry['incident']} (bin/anshin incident update/close で完成させる)")
    return rc


def cmd_log(args):
    log_dir = records.records_dir(args.inventory, "maintenance")
    for entry in runner.load_log(log_dir)[-args.last :]:
        print(
            f"{entry['started']}  {entry['operator']}  {entry['job']}  {entry['result']}  "
            f"changed {sum(entry['changed'].values())}  {'check ' if entry['check'] else ''}"
            f"limit {entry['limit'] or '-'}  承認 {entry.get('approval') or '-'}  {entry['artifacts']}"
        )
    return 0


def cmd_incident(args):
    directory = incidents_dir(args)
    if args.action == "new":
        occurred = incidents.parse_time(args.occurred, "occurred")
        record = incidents.new_record(
            occurred,
            occurred=occurred.isoformat(),
            detected=args.detected or occurred.isoformat(),
            detection=args.detection,
            target=args.target,
            category=args.category,
            severity=args.severity,
            summary=args.summary,
            impact=args.impact or "",
            down_start=args.down_start,
            down_end=args.down_end,
            handler=args.handler or "",
            status="対応中",
        )
        print(incidents.save(directory, record))
        return 0
    if args.action == "list":
        kw = _split_kw(args)
        for record in incidents.load(directory):
            office, outside = incidents.downtime(record, **kw)
            due, met = incidents.deadline(record, **kw)
            print(
                f"{record['id']}  {record['status']}  {record['occurred']}  {record['target']}  "
                f"{record['summary']}  (開庁時間内 {office} 分 / 時間外 {outside} 分; "
                f"復旧期限 {due:%Y-%m-%d %H:%M} {met})"
            )
        return 0
    if args.action == "export":
        if not (args.xlsx or args.markdown):
            raise incidents.RecordError("export: give --xlsx FILE and/or --markdown FILE")
        loaded, kw = incidents.load(directory), _split_kw(args)
        if args.xlsx:
            incidents.export_xlsx(loaded, args.xlsx, **kw)
            print(args.xlsx)
        if args.markdown:
            incidents.export_markdown(loaded, args.markdown, **kw)
            print(args.markdown)
        return 0
    record = _find(directory, args.id)
    changes = dict(pair.split("=", 1) for pair in (args.set or []) if "=" in pair)
    bad = [pair for pair in (args.set or []) if "=" not in pair]
    if bad:
        raise incidents.RecordError(f"--set needs FIELD=VALUE, got {bad[0]!r}")
    unknown = set(changes) - {k for k, _ in incidents.COLUMNS} - {"down_start", "down_end", "planned"}
    if unknown:
        raise incidents.RecordError(f"unknown field {sorted(unknown)[0]!r}")
    if "planned" in changes:
        changes["planned"] = changes["planned"].lower() in ("1", "true", "yes")
    if args.action == "close":
        changes.update(
            {
                k: v
                for k, v in (
                    ("recovered", args.recovered),
                    ("cause", args.cause),
                    ("remedy", args.remedy),
                    ("prevention", args.prevention),
                    ("reported_to_pref", args.reported_to_pref),
                )
                if v
            }
        )
        changes["status"] = "完了"
    print(incidents.save(directory, dict(record, **changes)))
    return 0


def cmd_inquiry(args):
    directory = records.records_dir(args.inventory, "inquiries")
    settings = calendar_settings(args)
    kw = {"hours": settings["inquiry_hours"], "extra_closed": settings["extra_closed"]}
    if args.action == "new":
        received = incidents.parse_time(args.received, "received")
        record = {
            "id": inquiries.new_id(received),
            "received": received.isoformat(),
            "requester": args.requester,
            "channel": args.channel,
            "subject": args.subject,
            "answered": None,
            "answer": "",
            "handler": args.handler or runner.operator(),
            "status": "受付",
        }
        print(incidents.save(directory, record, check=inquiries.validate))
        return 0
    loaded = incidents.load(directory, check=inquiries.validate)
    if args.action == "answer":
        record = next((r for r in loaded if r["id"] == args.id), None)
        if record is None:
            raise incidents.RecordError(f"no inquiry {args.id} in {directory}")
        answered = dict(
            record,
            answered=incidents.parse_time(args.answered, "answered").isoformat(),
            answer=args.answer,
            status="回答済",
        )
        print(incidents.save(directory, answered, check=inquiries.validate))
        print(f"  回答までの時間 (問合せ対応時間内) {inquiries.answer_minutes(answered, **kw)} 分")
        return 0
    if args.action == "list":
        for record, cells in zip(loaded, inquiries.rows(loaded, **kw), strict=True):
            minutes = cells[7] or "未回答"
            print(
                f"{record['id']}  {record['status']}  {record['received']}  {record['requester']}  "
                f"{record['channel']}  {record['subject']}  (回答まで {minutes} 分)"
            )
        return 0
    header = [title for _, title in inquiries.COLUMNS]
    if args.xlsx:
        output.write_xlsx(args.xlsx, "問合せ記録", header, inquiries.rows(loaded, **kw), args.inventory)
        print(args.xlsx)
    if args.markdown:
        output.write_text(
            args.markdown, f"# 問合せ記録\n\n{output.markdown_table(header, inquiries.rows(loaded, **kw))}\n"
        )
        print(args.markdown)
    if not (args.xlsx or args.markdown):
        raise incidents.RecordError("export: give --xlsx FILE and/or --markdown FILE")
    return 0


def cmd_minutes(args):
    try:
        day = datetime.date.fromisoformat(args.date)
    except ValueError:
        raise incidents.RecordError(f"--date: {args.date!r} is not YYYY-MM-DD") from None
    title = args.title.strip()
    if not title or "/" in title:
        raise incidents.RecordError("--title: a non-empty name without '/'")
    path = os.path.join(records.records_dir(args.inventory, "minutes"), f"{day.isoformat()}_{title}.md")
    if os.path.exists(path):
        raise incidents.RecordError(f"{path} exists already: edit it")
    output.write_text(path, docs.minutes_template(day, title))
    print(path)
    return 0


def _find(directory, incident_id):
    for record in incidents.load(directory):
        if record["id"] == incident_id:
            return record
    raise incidents.RecordError(f"no incident {incident_id} in {directory}")


def _split_kw(args):
    settings = calendar_settings(args)
    return {"hours": settings["hours"], "extra_closed": settings["extra_closed"]}


def probe_downtimes(args, first, after):
    """Failed minutes of the receiver probe from Prometheus on the inventory's monitoring host, as
    (start, end) intervals, and the hours with probe data; None when Prometheus could not be asked."""
    begin = int(datetime.datetime(first.year, first.month, first.day, tzinfo=cal.JST).timestamp())
    end = min(
        int(datetime.datetime(after.year, after.month, after.day, tzinfo=cal.JST).timestamp()),
        int(datetime.datetime.now(cal.JST).timestamp()) // 60 * 60,
    )
    history = prometheus_answers(
        args,
        "probe_history",
        {"monitoring_server_availability_start": begin, "monitoring_server_availability_end": end},
        os.path.join("availability", f"probe_history_{begin}_{end}.json"),
        "障害管理表の停止時間だけで計算します",
    )
    if history is None:
        return None
    minutes = [
        (datetime.datetime.fromtimestamp(t - 60, cal.JST), datetime.datetime.fromtimestamp(t, cal.JST))
        for t in history["failed_minutes"]
    ]
    return {
        "intervals": cal.merge(minutes),
        "failed_minutes": len(minutes),
        "hours_with_data": history["hours_with_data"],
        "period_hours": (end - begin) // 3600,
    }


def planned_windows(args, incident_records):
    """Planned maintenance: the changing runs of the maintenance log (not check mode) and incidents marked
    planned. Probe failures inside them are not downtime."""
    jobs = runner.jobs()
    windows = [
        (incidents.parse_time(e["started"], "started"), incidents.parse_time(e["finished"], "finished"))
        for e in runner.load_log(records_dir_of(args, "maintenance"))
        if jobs.get(e.get("job"), {}).get("changes") and not e.get("check") and e.get("finished")
    ]
    windows += [
        (incidents.parse_time(r["down_start"], "down_start"), incidents.parse_time(r["down_end"], "down_end"))
        for r in incident_records
        if r.get("planned") and r.get("down_start") and r.get("down_end")
    ]
    return [(start, end) for start, end in windows if end > start]


def records_dir_of(args, kind):
    return records.records_dir(args.inventory, kind)


def cmd_availability(args):
    settings = calendar_settings(args)
    today = datetime.datetime.now(cal.JST).date()
    first, after = cal.period(args.year, args.fiscal)
    if first > today:
        raise incidents.RecordError(f"{'fiscal ' if args.fiscal else ''}year {args.year} has not started yet")
    records_ = incidents.load(incidents_dir(args))
    downtimes, still_open = incidents.outages(records_, datetime.datetime.now(cal.JST), args.include_planned)
    planned = [] if args.include_planned else planned_windows(args, records_)
    probes = probe_downtimes(args, first, after) if args.probes else None
    if probes:
        probes["intervals"] = cal.subtract(probes["intervals"], planned)
        downtimes += probes["intervals"]
    result = cal.availability(
        args.year, downtimes, args.fiscal, settings["hours"], settings["extra_closed"], settings["target"]
    )
    title = f"稼働率 ({'年度' if args.fiscal else '暦年'} {args.year}: {result['period']}, {args.inventory})"
    lines = [("開庁日数", f"{result['office_days']} 日"), ("開庁時間", f"{result['office_minutes']} 分")]
    if probes:
        office = sum(
            cal.split_downtime(s, e, settings["hours"], settings["extra_closed"])[0] for s, e in probes["intervals"]
        )
        lines += [
            ("監視データのある時間", f"{probes['hours_with_data']} / {probes['period_hours']} 時間 (1 時間単位)"),
            (
                "受信プローブ失敗",
                f"{probes['failed_minutes']} 分 (計画保守中を除くと開庁時間内 {round(office, 1)} 分; "
                "障害管理表と重なる時間は一度だけ数える)",
            ),
        ]
    lines += [
        ("計画保守", "含める" if args.include_planned else f"除外 ({len(planned)} 件の作業・計画停止)"),
        (
            "停止時間 (開庁時間内)",
            f"{result['downtime_minutes']} 分 / 許容 {result['allowed_minutes']} 分 "
            f"(目標 {result['target_percent']} %)",
        ),
        ("稼働率", f"{result['availability_percent']} %  {'達成' if result['met'] else '未達'}"),
    ]
    if still_open:
        lines.append(("停止終了時刻のない障害 (作成時点まで停止として算出)", ", ".join(still_open)))
    print(title)
    for label, value in lines:
        print(f"  {label} {value}")
    # kept as a record of the inventory (Markdown and xlsx), one per period
    folder = records_dir_of(args, "availability")
    base = os.path.join(folder, f"稼働率_{'年度' if args.fiscal else '暦年'}{args.year}")
    output.write_text(
        base + ".md",
        f"# {title}\n\n{output.markdown_table(['項目', '値'], lines)}\n\n"
        f"作成 {datetime.datetime.now(cal.JST):%Y-%m-%d %H:%M} (bin/anshin report availability)\n",
    )
    output.write_xlsx(base + ".xlsx", "稼働率", ["項目", "値"], [list(row) for row in lines], title)
    print(f"  記録: {base}.md, {base}.xlsx")
    return 0


def site_access_counts(args, inv, collect):
    """The public site's counts of the month from the CMS web servers' IIS logs (collected first unless
    --no-collect), or None when the inventory names no CMS server and nothing was collected. A failed
    collection is said on stderr and the report lists the days without a log (count_month's missing)."""
    settings = inventory.site_access(inv)  # checked before anything runs
    hosts = inv["groups"].get("cms_windows", [])
    if collect and hosts:
        # every CMS server, whatever --limit says of the VMs: a limit naming a VM would collect nothing
        rc, entry = runner.run_job(
            "collect_iis_logs", args.inventory, None, extra_vars=[f"iis_logs_month={args.month}"]
        )
        if rc != 0:
            print(
                f"anshin: collecting the IIS logs failed ({entry['result']}; see {entry['artifacts']}): "
                "the report lists the days without a log",
                file=sys.stderr,
            )
    root = records.collected_dir(args.inventory, "iis-logs")
    if not hosts and not os.path.isdir(root):
        return None
    return access_counts.count_month(
        root,
        args.month,
        settings["prefix"],
        settings["exclude_networks"],
        settings["exclude_agents"],
        hosts=hosts,
    )


def cmd_monthly(args):
    monthly.check_month(args.month)  # before anything runs or is written
    inv = inventory.load(args.inventory)
    inventory.site_access(inv)
    # where the playbook writes them: the inventory's records (anshin_records_dir)
    out_dir = os.path.join(records.records_dir(args.inventory, "monthly"), args.month)
    if not args.no_collect:
        rc, entry = runner.run_job(
            "monthly_usage", args.inventory, args.limit, extra_vars=[f"monthly_usage_month={args.month}"]
        )
        if rc != 0:
            raise incidents.RecordError(f"collecting the counts failed ({entry['result']}); see {entry['artifacts']}")
    counts = (
        sorted(n for n in os.listdir(out_dir) if n.startswith("usage-") and n.endswith(".json"))
        if os.path.isdir(out_dir)
        else []
    )
    if not counts:
        raise incidents.RecordError(f"no counts in {out_dir} (run without --no-collect)")
    site = site_access_counts(args, inv, collect=not args.no_collect)
    for name in counts:
        for path in monthly.render(os.path.join(out_dir, name), out_dir, site_access=site):
            print(path)
    return 0


def prometheus_answers(args, job, extra_vars, relative_path, without):
    """Run JOB (a playbook that asks Prometheus on the monitoring host and writes RELATIVE_PATH under the
    inventory's records) and read what it wrote; None when it could not be asked, said on stderr with
    WITHOUT: what the report does instead."""
    rc, entry = runner.run_job(job, args.inventory, extra_vars=[f"{k}={v}" for k, v in extra_vars.items()])
    path = os.path.join(records.records_dir(args.inventory), relative_path)
    if rc != 0 or not os.path.exists(path):
        print(
            f"anshin: 監視データを取得できませんでした ({entry['result']}, {entry['artifacts']}); {without}",
            file=sys.stderr,
        )
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except ValueError as exc:
        raise incidents.RecordError(f"{path}: not JSON ({exc})") from exc


def operations_history(args, month):
    """What Prometheus saw of the month (playbooks/operations_history.yml), or None when it could not be asked:
    the report then says so in each section that needs it."""
    # a running month: up to this second (an audit of the last minute is in it)
    end = min(month.end, int(datetime.datetime.now(cal.JST).timestamp()))
    return prometheus_answers(
        args,
        "operations_history",
        {"monitoring_server_operations_start": month.start, "monitoring_server_operations_end": end},
        os.path.join("monthly", f"operations_history_{month.name}.json"),
        "監視データの項目はその旨を記載します",
    )


def cmd_operations(args):
    today = datetime.datetime.now(cal.JST).date()
    month = operations.Month(args.month, today)  # refused before anything runs
    inv = inventory.load(args.inventory)
    settings = inventory.office_calendar(inv)
    inventory.site_access(inv)
    history = None if args.no_collect else operations_history(args, month)
    out_dir = os.path.join(records.records_dir(args.inventory, "monthly"), args.month)
    # the counts of the VM in service (group lalert) when the standby's were drawn too
    primary = {os.path.join(out_dir, f"usage-{host}.json") for host in inv["groups"].get("lalert", [])}
    counts = sorted(glob.glob(os.path.join(out_dir, "usage-*.json")), key=lambda p: (p not in primary, p))
    usage = monthly.load_counts(counts[0]) if counts else None
    site = site_access_counts(args, inv, collect=False) if usage is not None else None
    tables, extra = operations.build(month, records.records_dir(args.inventory), settings, history, usage, site, today)
    for path in operations.render(month, inv["name"], tables, extra, usage, site, out_dir, today):
        print(path)
    return 0


def cmd_docs(args):
    written, problems = docs.generate(args.inventory, args.out)
    for path in written:
        print(path)
    for problem in problems:
        print(f"要確認: {problem}", file=sys.stderr)
    return 0


def parser():
    p = argparse.ArgumentParser(
        prog="anshin", description=__doc__.split("\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--records", help="incident records directory (default: the inventory's records, incidents/)")
    sub = p.add_subparsers(dest="command", required=True)

    def with_inventory(cmd):
        cmd.add_argument(
            "--inventory",
            "-i",
            default=inventory.DEFAULT,
            help="inventory name under inventories/ or a path (default %(default)s)",
        )
        return cmd

    run = with_inventory(sub.add_parser("run", help="run a maintenance job (playbook) through ansible-runner"))
    run.add_argument("job", nargs="?")
    run.add_argument("--list", action="store_true", help="list the jobs")
    run.add_argument("--limit", "-l")
    run.add_argument("--check", "-C", action="store_true", help="check mode (--check --diff)")
    run.add_argument("-e", dest="extra_vars", action="append", metavar="NAME=VALUE")
    run.add_argument(
        "--approval",
        metavar="TEXT",
        help="the prefecture's approval reference (承認番号・日付): required for a changing job on "
        "staging and production, recorded in the 保守作業記録",
    )
    log = with_inventory(sub.add_parser("log", help="保守作業記録: the maintenance log"))
    log.add_argument("--last", type=int, default=20)

    inc = sub.add_parser("incident", help="障害管理表: incident records").add_subparsers(dest="action", required=True)
    new = with_inventory(inc.add_parser("new"))
    new.add_argument("--occurred", required=True)
    new.add_argument("--detected")
    new.add_argument("--detection", default="監視アラート")
    new.add_argument("--target", required=True)
    new.add_argument("--category", default="障害")
    new.add_argument("--severity", default="中", choices=incidents.SEVERITIES)
    new.add_argument("--summary", required=True)
    new.add_argument("--impact")
    new.add_argument("--down-start", dest="down_start")
    new.add_argument("--down-end", dest="down_end")
    new.add_argument("--handler")
    for action in ("update", "close"):
        cmd = with_inventory(inc.add_parser(action))
        cmd.add_argument("id")
        cmd.add_argument("--set", action="append", metavar="FIELD=VALUE")
        if action == "close":
            for field in ("recovered", "cause", "remedy", "prevention"):
                cmd.add_argument(f"--{field}")
            cmd.add_argument(
                "--reported",
                dest="reported_to_pref",
                metavar="TIME",
                help="when it was reported to the prefecture (県への報告日時, 8(1)イ): required",
            )
    with_inventory(inc.add_parser("list"))
    export = with_inventory(inc.add_parser("export"))
    export.add_argument("--xlsx")
    export.add_argument("--markdown")

    inq = sub.add_parser("inquiry", help="問合せ記録: the inquiry register").add_subparsers(
        dest="action", required=True
    )
    inq_new = with_inventory(inq.add_parser("new"))
    inq_new.add_argument("--received", required=True, help="when it came in (2026-11-30T10:05)")
    inq_new.add_argument("--from", dest="requester", required=True, help="who asked (所属・氏名)")
    inq_new.add_argument("--channel", required=True, choices=inquiries.CHANNELS)
    inq_new.add_argument("--subject", required=True)
    inq_new.add_argument("--handler")
    inq_answer = with_inventory(inq.add_parser("answer"))
    inq_answer.add_argument("id")
    inq_answer.add_argument("--answered", required=True)
    inq_answer.add_argument("--answer", required=True)
    with_inventory(inq.add_parser("list"))
    inq_export = with_inventory(inq.add_parser("export"))
    inq_export.add_argument("--xlsx")
    inq_export.add_argument("--markdown")
    mins = sub.add_parser("minutes", help="打合せ議事録").add_subparsers(dest="action", required=True)
    mins_new = with_inventory(mins.add_parser("new", help="a dated minutes file from the template, in the records"))
    mins_new.add_argument("--date", required=True)
    mins_new.add_argument("--title", default="定例会")

    rep = sub.add_parser("report", help="稼働率, 月次報告書, 運用報告書").add_subparsers(dest="report", required=True)
    avail = with_inventory(rep.add_parser("availability", help="稼働率 over office hours"))
    avail.add_argument("year", type=int)
    avail.add_argument("--fiscal", action="store_true")
    avail.add_argument("--include-planned", action="store_true", help="count planned maintenance as downtime")
    avail.add_argument("--probes", action="store_true", help="add the receiver probe's failed minutes from Prometheus")
    month = with_inventory(rep.add_parser("monthly", help="月次報告書: accesses, posts, registered data"))
    month.add_argument("month", help="YYYY-MM")
    month.add_argument("--limit", "-l")
    month.add_argument("--no-collect", action="store_true", help="draw from counts collected earlier")

    ops = with_inventory(rep.add_parser("operations", help="運用報告書: the month's operations in one document"))
    ops.add_argument("month", help="YYYY-MM")
    ops.add_argument("--no-collect", action="store_true", help="do not ask Prometheus (its sections say so)")

    doc = with_inventory(sub.add_parser("docs", help="運用保守体制表, 緊急連絡窓口一覧表, 議事録テンプレート, 引継書"))
    doc.add_argument("--out", help="directory (default: the inventory's records, docs/)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    commands = {
        "run": cmd_run,
        "log": cmd_log,
        "incident": cmd_incident,
        "docs": cmd_docs,
        "inquiry": cmd_inquiry,
        "minutes": cmd_minutes,
    }
    try:
        if args.command == "report":
            reports = {"monthly": cmd_monthly, "availability": cmd_availability, "operations": cmd_operations}
            return reports[args.report](args)
        return commands[args.command](args)
    except (incidents.RecordError, OSError, yaml.YAMLError) as exc:
        print(f"anshin: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
