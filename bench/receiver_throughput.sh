#!/usr/bin/env bash
# Benchmark of the L-Alert receiver on the local VM, through nginx + TLS on
# loopback: sustained publish rate and p50/p99 latency with 8 concurrent
# senders over a drill burst of 10,000 messages (zero lost, zero duplicated:
# rows are counted afterwards), next to a plain SQLite insert loop of the
# same rows with the same durability settings (the storage limit). Read the
# ratio, not the seconds: the machines are noisy. Leave 6 minutes between two
# runs: the run deletes its spool files at the end, and ext4 makes a new file
# skip every inode freed in the last minutes, which slows the next run's spool.
#
#   bench/receiver_throughput.sh [COUNT] [CONCURRENCY]     default 10000 8
set -euo pipefail
source "$(dirname "$0")/../bin/lib/common.sh"
cd "$ANSHIN_ROOT"
export PATH="$ANSHIN_ROOT/.venv/bin:$PATH"
count=${1:-10000}; concurrency=${2:-8}
vm=anshin-lalert-vm

bin/localenv up >/dev/null
bin/build-artifacts >/dev/null  # what site.yml's receiver installs
log "making sure the receiver is deployed"
ansible-playbook site.yml >/dev/null
user=$(ansible-inventory --host lalert-vm | python3 -c 'import json,sys; print(json.load(sys.stdin)["lalert_receiver_username"])')

podman cp bench/receiver_load.py "$vm:/var/tmp/receiver_load.py"
log "publishing $count messages with $concurrency senders"
json=$(podman exec "$vm" /opt/lalert-receiver/venv/bin/python /var/tmp/receiver_load.py \
  --count "$count" --concurrency "$concurrency" --username "$user")
run=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["run"])' "$json")
# the drill rows are Exercise traffic of this benchmark only: remove them again
podman exec "$vm" sh -c "sqlite3 /var/lib/lalert/receiver.sqlite3 \"DELETE FROM messages WHERE document_id LIKE '$run-%'\" \
  && find /var/spool/lalert -name '$run-*' -delete"

python3 - "$json" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"\nL-Alert receiver, {r['messages']} Exercise messages, {r['concurrency']} concurrent senders, nginx + TLS on loopback")
print(f"  {'replies other than code 0':38} {r['failed_replies']:>10}")
print(f"  {'rows stored / lost / duplicated':38} {r['rows']:>10} / {r['lost']} / {r['duplicated']}")
print(f"  {'presented as real':38} {r['presented_as_real']:>10}")
print(f"  {'latency p50 / p99':38} {r['p50_ms']:>10} ms / {r['p99_ms']} ms")
print(f"  {'publish rate (service)':38} {r['publish_per_s']:>10} msg/s")
print(f"  {'plain SQLite insert loop (baseline)':38} {r['sqlite_insert_per_s']:>10} rows/s")
ratio = r['publish_per_s'] / r['sqlite_insert_per_s']
print(f"  {'service / storage limit':38} {ratio:>10.2f}   (goal >= 0.30: {'met' if ratio >= 0.3 else 'NOT MET'})")
ok = r["lost"] == 0 and r["duplicated"] == 0 and r["failed_replies"] == 0 and r["presented_as_real"] == 0
print("  result:", "zero lost, zero duplicated" if ok else "MESSAGES LOST OR DUPLICATED")
sys.exit(0 if ok else 1)
PY
