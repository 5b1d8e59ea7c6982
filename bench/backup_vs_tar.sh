#!/usr/bin/env bash
# Backup benchmark: anshin-backup (SQLite backup API copy + manifest + borgmatic/borg
# into a local encrypted repository) vs a plain `tar | zstd` full copy of the same
# data, side by side in one run. Data: SIZE_MB of many small files plus a DB_MB
# SQLite database (defaults 1536 + 512 = 2 GiB). Prints seconds and ratios for:
# the first backup, the nightly run after a 1 % change, and a full restore.
#
#   bench/backup_vs_tar.sh [SIZE_MB] [DB_MB]
set -euo pipefail
source "$(dirname "$0")/../bin/lib/common.sh"
size_mb=${1:-1536}
db_mb=${2:-512}
# python3-prometheus-client: anshin-backup writes its metrics with it (the role installs it on the VM)
for p in borgbackup borgmatic zstd sqlite3 python3-prometheus-client; do
  dpkg -s "$p" >/dev/null 2>&1 || { log "installing $p"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
work=$(mktemp -d /var/tmp/anshin-bench-backup.XXXXXX)
trap 'rm -rf "$work"' EXIT
data="$work/data"; mkdir -p "$data/spool" "$work/etc" "$work/state"

log "generating ${size_mb} MiB of small files and a ${db_mb} MiB SQLite database in $data"
python3 - "$data" "$size_mb" "$db_mb" <<'PY'
import os, random, sqlite3, sys
root, size_mb, db_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(5000)]
def blob(n):  # half text (compressible, like JSON spool files), half random (like attachments)
    text = b" ".join(rng.choice(words) for _ in range(n // 12))[: n // 2]
    return text + os.urandom(n - len(text))
total, i = 0, 0
while total < size_mb << 20:
    n = rng.randint(4 << 10, 60 << 10)
    d = os.path.join(root, "spool", f"{i // 1000:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"m{i:06d}.json"), "wb") as fh:
        fh.write(blob(n))
    total, i = total + n, i + 1
print(f"{i} files, {total >> 20} MiB", file=sys.stderr)
db = sqlite3.connect(os.path.join(root, "receiver.sqlite3"))
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, document_id TEXT, raw BLOB)")
row = 0
while os.path.getsize(os.path.join(root, "receiver.sqlite3")) < db_mb << 20:
    db.executemany("INSERT INTO messages (document_id, raw) VALUES (?, ?)",
                   [(f"TKS-{row + k:08d}", blob(8000)) for k in range(2000)])
    db.commit()
    row += 2000
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(f"{row} rows", file=sys.stderr)
PY

change_one_percent() {
  python3 - "$data" <<'PY'
import os, random, sqlite3, sys
root = sys.argv[1]
rng = random.Random(11)
files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "spool")) for f in fs]
for path in rng.sample(files, len(files) // 100):
    with open(path, "ab") as fh:
        fh.write(os.urandom(2048))
db = sqlite3.connect(os.path.join(root, "receiver.sqlite3"))
n = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
db.executemany("UPDATE messages SET raw = ? WHERE id = ?", [(os.urandom(8000), i) for i in rng.sample(range(1, n + 1), n // 100)])
db.commit()
PY
}

echo "bench-passphrase-0123456789" > "$work/etc/pass"
cat > "$work/etc/bench.yaml" <<YAML
location:
    source_directories: [$data, $work/staging]
    repositories: [$work/repo]
    exclude_patterns: [$data/receiver.sqlite3, $data/receiver.sqlite3-wal, $data/receiver.sqlite3-shm]
storage:
    encryption_passcommand: cat $work/etc/pass
    compression: zstd,3
    chunker_params: $(sed -n 's/^backup_chunker_params: //p' "$ANSHIN_ROOT/roles/backup/defaults/main.yml")
    archive_name_format: 'bench-{now:%Y-%m-%dT%H:%M:%S.%f}'
YAML
if [ "$(borgmatic --version | cut -d. -f1,2)" != "1.7" ]; then  # flat format from 1.8
  sed -i -e '/^location:$/d' -e '/^storage:$/d' -e 's/^    //' "$work/etc/bench.yaml"
fi
cat > "$work/etc/backup.json" <<JSON
{"repositories": [{"label": "bench", "config": "$work/etc/bench.yaml"}],
 "staging_dir": "$work/staging", "sources": ["$data"],
 "databases": [{"name": "receiver", "path": "$data/receiver.sqlite3"}],
 "restore_paths": ["$data/spool"], "services": [],
 "textfile": "$work/state/anshin_backup.prom", "state_file": "$work/state/state.json",
 "scratch_dir": "$work/scratch", "safety_dir": "$work/safety"}
JSON
borgmatic -c "$work/etc/bench.yaml" rcreate --encryption repokey-blake2 >/dev/null 2>&1
# anshin_common.py comes from module_utils/ here (the base role installs it on the VM)
ab="env PYTHONPATH=$ANSHIN_ROOT/module_utils $ANSHIN_ROOT/roles/backup/files/anshin-backup --config $work/etc/backup.json"

# a failed command fails the benchmark: no figure for a run that did not happen. sync first: no run pays for
# writing back what the one before it left in the page cache (tar's extract after a restore took 6-17 s without)
seconds() {
  sync; local s=$EPOCHREALTIME; "$@" >/dev/null || die "failed: $*"; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
log "first backup"
t_first=$(seconds $ab run)
t_tar1=$(seconds sh -c "tar -C '$work' -cf - data | zstd -3 -T0 -q -o '$work/full1.tar.zst'")
log "nightly backup after a 1 % change"
change_one_percent
t_incr=$(seconds $ab run)
t_tar2=$(seconds sh -c "tar -C '$work' -cf - data | zstd -3 -T0 -q -o '$work/full2.tar.zst'")
log "full restore"
rm -rf "$data/spool"
t_restore=$(seconds $ab restore --latest --yes)
rm -rf "$work/untar" && mkdir -p "$work/untar"
t_untar=$(seconds sh -c "zstd -d -q -c '$work/full2.tar.zst' | tar -C '$work/untar' -xf -")

repo_mb=$(du -sm "$work/repo" | cut -f1)
tar_mb=$(( $(du -sm "$work/full1.tar.zst" | cut -f1) + $(du -sm "$work/full2.tar.zst" | cut -f1) ))
printf '\n%-34s %12s %12s %10s  %s\n' "${size_mb}+${db_mb} MiB data set" "anshin-backup" "tar | zstd" "ratio" "goal"
row() {  # row LABEL SECONDS TAR_SECONDS [GOAL]: the goal is a ceiling of the ratio (issue: speed where people wait)
  local r verdict=""
  r=$(ratio "$2" "$3")
  [ -z "${4:-}" ] || verdict=$(awk -v r="$r" -v g="$4" 'BEGIN { print "<= " g ": " (r <= g ? "met" : "NOT MET") }')
  printf '%-34s %11.1fs %11.1fs %9sx  %s\n' "$1" "$2" "$3" "$r" "$verdict"
}
row "first backup (full)" "$t_first" "$t_tar1"
row "nightly after a 1 % change" "$t_incr" "$t_tar2" 0.50
row "full restore" "$t_restore" "$t_untar" 2.00
printf '%-34s %11sM %11sM %9sx\n' "stored after both nights" "$repo_mb" "$tar_mb" "$(ratio "$repo_mb" "$tar_mb")"
echo "(ratio = anshin-backup / tar; below 1 is faster or smaller. anshin-backup includes the SQLite"
echo " backup-API copy, a sha256 manifest of every file and, on restore, the manifest check.)"
