# Shared shell helpers for bin/ scripts. Source, do not run.
# shellcheck shell=bash
ANSHIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export ANSHIN_ROOT
# podman settings of this repo (runc, lowered ulimits) without touching /etc
export CONTAINERS_CONF="$ANSHIN_ROOT/molecule/shared/containers.conf"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
