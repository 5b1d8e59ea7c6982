#!/usr/bin/env python3
"""LDIF of a stand-in for the prefecture's directory: people with Japanese names in departments.

    make_directory_ldif.py BASE_DN PEOPLE DEPARTMENTS [--seed N]  > people.ldif

Deterministic for a seed, so tests and benchmarks know what they loaded. People are
uid=tNNNNN,ou=staff,BASE (inetOrgPerson, ou = department name); the ou=staff entry comes first.
"""

import argparse
import base64
import random

SURNAMES = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
    "木村",
    "林",
    "斎藤",
    "清水",
    "阿波",
    "徳島",
    "吉野",
    "鳴門",
]
GIVEN = ["太郎", "花子", "一郎", "美咲", "健太", "陽子", "翔", "愛", "大輔", "恵", "誠", "由美", "拓也", "彩"]
BASE_DEPARTMENTS = [
    "危機管理政策課",
    "防災対策推進課",
    "消防保安課",
    "総務課",
    "人事課",
    "財政課",
    "税務課",
    "収納課",
    "企画課",
    "地域創生課",
    "県土整備政策課",
    "河川整備課",
    "道路整備課",
    "保健福祉政策課",
    "医療政策課",
    "農林水産政策課",
    "商工政策課",
    "観光政策課",
    "教育政策課",
    "広報広聴課",
]


def departments(count):
    names = list(BASE_DEPARTMENTS[:count])
    for i in range(len(names), count):
        names.append(f"{BASE_DEPARTMENTS[i % len(BASE_DEPARTMENTS)]}第{i // len(BASE_DEPARTMENTS) + 1}係")
    return names


def people(count, department_count, seed=1):
    rng = random.Random(seed)
    names = departments(department_count)
    for i in range(count):
        surname, given = rng.choice(SURNAMES), rng.choice(GIVEN)
        yield {
            "uid": f"t{i:05d}",
            "cn": f"{surname} {given}",
            "sn": surname,
            "givenName": given,
            "mail": f"t{i:05d}@pref.tokushima.test",
            "ou": names[i % len(names)],
            "title": rng.choice(["主事", "主任", "係長", "課長補佐", "課長"]),
        }


def line(attribute, value):
    """attribute: value, base64 (attribute:: ...) when the value is not plain ASCII (RFC 2849)."""
    if value.isascii():
        return f"{attribute}: {value}"
    return f"{attribute}:: {base64.b64encode(value.encode()).decode()}"


def ldif(base_dn, count, department_count, seed=1):
    yield f"dn: ou=staff,{base_dn}\nobjectClass: organizationalUnit\nou: staff\n"
    for p in people(count, department_count, seed):
        yield (
            "\n".join(
                [f"dn: uid={p['uid']},ou=staff,{base_dn}", "objectClass: inetOrgPerson"]
                + [line(a, p[a]) for a in ("uid", "cn", "sn", "givenName", "mail", "ou", "title")]
            )
            + "\n"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base_dn")
    parser.add_argument("people", type=int)
    parser.add_argument("departments", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print("\n".join(ldif(args.base_dn, args.people, args.departments, args.seed)))


if __name__ == "__main__":
    main()
