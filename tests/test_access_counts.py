"""anshin_ops/access_counts.py on the hand-written IIS sample (tests/fixtures/iis_w3c/, its README says what is
odd in each file): every figure below is counted by hand from the lines, listed here with what each one is.

The sample's lines (times UTC; +9 h is JST), for the month 2026-11 (JST), prefix /anshin/, monitoring at
192.0.2.41/32 and 10.20.0.0/24 plus the default agents. PV = page view; V1..V8 the visitors.

    cms-web1/2026-10/W3SVC1/u_ex261031.log (BOM, CRLF)
    A1 10-31 00:00:03 /anshin/index.html      200  Oct 31 09:00 JST: outside the month
    A2 10-31 14:59:59 /anshin/index.html      200  Oct 31 23:59:59 JST: outside
    A3 10-31 15:00:00 /anshin/index.html      200  Nov 1 00:00 JST  PV  V1 203.0.113.12 iPhone
    A4 10-31 15:00:01 /anshin/css/style.css   200  Nov 1            asset  V1
    A5 10-31 16:20:00 /anshin/                304  Nov 1            PV  V2 2001:db8:1::10 Android
    A6 10-31 16:30:00 /anshin/ 192.0.2.41 blackbox                  excluded (network 192.0.2.41/32)
    A7 10-31 18:00:00 /kenmin/index.html      200  Nov 1            outside the prefix
    A8 10-31 23:59:59 /anshin/bousai/hinanjo.html 200 Nov 1 08:59   PV  V3 198.51.100.23 Windows
    cms-web1/2026-11/W3SVC1/u_ex261101.log (all Nov 1 JST but C20)
    C1  /anshin/index.html 200 PV V1 | C2 app.js?v= 200 V1 | C3 map.PNG 200 V1
    C4  /Anshin/Bousai/Hinanjo.html 200 PV V3 | C5 /anshin/bousai/keihou.html 200 PV V3
    C6  wp-login.php 404 | C7 .env 404 (203.0.113.66: 4xx only, no visitor)
    C8  /anshin 301 V4 203.0.113.20 Mac | C9 /anshin/ 200 PV V4 | C10 POST search.aspx 500 V4
    C11 HEAD 10.20.0.5 excluded (network 10.20.0.0/24) | C12 Zabbix excluded (agent ^Zabbix)
    C13 latest.json 200 V1 | C14 index.html?lang=en 200 PV V2 | C15 ::ffff:192.0.2.41 excluded (network)
    C16 /anshin/お知らせ.html 200 PV V4
    -- #Fields with cs-host sc-bytes cs-bytes --
    C17 12:00:00 index.html 200 PV V5 203.0.113.30 Edge | C18 old layout: bad
    C19 14:59:59 keihou.html 200 PV V5 | C20 15:00:00 keihou.html 200 PV: Nov 2 JST, V5 on Nov 2
    C21 a User-Agent with raw spaces: bad
    cms-web1/2026-11/W3SVC1/u_ex261130.log
    D1 11-30 14:59:59 index.html 200 Nov 30 23:59:59 JST PV V1 | D2 15:00:00 Dec 1 JST: outside
    D3 cut short: bad (truncated)
    cms-web1/2026-11/W3SVC2/u_ex261101.log: F1 GET /cms/login.aspx 200, F2 POST 302: outside the prefix
    cms-web2/2026-11/W3SVC1/u_ex261101.log (fields in another order)
    E1 index.html 200 PV V1 (seen on cms-web1 too) | E2 hinanjo.html 200 PV V6 203.0.113.40 Windows
    E3 hinanjo.pdf 200 PV V6 | E4 hinanjo.pdf 206 V6 | E5 index.html 200 PV V7 198.51.100.99 '-'
    E6 20:00:00 /anshin/ 200 PV: Nov 2 JST, V8 2001:db8:2::abcd | E7 keihou.html 304 PV V8 (Nov 2)
"""

import datetime
import gzip
import json
import shutil

import pytest
from anshin_common import JST

from anshin_ops import access_counts as ac
from conftest import IIS_SAMPLE, iis_sample_cut_short

SAMPLE = IIS_SAMPLE
WEB1 = SAMPLE / "cms-web1"
MONITORING = ["192.0.2.41/32", "10.20.0.0/24"]
AFTER = datetime.datetime(2026, 12, 5, 10, 0, tzinfo=JST)


def count(root=SAMPLE, **kwargs):
    kwargs.setdefault("exclude_networks", MONITORING)
    kwargs.setdefault("now", AFTER)
    return ac.count_month(str(root), "2026-11", **kwargs)


def days(result):
    """The days that have requests: {day: row without the day}."""
    return {d["day"]: {k: v for k, v in d.items() if k != "day"} for d in result["by_day"] if d["requests"]}


def test_the_sample_is_as_its_readme_says():
    first = (WEB1 / "2026-10/W3SVC1/u_ex261031.log").read_bytes()
    assert first.startswith(b"\xef\xbb\xbf#Software: Microsoft Internet Information Services 10.0\r\n")
    assert first.count(b"\r\n") == first.count(b"\n") == 12
    last = (WEB1 / "2026-11/W3SVC1/u_ex261130.log").read_bytes()
    assert last.endswith(b"Mozilla/5.0+(iPh") and last.count(b"\n") == 6
    assert (WEB1 / "2026-11/W3SVC1/u_ex261101.log").read_text().count("#Fields:") == 2
    other = (SAMPLE / "cms-web2/2026-11/W3SVC1/u_ex261101.log").read_text().splitlines()
    assert other[3].startswith("#Fields: time date c-ip")


def test_the_months_counts_by_hand():
    r = count()
    # A3 A4 A5 A8, C1-C10, C13 C14 C16 C17 C19 C20, D1, E1-E7
    assert r["requests"] == 4 + 10 + 6 + 1 + 7 == 28
    assert days(r) == {
        # A3 A4 A5 A8 C1-C10 C13 C14 C16 C17 C19 E1-E5; 2xx: all but A5 C8 (3xx), C6 C7 (4xx), C10 (5xx)
        "2026-11-01": {
            "requests": 24,
            "page_views": 15,  # A3 A5 A8 C1 C4 C5 C9 C14 C16 C17 C19 E1 E2 E3 E5
            "visitors": 7,  # V1-V7
            "1xx": 0,
            "2xx": 19,
            "3xx": 2,
            "4xx": 2,
            "5xx": 1,
        },
        # C20, E6, E7 (304)
        "2026-11-02": {
            "requests": 3,
            "page_views": 3,
            "visitors": 2,
            "1xx": 0,
            "2xx": 2,
            "3xx": 1,
            "4xx": 0,
            "5xx": 0,
        },
        "2026-11-30": {
            "requests": 1,
            "page_views": 1,
            "visitors": 1,
            "1xx": 0,
            "2xx": 1,
            "3xx": 0,
            "4xx": 0,
            "5xx": 0,
        },  # D1
    }
    # the list the report shows: every day in order, each with its date
    assert len(r["by_day"]) == 30 and r["by_day"][1] == {"day": "2026-11-02", **days(r)["2026-11-02"]}
    assert r["by_day"][2]["requests"] == 0  # every day of the month is listed, zeros too
    assert r["page_views"] == 19 and r["visitors"] == 7 + 2 + 1
    assert r["by_status"] == {"1xx": 0, "2xx": 22, "3xx": 3, "4xx": 2, "5xx": 1}
    assert r["top_pages"] == [
        {"page": "/anshin/index.html", "page_views": 7},  # A3 C1 C14 C17 D1 E1 E5
        {"page": "/anshin/bousai/keihou.html", "page_views": 4},  # C5 C19 C20 E7
        {"page": "/anshin/", "page_views": 3},  # A5 C9 E6
        {"page": "/anshin/bousai/hinanjo.html", "page_views": 3},  # A8 C4 E2
        {"page": "/anshin/bousai/hinanjo.pdf", "page_views": 1},  # E3
        {"page": "/anshin/お知らせ.html", "page_views": 1},  # C16
    ]
    assert r["excluded"] == {
        "requests": 4,
        "by_rule": {"agent ^Zabbix": 1, "network 10.20.0.0/24": 1, "network 192.0.2.41/32": 2},  # C12; C11; A6 C15
    }
    assert r["outside_period"] == 3  # A1 A2 D2
    assert r["outside_prefix"] == 3  # A7 F1 F2
    assert r["bad_lines"]["count"] == 3
    assert r["bad_lines"]["by_reason"] == {
        "does not fit its #Fields (values, date, time or status)": 2,  # C18 C21
        "last line of the file cut short": 1,  # D3
    }
    assert [(s["path"].rsplit("/", 3)[-3:], s["line"]) for s in r["bad_lines"]["samples"]] == [
        (["2026-11", "W3SVC1", "u_ex261101.log"], 26),
        (["2026-11", "W3SVC1", "u_ex261101.log"], 29),
        (["2026-11", "W3SVC1", "u_ex261130.log"], 7),
    ]
    assert r["undecodable_lines"] == 0
    # every data line is in exactly one figure: 8 (A) + 19 (C) + 2 (D) + 2 (F) + 7 (E) parsed
    assert r["requests"] + r["excluded"]["requests"] + r["outside_period"] + r["outside_prefix"] == 38


def test_the_month_is_jst_while_iis_writes_utc():
    """The same files over the UTC month, as GoAccess reads them: October 31st's file holds nothing of
    November, C20 stays on November 1st and D2 (December 1st in JST) is in."""
    since = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    until = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    files, _, _ = ac.month_files(str(SAMPLE), "2026-11", now=AFTER)
    r = ac.count_files([f["path"] for f in files], since, until, exclude_networks=MONITORING)
    assert r["outside_period"] == 8  # all of A
    assert {d: (v["requests"], v["page_views"], v["visitors"]) for d, v in days(r).items()} == {
        # C1-C10 C13 C14 C16 C17 C19 C20, E1-E7; visitors V1 V2 V3 V4 V5 V6 V7 V8
        "2026-11-01": (23, 15, 8),
        "2026-11-30": (2, 2, 1),  # D1 D2, V1
    }
    jst = count()
    assert jst["by_day"][0]["requests"] == 24 and jst["by_day"][29]["requests"] == 1


def test_the_files_read_and_the_days_without_a_file():
    files, skipped, missing = ac.month_files(str(SAMPLE), "2026-11", now=AFTER)
    assert [(f["host"], f["site"], f["day"]) for f in files] == [
        ("cms-web1", "W3SVC1", "2026-10-31"),  # the previous month's last day; not its 30th
        ("cms-web1", "W3SVC1", "2026-11-01"),
        ("cms-web1", "W3SVC1", "2026-11-30"),
        ("cms-web1", "W3SVC2", "2026-11-01"),
        ("cms-web2", "W3SVC1", "2026-11-01"),
    ]
    assert skipped == []
    november = [f"2026-11-{d:02}" for d in range(1, 31)]
    assert missing == [
        {"host": "cms-web1", "site": "W3SVC1", "days": november[1:29]},
        {"host": "cms-web1", "site": "W3SVC2", "days": ["2026-10-31"] + november[1:]},
        {"host": "cms-web2", "site": "W3SVC1", "days": ["2026-10-31"] + november[1:]},
    ]
    # during the month only the days so far are expected; a host of the inventory without any file is named
    early = datetime.datetime(2026, 11, 2, 8, 0, tzinfo=JST)  # 2026-11-01 23:00 UTC
    _, _, missing = ac.month_files(str(SAMPLE), "2026-11", hosts=["cms-web1", "cms-web3"], now=early)
    assert missing == [
        {"host": "cms-web1", "site": "W3SVC2", "days": ["2026-10-31"]},
        {"host": "cms-web2", "site": "W3SVC1", "days": ["2026-10-31"]},
        {"host": "cms-web3", "site": None, "days": ["2026-10-31", "2026-11-01"]},
    ]
    assert count(hosts=["cms-web3"])["missing"][-1]["host"] == "cms-web3"


def test_monitoring_is_left_out_by_network_or_agent():
    # the default agents alone: A6 C15 (blackbox) and C12 (Zabbix); the load balancer's HEAD (C11) stays in
    r = count(exclude_networks=[])
    assert r["excluded"]["by_rule"] == {"agent ^Blackbox Exporter/": 2, "agent ^Zabbix": 1}
    assert (r["requests"], r["page_views"]) == (29, 20)  # C11 is a page answered 200
    assert days(r)["2026-11-01"]["visitors"] == 8  # (10.20.0.5, '')
    # nothing left out: A6 C11 C12 C15 are four more page views of four more visitors
    r = count(exclude_networks=[], exclude_agents=[])
    assert r["excluded"] == {"requests": 0, "by_rule": {}}
    assert (r["requests"], r["page_views"], r["visitors"]) == (32, 23, 14)
    # an IPv4-mapped address is its IPv4 address; a network rule is tried before the agents
    r = count(exclude_networks=["192.0.2.41/32"], exclude_agents=[])
    assert r["excluded"]["by_rule"] == {"network 192.0.2.41/32": 2}  # A6 and C15 (::ffff:192.0.2.41)
    r = count(exclude_networks=["2001:db8:2::/48"], exclude_agents=["ANDROID"])  # E6 E7; A5 C14 (any case)
    assert r["excluded"]["by_rule"] == {"agent ANDROID": 2, "network 2001:db8:2::/48": 2}


def test_the_whole_site_and_the_top_pages():
    r = count(prefix="")  # A7 F1 F2 come in: F2 is a 302
    assert (r["requests"], r["page_views"], r["outside_prefix"]) == (31, 21, 0)
    assert r["by_status"]["3xx"] == 4
    assert {"page": "/kenmin/index.html", "page_views": 1} in r["top_pages"]
    r = count(top=3)
    assert r["top_pages"] == [
        {"page": "/anshin/index.html", "page_views": 7},
        {"page": "/anshin/bousai/keihou.html", "page_views": 4},
        {"page": "/anshin/", "page_views": 3},
        {"page": "その他", "page_views": 5},  # hinanjo.html 3, hinanjo.pdf 1, お知らせ.html 1
    ]
    assert count(prefix="/ANSHIN/")["requests"] == 28  # the prefix is not case-sensitive either


def test_rotated_compressed_files_are_read_once(tmp_path):
    root = tmp_path / "iis-logs"
    shutil.copytree(SAMPLE, root)
    plain = root / "cms-web2/2026-11/W3SVC1/u_ex261101.log"
    with open(plain, "rb") as src, gzip.open(str(plain) + ".gz", "wb") as dst:
        dst.write(src.read())
    both = count(root)
    assert both["skipped_files"] == [{"path": str(plain) + ".gz", "reason": "a compressed copy of a file read plain"}]
    plain.unlink()
    only_gz = count(root)
    expected = count()
    for result in (both, only_gz):
        for key in ("requests", "page_views", "visitors", "by_day", "by_status", "top_pages", "excluded"):
            assert result[key] == expected[key]
    assert only_gz["files"][-1]["path"].endswith("u_ex261101.log.gz") and only_gz["skipped_files"] == []


def test_the_eve_collected_with_both_months_is_read_once(tmp_path):
    # collect_iis_logs.yml brings the previous month's last UTC day with the month too
    root = tmp_path / "iis-logs"
    shutil.copytree(SAMPLE, root)
    eve = "cms-web1/2026-10/W3SVC1/u_ex261031.log"
    shutil.copy(root / eve, root / "cms-web1/2026-11/W3SVC1")
    both = count(root)
    assert both["skipped_files"] == [{"path": str(root / eve), "reason": "the same file collected with another month"}]
    # the copy taken with the previous month may be partial (collected before the day ended): the month's wins
    with open(root / eve, "r+", encoding="utf-8") as fh:
        lines = fh.readlines()
        fh.seek(0)
        fh.truncate()
        fh.writelines(lines[: len(lines) // 2])
    assert count(root)["requests"] == both["requests"]
    # a compressed twin of it is the same file
    with open(root / "cms-web1/2026-11/W3SVC1/u_ex261031.log", "rb") as src:
        (root / eve).with_suffix(".log.gz").write_bytes(gzip.compress(src.read()))
    (root / eve).unlink()
    twin = count(root)
    assert twin["skipped_files"] == [
        {
            "path": str((root / eve).with_suffix(".log.gz")),
            "reason": "the same file collected with another month",
        }
    ]
    assert twin["requests"] == both["requests"]
    (root / eve).with_suffix(".log.gz").unlink()
    only_with_the_month = count(root)
    expected = count()
    for result in (both, only_with_the_month):
        for key in ("requests", "page_views", "visitors", "by_day", "by_status", "top_pages", "excluded", "missing"):
            assert result[key] == expected[key]


def test_a_file_that_cannot_be_read_to_its_end_is_reported(tmp_path):
    root = tmp_path / "iis-logs"
    iis_sample_cut_short(root)
    r = count(root)
    cut = r["files"][-1]
    assert cut["host"] == "cms-web2" and cut["error"].startswith("EOFError")
    assert r["requests"] < 28  # what it held before the cut, and the rest of the month
    assert all("error" not in f for f in r["files"][:-1])


def test_lines_that_do_not_fit_are_counted_by_reason(tmp_path):
    day = tmp_path / "web/2026-11/W3SVC1"
    day.mkdir(parents=True)
    fields = "#Fields: date time cs-method cs-uri-stem c-ip cs(User-Agent) sc-status\n"
    lines = [
        "2026-11-10 01:00:00 GET /anshin/a.html 203.0.113.1 UA 200\n",  # before any #Fields
        fields,
        "2026-11-10 01:00:00 GET /anshin/a.html 203.0.113.1 UA 200\n",  # counted
        "2026-02-30 01:00:00 GET /anshin/a.html 203.0.113.1 UA 200\n",  # not a day
        "2026-11-10 24:00:00 GET /anshin/a.html 203.0.113.1 UA 200\n",  # not a time
        "2026-11-10 01:00:00 GET /anshin/a.html 203.0.113.1 UA 999\n",  # not a status
        "2026-11-10 01:00:00 GET /anshin/a.html 203.0.113.1 UA -\n",  # no status
        "2026-11-10  01:00:00 GET /anshin/a.html 203.0.113.1 UA 200\n",  # two spaces
        "2026-11-10 01:00:00 GET /anshin/a.html 203.0.113.1 UA 200 \n",  # a space at the end
        "2026-11-10 01:00:00 GET /anshin/a.html - UA 200\n",  # no client address
        "2026-11-10 01:00:00 GET /anshin/a.html example.jp UA 200\n",  # a name, not an address
        "#Fields: date time cs-method cs-uri-stem cs(User-Agent) sc-status\n",
        "2026-11-10 01:00:00 GET /anshin/a.html UA 200\n",  # no c-ip column: no visitor to count
    ]
    with open(day / "u_ex261110.log", "w", encoding="utf-8") as fh:
        fh.writelines(lines)
    # a server logging in Shift_JIS (IIS's logInUTF8 off): counted, the bytes replaced and reported
    (day / "u_ex261111.log").write_bytes(
        fields.encode() + "2026-11-11 01:00:00 GET /anshin/お知らせ.html 203.0.113.1 UA 200\n".encode("shift_jis")
    )
    r = ac.count_month(str(tmp_path), "2026-11", now=AFTER)
    assert r["bad_lines"]["by_reason"] == {
        "data before any #Fields directive": 1,
        "does not fit its #Fields (values, date, time or status)": 6,
        "its #Fields lacks c-ip or cs-uri-stem": 1,
        "c-ip is not an IP address": 2,
    }
    assert (r["requests"], r["page_views"], r["undecodable_lines"]) == (2, 2, 1)
    assert r["top_pages"][0] == {"page": "/anshin/a.html", "page_views": 1}
    assert "\ufffd" in r["top_pages"][1]["page"]


def test_bad_arguments_are_refused():
    for month in ("2026-13", "26-11", "", "2026-1"):
        with pytest.raises(ValueError):
            ac.count_month(str(SAMPLE), month)
    with pytest.raises(ValueError, match="prefix"):
        count(prefix="anshin/")
    since = datetime.datetime(2026, 11, 1, 9, tzinfo=JST)
    with pytest.raises(ValueError, match="midnight"):
        ac.count_files([], since, since + datetime.timedelta(days=1))
    with pytest.raises(ValueError, match="zone"):
        ac.count_files([], since.replace(tzinfo=None), since + datetime.timedelta(days=1))


def test_the_command_prints_json(capsys):
    assert ac.main([str(SAMPLE), "2026-11", "--exclude-network", "192.0.2.41/32", "--top", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["month"] == "2026-11" and out["excluded"]["by_rule"]["network 192.0.2.41/32"] == 2
    assert len(out["top_pages"]) == 3 and out["top_pages"][-1]["page"] == "その他"
    assert ac.main([str(SAMPLE), "2026-13"]) == 2
    assert "month must be YYYY-MM" in capsys.readouterr().err
