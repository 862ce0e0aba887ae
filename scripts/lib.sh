# Shared by the project's scripts: `. "$root/scripts/lib.sh"` after `set -euo pipefail`.
# Messages go to stderr prefixed with the script's name ($me, set before sourcing, or the
# file name). `die` exits with $die_status (default 1; the VM scripts use 2 for "could not
# run", keeping 1 for "a test failed").
: "${me:=$(basename "$0" .sh)}"
: "${die_status:=1}"
log() { echo "$me: $*" >&2; }
die() { log "error: $*"; exit "$die_status"; }
# need TOOL HINT: dies unless TOOL is on PATH, saying what installs it.
need() { command -v "$1" >/dev/null || die "$1 missing: ${2:-run scripts/setup.sh}"; }
