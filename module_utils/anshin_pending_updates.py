"""Pending package updates of a Debian host, security ones marked (contract clause 9(4)): the body of the
anshin_pending_updates module and of the daily check on the VM (roles/patching/files/anshin-pending-updates),
which runs it without Ansible. Only the APT cache, /proc and needrestart are read; the state file and the
textfile are all it writes."""

import contextlib
import json
import os
import re
import time

try:
    from ansible.module_utils.anshin_common import write_file, write_textfile
except ImportError:  # the daily check on the VM runs without Ansible: the base role's anshin_common.py
    from anshin_common import write_file, write_textfile

DEFAULTS = {
    "update_cache": False,
    "state_file": "/var/lib/anshin-patching/first-seen.json",
    "textfile": "",
    "security_patterns": ["^Debian-Security$", "-security$"],
    "require_security_source": True,
    "reboot_packages": ["^linux-image-", "^intel-microcode$", "^amd64-microcode$"],
}
LIB_OR_BIN = re.compile(r"(\.so(\.[0-9.]+)?$|/s?bin/)")


class PendingError(Exception):
    """The check could not run; the message says why and what to do."""


def security_sources(cache, patterns):
    """The package lists APT read from a security archive, as 'site archive'."""
    files = getattr(getattr(cache, "_cache", None), "file_list", None) or []
    return sorted(
        {
            f"{f.site or f.filename} {f.archive}".strip()
            for f in files
            if any(rx.search(f.label or "") or rx.search(f.archive or "") for rx in patterns)
        }
    )


def running_units():
    """{path: set(unit)} of files mapped or executed by running processes, units from their cgroup."""
    by_path = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cgroup", encoding="utf-8") as fh:
                cgroup = fh.read()
            units = re.findall(r"/([^/\n]+\.service)(?:/|$)", cgroup, re.M)
            if not units:
                continue
            unit = units[-1]
            paths = set()
            with contextlib.suppress(OSError):
                paths.add(os.readlink(f"/proc/{pid}/exe"))
            with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    parts = line.split(None, 5)
                    if len(parts) == 6 and parts[5].startswith("/"):
                        paths.add(parts[5].strip().replace(" (deleted)", ""))
        except OSError:  # gone, or not ours to read
            continue
        for path in paths:
            by_path.setdefault(path, set()).add(unit)
    return by_path


def needrestart_now(run, which):
    """Units needrestart says need a restart now; run(argv) -> (rc, out, err), which(name) -> path or None."""
    binary = which("needrestart")
    if not binary:
        return []
    _rc, out, _err = run([binary, "-b", "-r", "l"])
    return sorted({line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("NEEDRESTART-SVC:")})


def pending(params, run, which, now=None):
    """The check: params as DEFAULTS; run and which as for needrestart_now. Raises PendingError."""
    try:
        import apt  # python3-apt, on every Debian host Ansible manages packages on
    except ImportError as exc:
        raise PendingError("python3-apt is not installed (Debian family only)") from exc
    try:
        security = [re.compile(p) for p in params["security_patterns"]]
        reboot = [re.compile(p) for p in params["reboot_packages"]]
    except re.error as exc:
        raise PendingError(f"security_patterns / reboot_packages: bad regular expression: {exc}") from exc
    if params["textfile"]:
        try:
            import prometheus_client  # noqa: F401
        except ImportError as exc:
            raise PendingError(
                "python3-prometheus-client is not installed: it writes the textfile (role patching)"
            ) from exc
    if params["update_cache"]:
        rc, _out, err = run(["apt-get", "update", "-q"])
        if rc != 0:
            raise PendingError(f"apt-get update failed: {err.strip()}")
    cache = apt.Cache()
    sources = security_sources(cache, security)
    if params["require_security_source"] and not sources:
        raise PendingError(
            "no security source: APT reads no package list of a security archive, so this report "
            "would never show a security update. Add the release's -security suite "
            "(role base: base_apt_security_mirror) and run again."
        )
    state_file = params["state_file"]
    try:
        with open(state_file, encoding="utf-8") as fh:
            first_seen = json.load(fh)
    except (OSError, ValueError):
        first_seen = {}
    now = int(time.time() if now is None else now)
    # a newer version of a package still pending keeps the age of the first one seen: an update that keeps
    # being superseded is pending all along, not new each time (the state holds only what is pending now)
    since_by_name = {}
    for key, seen_at in first_seen.items():
        name = key.split("=", 1)[0]
        since_by_name[name] = min(seen_at, since_by_name.get(name, seen_at))
    mapped = running_units()
    packages, seen = [], {}
    for pkg in cache:
        if not pkg.is_upgradable:
            continue
        cand = pkg.candidate
        origins = cand.origins
        is_security = any(rx.search(o.label or "") or rx.search(o.archive or "") for o in origins for rx in security)
        key = f"{pkg.name}={cand.version}"
        seen[key] = first_seen.get(key, since_by_name.get(pkg.name, now))
        restart = set()
        for path in pkg.installed_files if pkg.is_installed else []:
            if LIB_OR_BIN.search(path):
                restart |= mapped.get(path, set())
        packages.append(
            {
                "name": pkg.name,
                "installed": pkg.installed.version,
                "candidate": cand.version,
                "security": is_security,
                "origin": " ".join(sorted({f"{o.label} {o.archive}".strip() for o in origins})),
                "first_seen": seen[key],
                "restart": sorted(restart),
                "reboot": any(rx.search(pkg.name) for rx in reboot),
            }
        )
    packages.sort(key=lambda p: p["name"])
    os.makedirs(os.path.dirname(state_file), exist_ok=True)
    write_file(state_file, json.dumps(seen, indent=1, sort_keys=True))

    result = {
        "security_sources": sources,
        "packages": packages,
        "pending": len(packages),
        "pending_security": len([p for p in packages if p["security"]]),
        "oldest_pending_seconds": max([now - p["first_seen"] for p in packages] or [0]),
        "oldest_pending_security_seconds": max([now - p["first_seen"] for p in packages if p["security"]] or [0]),
        "restart_units": sorted({u for p in packages for u in p["restart"]}),
        "reboot_after": any(p["reboot"] for p in packages),
        "reboot_required_now": os.path.exists("/run/reboot-required"),
        "restart_needed_now": needrestart_now(run, which),
    }
    if params["textfile"]:
        write_metrics(params["textfile"], result, now)
    return result


def write_metrics(path, result, now):
    """The textfile the monitoring host alerts on; RESULT None: the check failed (success 0, nothing else)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    Gauge("anshin_patch_check_success", "1 when the last pending-updates check ran to the end.", registry=registry).set(
        int(result is not None)
    )
    Gauge(
        "anshin_patch_check_last_run_timestamp_seconds",
        "When the pending updates were last checked.",
        registry=registry,
    ).set(now)
    if result is not None:
        for name, help_text, value in (
            ("anshin_patch_pending_updates", "Upgradable packages.", result["pending"]),
            (
                "anshin_patch_pending_security_updates",
                "Upgradable packages from a security archive.",
                result["pending_security"],
            ),
            (
                "anshin_patch_oldest_pending_seconds",
                "Age of the update pending longest.",
                result["oldest_pending_seconds"],
            ),
            (
                "anshin_patch_oldest_pending_security_seconds",
                "Age of the security update pending longest.",
                result["oldest_pending_security_seconds"],
            ),
            (
                "anshin_patch_reboot_required",
                "1 when an installed update needs a reboot.",
                int(result["reboot_required_now"]),
            ),
        ):
            Gauge(name, help_text, registry=registry).set(value)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_textfile(path, registry)
