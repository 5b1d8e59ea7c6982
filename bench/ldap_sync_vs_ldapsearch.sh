#!/usr/bin/env bash
# LDAP sync benchmark: the sync (the same code as library/ldap_sync.py, run by
# the VM's anshin-ldap-sync program) against a source of PEOPLE people in
# GROUPS departments, next to `ldapsearch` dumping the same source with the same
# paging as the read baseline, in one run. Two throw-away containers: a stand-in
# source (playbooks/local/ldap_directory_standin.yml) and a VM with the target
# (role ldap_sync). Prints seconds and ratios for: initial sync, no-op full
# reconcile, no-op resync (as the timer runs it between full reconciles: the
# changes only), resync after 5 % of the people changed, with the goals (issue
# 22: initial <= 10x, no-op <= 2x), and what each run read and changed.
#
#   bench/ldap_sync_vs_ldapsearch.sh [PEOPLE] [GROUPS]      (defaults 10000 300)
set -euo pipefail
source "$(dirname "$0")/../bin/lib/common.sh"
cd "$ANSHIN_ROOT"
people=${1:-10000}
groups=${2:-300}
export PATH="$ANSHIN_ROOT/.venv/bin:$PATH"
work=$(mktemp -d /var/tmp/anshin-bench-ldap.XXXXXX)
cleanup() { podman rm -f anshin-bench-ldap-source anshin-bench-ldap-vm >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

for name in source vm; do
  podman run -d --name "anshin-bench-ldap-$name" --hostname "bench-ldap-$name" --systemd=always \
    --cap-add NET_ADMIN,SYS_ADMIN localhost/anshin-test:bookworm /sbin/init >/dev/null
done
sleep 3
source_ip=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' anshin-bench-ldap-source)
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
cat > "$work/hosts.yml" <<YAML
all:
  vars:
    # throw-away containers: playbooks/local/ may run against them
    anshin_standin_inventory: true
    # the sync's reports of a throw-away run stay in the throw-away directory
    anshin_records_dir: "$work/records"
    ansible_connection: containers.podman.podman
    ansible_python_interpreter: /usr/bin/python3
  children:
    ldap_directory:
      hosts:
        anshin-bench-ldap-source:
          ldap_directory_address: "$source_ip"
          ldap_directory_admin_password: "$password"
          ldap_directory_ca_export: "$work/ca.pem"
    lalert:
      hosts:
        anshin-bench-ldap-vm:
          ldap_sync_admin_password: "$password"
          ldap_sync_run: false
          ldap_sync_source:
            url: "ldap://$source_ip"
            base_dn: "ou=staff,dc=pref,dc=tokushima,dc=test"
            bind_dn: "cn=admin,dc=pref,dc=tokushima,dc=test"
            bind_password: "$password"
            page_size: 1000
            timeout: 120
YAML
log "setting up the source ($people people, $groups departments) and the VM's target directory"
ANSIBLE_CONFIG=ansible.cfg ansible-playbook -i "$work/hosts.yml" playbooks/local/ldap_directory_standin.yml \
  -e ldap_directory_people="$people" -e ldap_directory_departments="$groups" > "$work/setup.log" 2>&1 \
  || { tail -30 "$work/setup.log"; die "source set-up failed"; }
seeded=$(date +%s)
ANSIBLE_CONFIG=ansible.cfg ansible-playbook -i "$work/hosts.yml" playbooks/ldap_sync.yml >> "$work/setup.log" 2>&1 \
  || { tail -30 "$work/setup.log"; die "target set-up failed"; }
# the program the timer runs, installed without running a sync (ldap_sync.yml installs it after a sync)
cat > "$work/program.yml" <<YAML
- name: The scheduled sync's program and settings, timer off
  hosts: lalert
  tasks:
    - name: The shared helpers the program imports, as the base role installs them
      ansible.builtin.copy:
        src: "$ANSHIN_ROOT/module_utils/anshin_common.py"
        dest: /usr/local/lib/anshin/python/
        mode: "0644"
    - name: Install them
      ansible.builtin.include_role:
        name: ldap_sync
        tasks_from: schedule
YAML
ANSIBLE_CONFIG=ansible.cfg ansible-playbook -i "$work/hosts.yml" "$work/program.yml" >> "$work/setup.log" 2>&1 \
  || { tail -30 "$work/setup.log"; die "installing the sync program failed"; }

vm() { podman exec anshin-bench-ldap-vm bash -c "$1"; }
calc() { python3 -c "print($1)"; }
seconds() {  # a failed command fails the benchmark: no figure for a run that did not happen
  local start end; start=$(date +%s.%N); vm "$1" > "$work/last.out" || die "failed: $1"; end=$(date +%s.%N)
  calc "$end - $start"; }
dump="ldapsearch -x -LLL -o ldif-wrap=no -E pr=1000/noprompt -H ldap://$source_ip -D cn=admin,dc=pref,dc=tokushima,dc=test \
  -w '$password' -b ou=staff,dc=pref,dc=tokushima,dc=test '(objectClass=inetOrgPerson)' uid cn sn givenName mail title ou > /dev/null"
sync="/usr/local/lib/anshin/ldap-sync/anshin-ldap-sync /etc/anshin/ldap-sync.json"
# the first sync of 10,000 people is all leavers-free creates: the guard does not apply
base=$(seconds "$dump")
first=$(seconds "$sync"); first_out=$(cat "$work/last.out")
# steady operation: the timer's runs between full reconciles read only the changes. The timer runs long after
# most changes: the source's last second of seeding (~1,400 entries stamped alike) is over a minute old by the
# full reconcile, as it is on a real night, or the next run reads that second again (anshin-ldap-sync)
settle=$(( seeded + 61 - $(date +%s) )); [ "$settle" -le 0 ] || { log "waiting ${settle} s for the seed's last second to settle"; sleep "$settle"; }
full=$(seconds "$sync --full"); full_out=$(cat "$work/last.out")
noop=$(seconds "$sync"); noop_out=$(cat "$work/last.out")
log "changing 5 % of the people in the source (mail and title)"
podman exec -i anshin-bench-ldap-source python3 - "$people" "$password" <<'PY'
import subprocess, sys
people, password = int(sys.argv[1]), sys.argv[2]
ldif = "".join(f"dn: uid=t{i:05d},ou=staff,dc=pref,dc=tokushima,dc=test\nchangetype: modify\nreplace: mail\n"
               f"mail: moved{i}@pref.tokushima.test\n-\nreplace: title\ntitle: transferred\n\n"
               for i in range(0, people, 20))
subprocess.run(["ldapmodify", "-x", "-H", "ldap://127.0.0.1", "-D", "cn=admin,dc=pref,dc=tokushima,dc=test",
                "-w", password], input=ldif.encode(), check=True, stdout=subprocess.DEVNULL)
PY
changed=$(seconds "$sync"); changed_out=$(cat "$work/last.out")
base2=$(seconds "$dump")
baseline=$(calc "($base + $base2) / 2")

printf '\n%-40s %8s %13s %6s\n' "LDAP sync, $people people / $groups groups" "seconds" "x ldapsearch" "goal"
printf '%-40s %8.2f %13s\n' "ldapsearch dump (read baseline)" "$baseline" "1.00"
printf '%-40s %8.2f %13.2f %6s\n' "initial sync (full, into an empty target)" "$first" "$(calc "$first / $baseline")" "<= 10"
printf '%-40s %8.2f %13.2f\n' "no-op full reconcile (--full)" "$full" "$(calc "$full / $baseline")"
printf '%-40s %8.2f %13.2f %6s\n' "no-op resync (scheduled: incremental)" "$noop" "$(calc "$noop / $baseline")" "<= 2"
printf '%-40s %8.2f %13.2f\n' "resync after 5 % changes (incremental)" "$changed" "$(calc "$changed / $baseline")"
printf '\n%s\n%s\n%s\n%s\n' "initial: $first_out" "full:    $full_out" "no-op:   $noop_out" "5 %:     $changed_out"
