#!/bin/sh
# Runs inside the debootstrapped tree (chroot). Makes it a container that
# boots systemd cleanly and accepts SSH like a freshly installed VM.
set -eu
# units that make no sense in a container or slow its boot
for unit in getty@tty1.service serial-getty@.service console-getty.service \
    systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
    systemd-modules-load.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "/etc/systemd/system/$unit"
done
# baked in for speed, off as a fresh VM has it: the base role enables the daily AIDE check (its test must
# see the role do it), and where base does not run it would check without a database and fail
systemctl disable dailyaidecheck.timer
# a unique machine-id is made at first boot
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
# host keys are made at first boot (ssh-keygen -A) so no two containers share one
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
cat > /etc/systemd/system/ssh.service.d/hostkeys.conf <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
# the AnsiballZ code cache build.sh installed: compiled once here, not by the first task
python3 -m py_compile /usr/lib/python3/dist-packages/anshin_ansiballz_cache.py
# packages installed later come from Debian's own mirror, not from a cache
apt-get clean
# package lists are kept so check mode on a fresh host can resolve packages
rm -rf /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
