#!/usr/bin/env bash
# Benchmark: wall time of the idempotent second run of site.yml against the
# local environment (VM, backup store, monitoring host), with the repo's
# settings (ansible.cfg: Mitogen's linear strategy, pipelining, fact cache)
# and with stock Ansible settings (linear strategy, no pipelining, full fact
# gathering every play, no fact cache), side by side in one run, against the
# goal: the repo's run at most 0.5x the stock one. Machines are noisy: read
# the ratio, not the seconds.
#
#   bench/site_second_run.sh [ROUNDS]     default 3 rounds, alternating
set -euo pipefail
source "$(dirname "$0")/../bin/lib/common.sh"
cd "$ANSHIN_ROOT"
export PATH="$ANSHIN_ROOT/.venv/bin:$PATH"
rounds=${1:-3}

bin/localenv up >/dev/null
bin/build-artifacts >/dev/null  # what site.yml's receiver installs
log "converging once so the measured runs are second runs"
ansible-playbook site.yml >/dev/null

# A measured run must also be a correct one: any failure or change stops the benchmark.
second_run() {
  local out
  out=$("$@" ansible-playbook site.yml 2>&1) || { echo "$out" | tail -20; die "site.yml failed"; }
  grep -q 'changed=0 ' <<<"$out" || { echo "$out" | tail -20; die "second run changed something"; }
}
repo_run()  { second_run env; }
stock_run() {
  second_run env ANSIBLE_STRATEGY=linear ANSIBLE_PIPELINING=false ANSIBLE_GATHERING=implicit ANSIBLE_CACHE_PLUGIN=memory
}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); python3 -c "print(round($t1 - $t0, 3))"; }

repo=(); stock=()
for i in $(seq "$rounds"); do
  stock+=("$(seconds stock_run)") || exit 1
  repo+=("$(seconds repo_run)") || exit 1
  log "round $i: stock ${stock[-1]}s  repo ${repo[-1]}s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r=$(median "${repo[@]}"); s=$(median "${stock[@]}")
printf '\nsite.yml second run, median of %d rounds\n' "$rounds"
printf '  %-34s %8.2f s\n' "stock Ansible settings (baseline)" "$s"
printf '  %-34s %8.2f s\n' "repo settings (ansible.cfg)" "$r"
ratio=$(python3 -c "print(round($r / $s, 2))")
printf '  %-34s %8.2f x   (goal <= 0.50: %s)\n' "repo / stock" "$ratio" \
  "$(python3 -c "print('met' if $ratio <= 0.5 else 'NOT MET')")"
