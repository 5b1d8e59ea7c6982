"""月次報告書: the monthly usage report (clause 9(1)ウエ) drawn from the counts of
playbooks/monthly_usage.yml (library/anshin_monthly_usage.py): an HTML page with PNG charts
(templates/monthly.html.j2) and an xlsx workbook with the same tables. Headings are Japanese; chart labels stay
ASCII (the controller has no Japanese font, and a chart of empty boxes helps nobody).

Files are drawn in a scratch directory and moved into place only when all of them exist (output.drawing).
"""

import datetime
import json
import os

from anshin_ops import incidents, office_calendar as cal, output

CLASSES = ("2xx", "3xx", "4xx", "5xx")
POST_COLUMNS = [
    ("category", "分類"),
    ("received", "受信件数"),
    ("published", "公開件数"),
    ("exercise_or_test", "訓練・試験"),
    ("cancels", "取消"),
]


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


def _charts(data, directory, prefix):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    days = data["access"]["by_day"]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    bottom = [0] * len(days)
    for cls in CLASSES:
        values = [d[cls] for d in days]
        ax.bar([d["day"][-2:] for d in days], values, bottom=bottom, label=cls)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(f"Requests per day ({data['month']}, JST)")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    files["access_by_day"] = f"{prefix}access_by_day.png"
    fig.savefig(os.path.join(directory, files["access_by_day"]), dpi=100)
    plt.close(fig)

    pages = data["access"]["by_page"][:15]
    fig, ax = plt.subplots(figsize=(10, 0.4 * max(len(pages), 3) + 1))
    ax.barh(
        [p["page"] if p["page"].isascii() else "(other)" for p in reversed(pages)],
        [p["requests"] for p in reversed(pages)],
    )
    ax.set_title("Requests per page")
    fig.tight_layout()
    files["access_by_page"] = f"{prefix}access_by_page.png"
    fig.savefig(os.path.join(directory, files["access_by_page"]), dpi=100)
    plt.close(fig)

    posts = data["posts"]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    names = [p["category"] for p in posts]
    ax.bar([i - 0.2 for i in range(len(posts))], [p["received"] for p in posts], width=0.4, label="received")
    ax.bar([i + 0.2 for i in range(len(posts))], [p["published"] for p in posts], width=0.4, label="published")
    ax.set_xticks(range(len(posts)), names, rotation=20, ha="right")
    ax.set_title("L-Alert messages per category")
    ax.legend(fontsize="small")
    fig.tight_layout()
    files["posts"] = f"{prefix}posts_by_category.png"
    fig.savefig(os.path.join(directory, files["posts"]), dpi=100)
    plt.close(fig)
    return files


SHEETS = {
    "アクセス件数 (日別)": "日別アクセス",
    "アクセス件数 (ページ別)": "ページ別アクセス",
    "ステータス区分別件数": "ステータス区分",
    "電文受信件数 (分類別)": "電文受信件数",
    "登録データ件数 (月末時点, 分類・状態別)": "登録データ件数",
    "公開中の情報 (月末時点, 分類別)": "公開中の情報",
}


def _tables(data):
    """[(heading, header, rows)] shared by the HTML page and the workbook (sheet names: SHEETS)."""
    access = data["access"]
    reg = data["registered"]
    return [
        (
            "アクセス件数 (日別)",
            ["日付", "件数"] + list(CLASSES),
            [[d["day"], d["requests"]] + [d[c] for c in CLASSES] for d in access["by_day"]]
            + [["合計", access["total"]] + [access["by_status"][c] for c in CLASSES]],
        ),
        ("アクセス件数 (ページ別)", ["ページ", "件数"], [[p["page"], p["requests"]] for p in access["by_page"]]),
        ("ステータス区分別件数", ["区分", "件数"], [[c, access["by_status"][c]] for c in CLASSES]),
        (
            "電文受信件数 (分類別)",
            [t for _, t in POST_COLUMNS],
            [[p[k] for k, _ in POST_COLUMNS] for p in data["posts"]]
            + [["合計"] + [sum(p[k] for p in data["posts"]) for k, _ in POST_COLUMNS[1:]]],
        ),
        (
            "登録データ件数 (月末時点, 分類・状態別)",
            ["分類", "状態", "件数"],
            [[r["category"], r["status"], r["rows"]] for r in reg["by_category_status"]],
        ),
        (
            "公開中の情報 (月末時点, 分類別)",
            ["分類", "件数"],
            [[r["category"], r["documents"]] for r in reg["current_real"]],
        ),
    ]


def _html(data, host, charts, finished):
    """The page, from templates/monthly.html.j2 (Jinja2, every value escaped)."""
    chart_after = {
        "アクセス件数 (日別)": "access_by_day",
        "アクセス件数 (ページ別)": "access_by_page",
        "電文受信件数 (分類別)": "posts",
    }
    return output.render_html(
        "monthly.html.j2",
        title=f"月次報告書 {data['month']} ({host})",
        finished=finished,
        created=f"{cal.now_jst():%Y-%m-%d %H:%M}",
        unparsable=data["access"]["unparsable"],
        tables=[
            (heading, header, rows, charts[chart_after[heading]] if heading in chart_after else None)
            for heading, header, rows in _tables(data)
        ],
    )


def _xlsx(data, path):
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for heading, header, rows in _tables(data):
        sheet = book.create_sheet(SHEETS[heading])
        sheet.append([heading])
        sheet["A1"].font = Font(bold=True, size=12)
        sheet.append(header)
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        sheet.column_dimensions["A"].width = 28
        if heading == "アクセス件数 (日別)":
            chart = BarChart()
            chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
            chart.title = "日別アクセス件数"
            days = len(data["access"]["by_day"])
            chart.add_data(Reference(sheet, min_col=3, max_col=6, min_row=2, max_row=2 + days), titles_from_data=True)
            chart.set_categories(Reference(sheet, min_col=1, min_row=3, max_row=2 + days))
            chart.width, chart.height = 24, 8
            sheet.add_chart(chart, "I2")
    book.save(path)


def render(counts_path, out_dir, today=None):
    """Draw the report of one host's counts; returns the files written."""
    data = load_counts(counts_path)
    _, _, finished = check_month(data["month"], today)
    host = data.get("host") or os.path.basename(counts_path)[len("usage-") : -len(".json")]
    with output.drawing(out_dir) as (scratch, written):
        # chart names carry the host: two hosts' reports share the month's directory
        charts = _charts(data, scratch, f"{host}_")
        stem = f"月次報告書_{data['month']}_{host}"
        output.write_text(os.path.join(scratch, stem + ".html"), _html(data, host, charts, finished))
        _xlsx(data, os.path.join(scratch, stem + ".xlsx"))
    return written
