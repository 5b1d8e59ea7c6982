"""月次報告書: the monthly usage report (clause 9(1)ウエ): an HTML page with PNG charts
(templates/monthly.html.j2) and an xlsx workbook with the same tables (_tables, one definition for both).

Its figures come from two places:

- the public site (公開サイト, the /anshin/ subsite on the prefecture's CMS servers): access_counts.count_month's
  result over the collected IIS logs, given to render() as site_access. These sections come first. A month
  without those logs says so instead of showing zeros, and the days without a log file are listed and marked
  in the daily table (the figures of those days are short).
- the L-Alert VM: playbooks/monthly_usage.yml's counts (library/anshin_monthly_usage.py): the requests its
  nginx answered (/lalert/publish, /healthz, /metrics: mostly our own monitoring, so titled 参考 and never
  called site visits), the messages received and published, the registered data.

Headings, labels and chart texts are Japanese. The charts are drawn in FONT_FAMILY (Debian's fonts-noto-cjk,
installed by bin/bootstrap); without it the report is refused (RecordError) rather than drawn with boxes.

Files are drawn in a scratch directory and moved into place only when all of them exist (output.drawing).
"""

import contextlib
import datetime
import json
import os
from typing import NamedTuple

from anshin_ops import access_counts, incidents, office_calendar as cal, output

CLASSES = ("2xx", "3xx", "4xx", "5xx")
POST_COLUMNS = [
    ("category", "分類"),
    ("received", "受信件数"),
    ("published", "公開件数"),
    ("exercise_or_test", "訓練・試験"),
    ("cancels", "取消"),
]
FONT_FAMILY = "Noto Sans CJK JP"
FONT_PACKAGE = "fonts-noto-cjk"

SITE_CLASSES = {
    "1xx": "1xx (情報)",
    "2xx": "2xx (成功)",
    "3xx": "3xx (リダイレクト・未更新)",
    "4xx": "4xx (クライアントエラー)",
    "5xx": "5xx (サーバエラー)",
}
BAD_REASONS_JA = {
    "no_fields": "#Fields 行より前のデータ",
    "misfit": "#Fields に合わない行 (値の数・日付・時刻・応答コード)",
    "no_column": "#Fields に c-ip か cs-uri-stem がない",
    "not_an_address": "c-ip が IP アドレスでない",
    "truncated": "途中で切れたファイル末尾の行",
}
NO_SITE_LOGS = (
    "公開サイトのアクセスログがありません (CMS サーバの IIS ログが集計されていません)。"
    "bin/anshin report monthly {month} を --no-collect なしで実行してログを収集してください。"
    "--no-collect なしで実行してこの表示になった場合は、ログの収集に失敗しています: "
    "実行時の出力と実行記録を確認してください。"
)
NO_LOG = "ログなし"

# headings, shared by the tables, the charts placed under them and the tests
H_SITE = "公開サイト アクセス件数"
H_MISSING = "欠落しているログ (公開サイト)"
H_SITE_DAY = "公開サイト アクセス件数 (日別)"
H_SITE_PAGE = "ページ別閲覧数 (上位)"
H_SITE_STATUS = "応答コード別件数 (公開サイト)"
H_EXCLUDED = "除外した要求 (監視・ヘルスチェック)"
H_BAD = "読めなかった行 (公開サイトのログ)"
H_VM_DAY = "L-Alert連携サーバへの要求件数 (日別, 監視・ヘルスチェックを含む, 参考)"
H_VM_PAGE = "L-Alert連携サーバへの要求件数 (パス別, 参考)"
H_VM_STATUS = "L-Alert連携サーバへの要求のステータス区分別件数 (参考)"
H_POSTS = "電文受信件数 (分類別)"
H_REGISTERED = "登録データ件数 (月末時点, 分類・状態別)"
H_CURRENT = "公開中の情報 (月末時点, 分類別)"


class Table(NamedTuple):
    """One section of the report: the page's <h2> and table, the workbook's sheet (SHEET: at most 31
    characters). HEADER None: a section of notes only. CHART: the key of draw_charts' file shown with it."""

    heading: str
    sheet: str
    header: list | None
    rows: list
    notes: tuple | list = ()
    chart: str | None = None


def check_month(month, today=None):
    """'YYYY-MM' of a month that has started; RecordError otherwise. Returns (year, month, finished)."""
    try:
        first = datetime.datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise incidents.RecordError(f"month: {month!r} is not YYYY-MM") from None
    today = today or datetime.datetime.now(cal.JST).date()
    if first > today:
        raise incidents.RecordError(f"month {month} has not started yet (today is {today})")
    finished = (first.year, first.month) < (today.year, today.month)
    return first.year, first.month, finished


def load_counts(path):
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise incidents.RecordError(f"{path}: not JSON ({exc})") from exc
    for key in ("month", "access", "posts", "registered"):
        if key not in data:
            raise incidents.RecordError(f"{path}: no {key!r} (not written by playbooks/monthly_usage.yml)")
    return data


def japanese_font():
    """The file of FONT_FAMILY as matplotlib finds it; RecordError naming the package when it is not there.

    matplotlib keeps its list of the system's fonts in a cache made when it first ran: a font installed later
    (bin/bootstrap on a controller that had drawn charts before) is added from the system's font files.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    if not any(f.name == FONT_FAMILY for f in manager.ttflist):
        known = {f.fname for f in manager.ttflist}
        for candidate in font_manager.findSystemFonts():
            if candidate not in known:
                # a damaged or unsupported font file is not ours to fix
                with contextlib.suppress(OSError, RuntimeError, ValueError):
                    manager.addfont(candidate)
    if not any(f.name == FONT_FAMILY for f in manager.ttflist):
        raise incidents.RecordError(
            f"no Japanese font for the report's charts: {FONT_FAMILY} is not installed "
            f"(Debian package {FONT_PACKAGE}; bin/bootstrap installs it)"
        )
    return manager.findfont(font_manager.FontProperties(family=FONT_FAMILY), fallback_to_default=False)


def _site_days(site_access, today):
    """The rows of site_access's by_day that the report shows: every JST day of the month up to TODAY."""
    return [d for d in site_access["by_day"] if d["day"] <= today.isoformat()]


def _gaps(missing):
    """{JST day: remark} of the days whose figures lack a log file. IIS's files are UTC days: the file of UTC
    day D holds JST D 9:00 to D+1 9:00, so a missing file shortens two JST days."""
    parts = {}
    for gap in missing:
        label = f"{gap['host']} {gap['site']}" if gap["site"] else f"{gap['host']} (全サイト)"
        for utc in gap["days"]:
            day = datetime.date.fromisoformat(utc)
            parts.setdefault(day.isoformat(), {}).setdefault(label, set()).add("late")
            parts.setdefault((day + datetime.timedelta(days=1)).isoformat(), {}).setdefault(label, set()).add("early")
    hours = {frozenset({"early", "late"}): "終日", frozenset({"early"}): "0時〜9時", frozenset({"late"}): "9時〜24時"}
    return {
        day: f"{NO_LOG}: " + ", ".join(f"{label} ({hours[frozenset(p)]})" for label, p in sorted(labels.items()))
        for day, labels in parts.items()
    }


def _day_ranges(days):
    """'2026-11-02〜2026-11-29, 2026-11-30'-like text of sorted ISO days."""
    runs = []
    for text in days:
        day = datetime.date.fromisoformat(text)
        if runs and runs[-1][1] + datetime.timedelta(days=1) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return ", ".join(a.isoformat() if a == b else f"{a.isoformat()}〜{b.isoformat()}" for a, b in runs)


def _check_site(month, site_access):
    """True when SITE_ACCESS has counts to show: a file read or a file missing (no logs at all: False);
    RecordError when they are of another month."""
    if site_access is None or not (site_access["files"] or site_access["missing"]):
        return False
    if site_access.get("month") != month:
        raise incidents.RecordError(f"the public site's counts are of {site_access.get('month')}, not of {month}")
    return True


def _site_tables(month, site_access, today):
    """The public site's sections, first in the report; exactly site_access's figures."""
    no_logs = Table(H_SITE, "公開サイトアクセス", None, [], [NO_SITE_LOGS.format(month=month)])
    if not _check_site(month, site_access):
        return [no_logs]
    tables = []
    missing = site_access["missing"]
    if missing:
        tables.append(
            Table(
                H_MISSING,
                "欠落しているログ",
                ["サーバ", "サイト", "日数", "ログのない日 (UTC の日付)"],
                [[m["host"], m["site"] or "(全サイト)", len(m["days"]), _day_ranges(m["days"])] for m in missing],
                [
                    "これらの日のログファイルがないため、該当する日の件数は実際より少なくなっています"
                    "(日別の表の備考欄に「ログなし」と示します)。",
                    "IIS のログファイルは UTC の日付ごとです: 例えば 11-02 のファイルは日本時間 11月2日 9時から"
                    " 11月3日 9時までを記録しています。",
                    f"サーバにログが残っていれば、bin/anshin report monthly {month} を --no-collect なしで"
                    "実行すると収集し直します。",
                ],
            )
        )
    if not site_access["files"]:  # servers named, nothing collected (a failed collection): no table of zeros
        return tables + [no_logs]
    gaps = _gaps(missing)
    days = _site_days(site_access, today)
    tables.append(
        Table(
            H_SITE_DAY,
            "公開サイト日別",
            ["日付", "リクエスト数", "ページビュー", "訪問者数", "備考"],
            [[d["day"], d["requests"], d["page_views"], d["visitors"], gaps.get(d["day"], "")] for d in days]
            + [["合計", site_access["requests"], site_access["page_views"], site_access["visitors"], ""]],
            [
                f"{site_access['prefix'] or '/'} 配下への要求を、CMS サーバ (IIS) のアクセスログから数えました"
                "(日付は日本時間、監視・ヘルスチェックの要求は除外)。",
                "ページビュー: ページ (画像・スタイルシート・スクリプト等を除く) への要求のうち、"
                "表示されたもの (応答コード 200 または 304)。",
                "訪問者数: 同じ日に同じアドレス・同じブラウザ (User-Agent) からの要求を 1 人と数えます。"
                "合計欄の訪問者数は日ごとの訪問者数の和 (延べ人数) で、複数の日に訪れた人はその日数分数えています。",
            ],
            "site_by_day",
        )
    )
    pages = site_access["top_pages"]
    notes = ["ページビューの多い順。ページのパスは小文字にそろえ、? 以降 (クエリ文字列) を除いています。"]
    if pages and pages[-1]["page"] == access_counts.OTHERS:
        notes.append(f"上位 {len(pages) - 1} ページ以外は「{access_counts.OTHERS}」にまとめています。")
    if not pages:
        notes.append("この月のページビューはありません。")
    tables.append(
        Table(
            H_SITE_PAGE,
            "ページ別閲覧数",
            ["ページ", "ページビュー"],
            [[p["page"], p["page_views"]] for p in pages],
            notes,
        )
    )
    status = site_access["by_status"]
    tables.append(
        Table(
            H_SITE_STATUS,
            "公開サイト応答コード",
            ["応答コード", "リクエスト数"],
            [[SITE_CLASSES.get(c, c), n] for c, n in status.items()] + [["合計", site_access["requests"]]],
        )
    )
    excluded = site_access["excluded"]
    tables.append(
        Table(
            H_EXCLUDED,
            "除外した要求",
            ["除外の規則", "リクエスト数"],
            [[_rule(rule), n] for rule, n in excluded["by_rule"].items()] + [["合計", excluded["requests"]]],
            ["当方の監視・死活確認の要求で、上の件数には含めていません (送信元アドレスか User-Agent で判定)。"],
        )
    )
    bad = site_access["bad_lines"]
    broken = [f for f in site_access["files"] if f.get("error")]
    undecodable = site_access.get("undecodable_lines", 0)
    if bad["count"] or broken or undecodable:
        reasons = {access_counts.BAD_REASONS[k]: ja for k, ja in BAD_REASONS_JA.items()}
        notes = ["これらの行は件数に含めていません。"]
        notes += [
            # named by server, site and file: the controller's own folders stay out of the record
            f"最後まで読めなかったファイル: {f['host']} {f['site']} {os.path.basename(f['path'])} ({f['error']})。"
            "読めたところまでを数えています。"
            for f in broken
        ]
        if undecodable:
            notes.append(f"UTF-8 として読めない文字を含む行: {undecodable} 行 (文字を置き換えて数えています)。")
        tables.append(
            Table(
                H_BAD,
                "読めなかった行",
                ["理由", "行数"],
                [[reasons.get(r, r), n] for r, n in bad["by_reason"].items()] + [["合計", bad["count"]]],
                notes,
            )
        )
    return tables


def _rule(rule):
    kind, _, value = rule.partition(" ")
    return {"network": f"送信元アドレス {value}", "agent": f"User-Agent {value}"}.get(kind, rule)


def section_tables(data, site_access=None, today=None):
    """[Table] shared by the HTML page and the workbook: the public site's sections, then the VM's (the
    運用報告書, operations.py, shows the same sections)."""
    today = today or datetime.datetime.now(cal.JST).date()
    access = data["access"]
    reg = data["registered"]
    vm_note = [
        "L-Alert連携サーバ (nginx) が受けた要求 (/lalert/publish、/healthz、/metrics) の件数で、大半は当方の"
        "監視・ヘルスチェックです。公開サイトの閲覧数ではありません (公開サイトは上の表)。"
    ]
    return _site_tables(data["month"], site_access, today) + [
        Table(
            H_VM_DAY,
            "連携サーバ日別要求(参考)",
            ["日付", "件数"] + list(CLASSES),
            [[d["day"], d["requests"]] + [d[c] for c in CLASSES] for d in access["by_day"]]
            + [["合計", access["total"]] + [access["by_status"][c] for c in CLASSES]],
            vm_note,
            "access_by_day",
        ),
        Table(
            H_VM_PAGE,
            "連携サーバパス別要求(参考)",
            ["パス", "件数"],
            [[p["page"], p["requests"]] for p in access["by_page"]],
            chart="access_by_page",
        ),
        Table(
            H_VM_STATUS,
            "連携サーバステータス区分(参考)",
            ["区分", "件数"],
            [[c, access["by_status"][c]] for c in CLASSES],
        ),
        Table(
            H_POSTS,
            "電文受信件数",
            [t for _, t in POST_COLUMNS],
            [[p[k] for k, _ in POST_COLUMNS] for p in data["posts"]]
            + [["合計"] + [sum(p[k] for p in data["posts"]) for k, _ in POST_COLUMNS[1:]]],
            chart="posts",
        ),
        Table(
            H_REGISTERED,
            "登録データ件数",
            ["分類", "状態", "件数"],
            [[r["category"], r["status"], r["rows"]] for r in reg["by_category_status"]],
        ),
        Table(
            H_CURRENT,
            "公開中の情報",
            ["分類", "件数"],
            [[r["category"], r["documents"]] for r in reg["current_real"]],
        ),
    ]


def save_chart(fig, directory, name, files, key):
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:  # counts: whole numbers on the count axis (a percentage or a name axis is left as it is)
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            if label == "件数":
                axis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    files[key] = name
    fig.savefig(os.path.join(directory, name), dpi=100)


def draw_charts(data, directory, prefix, font, site_access=None, today=None):
    """The PNG charts in DIRECTORY, drawn in FONT (japanese_font()); {key: file name}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ft2font

    glyphs = ft2font.FT2Font(font).get_charmap()
    today = today or datetime.datetime.now(cal.JST).date()
    files = {}
    with matplotlib.rc_context({"font.family": [FONT_FAMILY], "axes.unicode_minus": False}):
        if _check_site(data["month"], site_access) and site_access["files"]:
            days = _site_days(site_access, today)
            gaps = _gaps(site_access["missing"])
            fig, ax = plt.subplots(figsize=(10, 3.5))
            x = range(len(days))
            shaded = [i for i, d in enumerate(days) if d["day"] in gaps]
            for i in shaded:  # the days short of a log file, one legend entry for all
                ax.axvspan(i - 0.5, i + 0.5, color="0.88", label=NO_LOG if i == shaded[0] else None)
            ax.bar([i - 0.2 for i in x], [d["page_views"] for d in days], width=0.4, label="ページビュー")
            ax.bar([i + 0.2 for i in x], [d["visitors"] for d in days], width=0.4, label="訪問者数")
            ax.set_xticks(list(x), [d["day"][-2:] for d in days])
            ax.set_title(f"公開サイトの日別ページビュー・訪問者数 ({data['month']}, 日本時間)")
            ax.set_xlabel("日")
            ax.set_ylabel("件数")
            ax.legend(loc="upper right", fontsize="small")
            save_chart(fig, directory, f"{prefix}site_by_day.png", files, "site_by_day")
            plt.close(fig)

        days = data["access"]["by_day"]
        fig, ax = plt.subplots(figsize=(10, 3.5))
        bottom = [0] * len(days)
        for cls in CLASSES:
            values = [d[cls] for d in days]
            ax.bar([d["day"][-2:] for d in days], values, bottom=bottom, label=cls)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_title(f"L-Alert連携サーバへの日別要求件数 ({data['month']}, 日本時間, 監視を含む, 参考)")
        ax.set_xlabel("日")
        ax.set_ylabel("件数")
        ax.legend(loc="upper right", fontsize="small")
        save_chart(fig, directory, f"{prefix}access_by_day.png", files, "access_by_day")
        plt.close(fig)

        pages = data["access"]["by_page"][:15]
        fig, ax = plt.subplots(figsize=(10, 0.4 * max(len(pages), 3) + 1))
        ax.barh(
            # a character the font lacks (anyone's request) is shown as ?, never as a box
            ["".join(c if ord(c) in glyphs else "?" for c in p["page"]) for p in reversed(pages)],
            [p["requests"] for p in reversed(pages)],
        )
        ax.set_title("L-Alert連携サーバへのパス別要求件数 (参考)")
        ax.set_xlabel("件数")
        save_chart(fig, directory, f"{prefix}access_by_page.png", files, "access_by_page")
        plt.close(fig)

        posts = data["posts"]
        fig, ax = plt.subplots(figsize=(10, 3.5))
        names = [p["category"] for p in posts]
        ax.bar([i - 0.2 for i in range(len(posts))], [p["received"] for p in posts], width=0.4, label="受信")
        ax.bar([i + 0.2 for i in range(len(posts))], [p["published"] for p in posts], width=0.4, label="公開")
        ax.set_xticks(range(len(posts)), names, rotation=20, ha="right")
        ax.set_title("分類別電文件数")
        ax.set_ylabel("件数")
        ax.legend(fontsize="small")
        save_chart(fig, directory, f"{prefix}posts_by_category.png", files, "posts")
        plt.close(fig)
    return files


def _html(data, host, charts, finished, site_access=None, today=None):
    """The page, from templates/monthly.html.j2 (Jinja2, every value escaped)."""
    return output.render_html(
        "monthly.html.j2",
        title=f"月次報告書 {data['month']} ({host})",
        finished=finished,
        created=f"{cal.now_jst():%Y-%m-%d %H:%M}",
        unparsable=data["access"]["unparsable"],
        tables=[
            (t.heading, t.header, t.rows, t.notes, charts.get(t.chart))
            for t in section_tables(data, site_access, today)
        ],
    )


XLSX_CHARTS = {  # sheet: (title, first and last data column, stacked)
    "公開サイト日別": ("公開サイトの日別ページビュー・訪問者数", 3, 4, False),
    "連携サーバ日別要求(参考)": ("L-Alert連携サーバへの日別要求件数 (参考)", 3, 6, True),
}


def tables_xlsx(tables, path):
    """[Table] as a workbook, a sheet each (a bar chart on the sheets of XLSX_CHARTS), written whole."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(table.sheet)
        sheet.append([table.heading])
        sheet["A1"].font = Font(bold=True, size=12)
        if table.header is not None:
            sheet.append(table.header)
            for cell in sheet[2]:
                cell.font = Font(bold=True)
            for row in table.rows:
                sheet.append(row)
                for cell in sheet[sheet.max_row]:  # anyone's text (a path, a summary) is never a formula
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        cell.data_type = "s"
        if table.notes and table.header is not None:
            sheet.append([])
        for note in table.notes:
            sheet.append([note])
        sheet.column_dimensions["A"].width = 28
        for column in sheet.iter_cols(min_col=2, min_row=2, max_row=2 + len(table.rows)):
            width = max(len(str(c.value or "")) for c in column) * 2 + 2
            sheet.column_dimensions[column[0].column_letter].width = min(max(width, 10), 80)
        if table.sheet in XLSX_CHARTS:
            title, first, last, stacked = XLSX_CHARTS[table.sheet]
            days = len(table.rows) - 1  # the last row is 合計
            chart = BarChart()
            chart.type = "col"
            if stacked:
                chart.grouping, chart.overlap = "stacked", 100
            chart.title = title
            chart.add_data(
                Reference(sheet, min_col=first, max_col=last, min_row=2, max_row=2 + days), titles_from_data=True
            )
            chart.set_categories(Reference(sheet, min_col=1, min_row=3, max_row=2 + days))
            chart.width, chart.height = 24, 8
            sheet.add_chart(chart, f"{get_column_letter(len(table.header) + 2)}2")
    output.save_workbook(book, path)


def render(counts_path, out_dir, today=None, site_access=None):
    """Draw the report of one host's counts, with the public site's counts of the same month (SITE_ACCESS:
    access_counts.count_month's result; None when there are no IIS logs); returns the files written."""
    data = load_counts(counts_path)
    today = today or datetime.datetime.now(cal.JST).date()
    _, _, finished = check_month(data["month"], today)
    host = data.get("host") or os.path.basename(counts_path)[len("usage-") : -len(".json")]
    _check_site(data["month"], site_access)  # refused before anything is written
    font = japanese_font()
    with output.drawing(out_dir) as (scratch, written):
        # chart names carry the host: two hosts' reports share the month's directory
        charts = draw_charts(data, scratch, f"{host}_", font, site_access, today)
        stem = f"月次報告書_{data['month']}_{host}"
        output.write_text(
            os.path.join(scratch, stem + ".html"), _html(data, host, charts, finished, site_access, today)
        )
        tables_xlsx(section_tables(data, site_access, today), os.path.join(scratch, stem + ".xlsx"))
    return written
