#!/usr/bin/env bash
# Build the local test images (Debian + systemd + sshd + python3) with
# debootstrap and import them into podman. Nothing is pulled from a registry.
#
#   build.sh [SUITE...]      default: bookworm trixie
#
# An image is rebuilt only when its recipe (this folder) changes: the tag is
# localhost/anshin-test:<suite>-<hash of recipe>, and a stable alias
# localhost/anshin-test:<suite> points at the newest build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../bin/lib/common.sh"

mirror=${ANSHIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)

recipe_hash() {  # the cache key: every file of the recipe plus the suite name
  (cd "$here" && cat build.sh customize.sh packages.txt anshin_ansiballz_cache.py; echo "$1") | sha256sum | cut -c1-12
}

build_one() {
  local suite=$1 key tag root
  key=$(recipe_hash "$suite")
  tag="localhost/anshin-test:${suite}-${key}"
  if podman image exists "$tag"; then
    log "image $tag is current"
  else
    log "building $tag (debootstrap $suite; takes a few minutes)"
    root=$(mktemp -d "/var/tmp/anshin-image-${suite}.XXXXXX")
    trap 'rm -rf "$root"' RETURN
    local pkgs
    pkgs=$(grep -v -e '^#' -e '^$' "$here/packages.txt" | paste -sd, -)
    debootstrap --variant=minbase --include="$pkgs" "$suite" "$root" "$mirror" \
      > "$root.log" 2>&1 || { tail -30 "$root.log"; die "debootstrap $suite failed (log: $root.log)"; }
    cp "$here/customize.sh" "$root/tmp/customize.sh"
    # every Python in the container keeps the compiled code of Ansible's module payloads (see the module)
    install -m 0644 "$here/anshin_ansiballz_cache.py" "$root/usr/lib/python3/dist-packages/"
    echo 'import anshin_ansiballz_cache; anshin_ansiballz_cache.install()' \
      > "$root/usr/lib/python3/dist-packages/anshin_ansiballz_cache.pth"
    chroot "$root" /bin/sh /tmp/customize.sh
    rm -f "$root/tmp/customize.sh" "$root.log"
    tar -C "$root" --numeric-owner -c . | podman import \
      --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$tag" >/dev/null
    log "built $tag"
  fi
  podman tag "$tag" "localhost/anshin-test:${suite}"
}

for s in "${suites[@]}"; do build_one "$s"; done
