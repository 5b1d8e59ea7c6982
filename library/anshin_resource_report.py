#!/usr/bin/python
"""Resource usage report with trends and tuning proposals (contract clause 9(3)). Runs on the controller."""

DOCUMENTATION = r"""
---
module: anshin_resource_report
short_description: Write the resource usage report (リソース使用状況報告書) from Prometheus range queries
description:
  - Takes the results of Prometheus C(query_range) calls for CPU, memory, disk, inode and load (one entry per
    series, as the API returns them) and a snapshot of the top processes per host.
  - Computes per series the average, 95th percentile, maximum and last value, and the growth trend per day
    (least squares); for disks also the days until full at that rate.
  - Compares them with the thresholds and writes tuning proposals in Japanese.
  - Writes, under O(dest), an HTML report with one PNG chart per metric, the same content as Markdown, and the
    figures as JSON. Charts need matplotlib on the controller (requirements.txt).
  - Always reports C(changed=true) when it writes; check mode writes nothing.
version_added: "1.0.0"
author: anshin-ops
options:
  series:
    description:
      - 'Prometheus C(query_range) results by metric, each a list of C({metric: {labels}, values: [[epoch, "value"]]}).'
      - Keys used - C(cpu) (% busy), C(memory) (% used), C(disk) (% used per mount point), C(inodes) (% used per
        mount point), C(load) (15-minute load per core). The disk trend is in percentage points per day.
    type: dict
    required: true
  top_processes:
    description: Per host, the top processes now (lines of C(ps -eo pid,user,pcpu,pmem,rss,etime,comm)), header first.
    type: dict
    default: {}
  period_start:
    description: Start of the period, epoch seconds.
    type: float
    required: true
  period_end:
    description: End of the period, epoch seconds.
    type: float
    required: true
  thresholds:
    description: The limits a finding is measured against; every key is required.
    type: dict
    required: true
    suboptions:
      cpu_percent:
        description: CPU use, percent.
        type: float
        required: true
      memory_percent:
        description: Memory use, percent.
        type: float
        required: true
      disk_percent:
        description: Disk use, percent.
        type: float
        required: true
      inode_percent:
        description: Inode use, percent.
        type: float
        required: true
      load_per_core:
        description: 15-minute load average per core.
        type: float
        required: true
      days_to_full:
        description: A disk that fills up within this many days at its current pace is a finding.
        type: float
        required: true
  dest:
    description: Directory to write the report into (created).
    type: path
    required: true
  name:
    description: File name stem of the report (without extension).
    type: str
    default: resource_report
notes:
  - Series with no values are listed as missing, not hidden.
requirements:
  - matplotlib (controller)
"""

EXAMPLES = r"""
- name: Write the resource report
  anshin_resource_report:
    series: "{{ __series }}"
    top_processes: {lalert-vm: "{{ __ps.stdout_lines }}"}
    period_start: 1793491200
    period_end: 1796083200
    thresholds: {cpu_percent: 80, memory_percent: 90, disk_percent: 85, inode_percent: 85, load_per_core: 2.0,
                 days_to_full: 90}
    dest: records/production/resource_report
  delegate_to: localhost
"""

RETURN = r"""
hosts:
  description: Per host, the figures of each metric and its findings.
  returned: success
  type: dict
  sample: {lalert-vm: {cpu: [{series: lalert-vm, avg: 3.1, p95: 7.4, max: 22.0, last: 2.9, per_day: 0.01}]}}
proposals:
  description: Tuning proposals in Japanese, one per finding (a single "no change needed" line when none).
  returned: success
  type: list
  elements: str
files:
  description: Files written (HTML, Markdown, JSON, PNG charts).
  returned: success
  type: list
  elements: str
missing:
  description: Metrics for which Prometheus returned no data in the period.
  returned: success
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.anshin_common import from_epoch, write_file
from ansible.module_utils.anshin_resource_report import METRICS, THRESHOLD_KEYS, analyse
from ansible.module_utils.basic import AnsibleModule


def jst(epoch):
    return from_epoch(epoch).strftime("%Y-%m-%d %H:%M")


def chart(path, heading_en, rows, unit, limit):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=100)
    for row in rows:
        ax.plot(
            [from_epoch(t) for t, _ in row["points"]],
            [v for _, v in row["points"]],
            label=row["series"],
            linewidth=1.2,
        )
    ax.axhline(limit, color="red", linestyle="--", linewidth=0.8, label=f"threshold {limit}{unit}")
    ax.set_title(heading_en)
    ax.set_ylabel(unit or "per core")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


TITLES_EN = {
    "cpu": "CPU busy %",
    "memory": "Memory used %",
    "disk": "Disk used %",
    "inodes": "Inodes used %",
    "load": "Load (15 min) per core",
}
COLUMNS = ["系列", "平均", "95%", "最大", "最新", "増加/日"]


def table_rows(key, rows):
    out = []
    for row in rows:
        cells = [row["series"], row["avg"], row["p95"], row["max"], row["last"], row["per_day"]]
        if key == "disk":
            cells.append(row.get("days_to_full") if row.get("days_to_full") is not None else "-")
        out.append([str(c) for c in cells])
    return out


# the page, a Jinja2 template with every value escaped (autoescape); in the module, which Ansible ships alone
PAGE = (
    '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>リソース使用状況報告書</title>'
    "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;"
    "padding:2px 8px;text-align:right}th{background:#eee}img{display:block;margin:1em 0}</style></head><body>"
    "<h1>リソース使用状況報告書</h1><p>対象期間: {{ period }}</p>"
    "<h2>チューニング提案</h2><ul>{% for p in proposals %}<li>{{ p }}</li>{% endfor %}</ul>"
    "{% if note %}<p><strong>{{ note }}</strong></p>{% endif %}"
    "{% for s in sections %}<h2>{{ s.heading }}</h2><p>基準: {{ s.threshold }}{{ s.unit }}</p>"
    "{% if not s.rows %}<p>データなし</p>{% else %}"
    '<img src="{{ s.png }}" alt="{{ s.heading }}">'
    "<table><tr>{% for c in s.columns %}<th>{{ c }}</th>{% endfor %}</tr>"
    "{% for cells in s.rows %}<tr>{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>"
    "{% endif %}{% endfor %}"
    "<h2>上位プロセス (報告作成時点)</h2>"
    "{% for host, lines in top %}<h3>{{ host }}</h3><pre>{{ lines | join('\\n') }}</pre>{% endfor %}"
    "</body></html>\n"
)


def write_report(params, figures, proposals, missing):
    dest, name = params["dest"], params["name"]
    os.makedirs(dest, exist_ok=True)
    period = f"{jst(params['period_start'])} 〜 {jst(params['period_end'])} (JST)"
    files, md, sections = [], [f"# リソース使用状況報告書\n\n- 対象期間: {period}\n"], []
    md.append("\n## チューニング提案\n\n" + "\n".join(f"- {p}" for p in proposals) + "\n")
    note = "データなし: " + ", ".join(missing) + " (監視対象が期間中に取得されていません)" if missing else ""
    if note:
        md.append(f"\n> {note}\n")
    for key, heading, unit, threshold_key in METRICS:
        rows = figures[key]
        columns = COLUMNS + (["満杯まで(日)"] if key == "disk" else [])
        section = {"heading": heading, "threshold": params["thresholds"][threshold_key], "unit": unit, "rows": []}
        sections.append(section)
        md.append(f"\n## {heading}\n\n基準: {params['thresholds'][threshold_key]}{unit}\n\n")
        if not rows:
            md.append("データなし\n")
            continue
        md.append("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n")
        md.extend("| " + " | ".join(cells) + " |\n" for cells in table_rows(key, rows))
        png = f"{name}_{key}.png"
        chart(os.path.join(dest, png), TITLES_EN[key], rows, unit, params["thresholds"][threshold_key])
        files.append(os.path.join(dest, png))
        md.append(f"\n![{heading}]({png})\n")
        section.update(png=png, columns=columns, rows=table_rows(key, rows))
    md.append("\n## 上位プロセス (報告作成時点)\n")
    top = sorted((params.get("top_processes") or {}).items())
    for host, lines in top:
        md.append(f"\n### {host}\n\n```\n" + "\n".join(lines) + "\n```\n")
    import jinja2  # Ansible's own dependency: the module runs on the controller

    page = (
        jinja2.Environment(autoescape=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
        .from_string(PAGE)
        .render(period=period, proposals=proposals, note=note, sections=sections, top=top)
    )
    for ext, text in (("html", page), ("md", "".join(md))):
        path = os.path.join(dest, f"{name}.{ext}")
        write_file(path, text)
        files.append(path)
    data = {
        "period_start": params["period_start"],
        "period_end": params["period_end"],
        "proposals": proposals,
        "missing": missing,
        "figures": {k: [{c: v for c, v in r.items() if c != "points"} for r in rows] for k, rows in figures.items()},
    }
    path = os.path.join(dest, f"{name}.json")
    write_file(path, json.dumps(data, ensure_ascii=False, indent=2))
    files.append(path)
    return sorted(files)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            series=dict(type="dict", required=True),
            top_processes=dict(type="dict", default={}),
            period_start=dict(type="float", required=True),
            period_end=dict(type="float", required=True),
            thresholds=dict(
                type="dict",
                required=True,
                options={key: dict(type="float", required=True) for key in THRESHOLD_KEYS},
            ),
            dest=dict(type="path", required=True),
            name=dict(type="str", default="resource_report"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["period_end"] <= params["period_start"]:
        module.fail_json(msg="period_end must be after period_start")
    figures, proposals, missing = analyse(params["series"], params["thresholds"])
    hosts = {}
    for key, rows in figures.items():
        for row in rows:
            hosts.setdefault(row["instance"], {}).setdefault(key, []).append(
                {c: v for c, v in row.items() if c != "points"}
            )
    files = []
    if not module.check_mode:
        try:
            files = write_report(params, figures, proposals, missing)
        except ImportError as exc:
            module.fail_json(msg=f"matplotlib is needed on the controller for the charts: {exc}")
    module.exit_json(changed=not module.check_mode, hosts=hosts, proposals=proposals, files=files, missing=missing)


if __name__ == "__main__":
    main()
