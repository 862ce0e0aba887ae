#!/usr/bin/env bash
# Checks an OpenWrt .ipk built by scripts/openwrt/build-ipk.sh: outer format, control file,
# paths, modes and owners, that the binary is a static executable of the package's arch
# (arm_* armv7, aarch64_* aarch64, mipsel_* mipsel) that runs under qemu-user and knows
# the packaged .aot drivers, the UCI config's syntax,
# and what the procd init script asks procd to run (with OpenWrt's rc.common/procd
# functions replaced by recording stubs).
#
#   scripts/openwrt/test-ipk.sh [IPK...]  default: every target/openwrt/wasi-hw_*.ipk
#
# Every failed check is printed; the exit status is 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
root=$PWD

if [ $# -ge 1 ]; then
  ipks=("$@")
else
  shopt -s nullglob
  ipks=("$root"/target/openwrt/wasi-hw_*.ipk)
  shopt -u nullglob
  [ ${#ipks[@]} -ge 1 ] || die "no target/openwrt/wasi-hw_*.ipk (run scripts/openwrt/build-ipk.sh)"
fi
if [ ${#ipks[@]} -gt 1 ]; then
  rc=0
  for ipk in "${ipks[@]}"; do "$root/scripts/openwrt/test-ipk.sh" "$ipk" || rc=1; done
  exit $rc
fi
ipk=${ipks[0]}
[ -f "$ipk" ] || die "$ipk not found"
. scripts/cross/arch.sh

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
check() { # DESCRIPTION COMMAND...: run a check, record the result
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- outer archive: gzip'ed tar with exactly the three members, debian-binary first ---
check "outer archive is gzip data" sh -c "gzip -t '$ipk'"
members=$(tar -tzf "$ipk" | tr '\n' ' ')
check "outer members are ./debian-binary ./data.tar.gz ./control.tar.gz (got: $members)" \
  test "$members" = "./debian-binary ./data.tar.gz ./control.tar.gz "
mkdir "$work/outer" "$work/control" "$work/data"
tar -xzf "$ipk" -C "$work/outer"
check "debian-binary is 2.0" test "$(cat "$work/outer/debian-binary")" = "2.0"
tar -xzf "$work/outer/control.tar.gz" -C "$work/control"
tar -xzf "$work/outer/data.tar.gz" -C "$work/data"

owners() { tar -tvzf "$1" --numeric-owner | awk '$2 != "0/0" { print $NF }'; }
check "every file of control.tar.gz and data.tar.gz is owned by 0:0" \
  test -z "$(owners "$work/outer/control.tar.gz")$(owners "$work/outer/data.tar.gz")$(owners "$ipk")"

# --- control ---
ctl="$work/control/control"
check "control.tar.gz holds control, conffiles, postinst, prerm and nothing else" \
  test "$(cd "$work/control" && find . -mindepth 1 | sort | tr '\n' ' ')" = "./conffiles ./control ./postinst ./prerm "
field() { sed -n "s/^$1: //p" "$ctl"; }
check "control: every line is 'Field: value' or a continuation" \
  test -z "$(grep -Ev '^([A-Z][A-Za-z-]*: .+| .+)$' "$ctl" || true)"
for f in Package Version Architecture Maintainer Description Installed-Size Depends; do
  check "control: exactly one $f" test "$(grep -c "^$f: " "$ctl")" = 1
done
check "control: Package is wasi-hw" test "$(field Package)" = wasi-hw
check "control: Version $(field Version) looks like an opkg version" \
  sh -c "printf '%s' '$(field Version)' | grep -Eq '^[0-9][0-9A-Za-z.+~]*-[0-9]+$'"
case "$(field Architecture)" in
  arm_*) gateway=armv7 ;;
  aarch64_*) gateway=aarch64 ;;
  mipsel_*) gateway=mipsel ;;
  *) gateway="" ;;
esac
check "control: Architecture ($(field Architecture)) is one of a gateway arch (arm_*, aarch64_*, mipsel_*)" \
  test -n "$gateway"
cross_arch "${gateway:-armv7}"
qemu=$x_qemu
check "file name is Package_Version_Architecture.ipk" \
  test "$(basename "$ipk")" = "$(field Package)_$(field Version)_$(field Architecture).ipk"
data_bytes=$(find "$work/data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
check "control: Installed-Size ($(field Installed-Size)) is the data size ($data_bytes)" \
  test "$(field Installed-Size)" = "$data_bytes"
check "conffiles lists exactly /etc/config/wasi-hw" \
  test "$(cat "$work/control/conffiles")" = /etc/config/wasi-hw
for s in postinst prerm; do
  check "$s is executable and parses (sh -n)" sh -c "test -x '$work/control/$s' && sh -n '$work/control/$s'"
done

# --- data: paths, modes ---
mode() { stat -c %a "$1"; }
expected_paths="./etc ./etc/config ./etc/config/wasi-hw ./etc/init.d ./etc/init.d/wasi-hw ./etc/wasi-hw ./etc/wasi-hw/keys ./etc/wasi-hw/keys/README ./etc/wasi-hw/seccomp.json ./usr ./usr/bin ./usr/bin/wasi-hw ./usr/lib ./usr/lib/wasi-hw"
got_paths=$(cd "$work/data" && find . -mindepth 1 ! -path './usr/lib/wasi-hw/*' | sort | tr '\n' ' ')
check "data holds exactly the expected paths (got: $got_paths)" test "$got_paths" = "$expected_paths "
bin="$work/data/usr/bin/wasi-hw"
init="$work/data/etc/init.d/wasi-hw"
conf="$work/data/etc/config/wasi-hw"
check "/usr/bin/wasi-hw is mode 755" test "$(mode "$bin")" = 755
check "/etc/init.d/wasi-hw is mode 755" test "$(mode "$init")" = 755
check "/etc/config/wasi-hw is mode 600 (as the SDK's INSTALL_CONF)" test "$(mode "$conf")" = 600
desc=$(file -b "$bin")
check "/usr/bin/wasi-hw is a static ${gateway:-?} executable ($desc)" \
  env DESC="$desc" RE="$x_file" bash -c '[[ "$DESC" =~ $RE ]]'
check "/usr/bin/wasi-hw is stripped" sh -c "case '$desc' in *', stripped'*) true ;; *) false ;; esac"
check "/etc/wasi-hw/keys holds no key (the README only)" \
  test "$(ls -A "$work/data/etc/wasi-hw/keys")" = README
# A signify/usign secret key's base64 line starts with RWRCS ("EdBK").
check "the package holds no secret key" sh -c "! grep -rqa '^RWRCS' '$work/data'"
shopt -s nullglob
aots=("$work"/data/usr/lib/wasi-hw/*.aot)
others=("$work"/data/usr/lib/wasi-hw/*)
shopt -u nullglob
check "/usr/lib/wasi-hw holds at least one driver" test ${#aots[@]} -ge 1
check "/usr/lib/wasi-hw holds only drivers and their signatures" test ${#others[@]} -eq $((2 * ${#aots[@]}))
for aot in "${aots[@]}"; do
  n=${aot##*/}
  check "driver $n is of mode 644" test "$(stat -c %a "$aot")" = 644
  check "driver $n starts with the AOT magic" test "$(head -c 4 "$aot" | od -An -c | tr -d ' ')" = '\0aot'
  check "driver $n has its signature $n.sig (mode 644)" test "$(stat -c %a "$aot.sig" 2>/dev/null)" = 644
done

# --- the packaged binary runs (qemu user mode) and accepts the packaged drivers ---
. "$root/scripts/lib/signing.sh"
dev_keys=$(signing_keys_dir_for "$work/trust")
if command -v "$qemu" >/dev/null; then
  check "packaged binary runs under $qemu (--version)" \
    sh -c "$qemu '$bin' --version | grep -q '^wasi-hw '"
  for aot in "${aots[@]}"; do
    info=$("$qemu" "$bin" inspect "$aot" 2>&1 || true)
    check "packaged binary inspects ${aot##*/} as a $gateway AOT module" \
      env INFO="$info" G="$gateway" sh -c 'printf "%s\n" "$INFO" | grep -qi "^target: $G"'
    # With this machine's development key trusted, as a router that trusts the builder.
    check "packaged binary verifies ${aot##*/}.sig with the builder's key" \
      sh -c "$qemu '$bin' verify --keys '$dev_keys' '$aot' >/dev/null"
  done
else
  fail "$qemu missing (scripts/setup.sh installs qemu-user-static)"
fi

# --- UCI config: syntax, and every enabled-by-example module is shipped ---
uci_to_sh() { # FILE: UCI config → shell assignments in OpenWrt's CONFIG_* layout
  awk '
    function q(s) { return "'\''" s "'\''" }
    function val(s) {
      if (s ~ /^'\''[^'\'']*'\''$/) return substr(s, 2, length(s) - 2)
      if (s ~ /^[^'\''" \t]+$/) return s
      printf "line %d: bad value %s\n", NR, s > "/dev/stderr"; bad = 1; return ""
    }
    /^[ \t]*(#|$)/ { next }
    {
      line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
      kw = line; sub(/[ \t].*/, "", kw)
      rest = substr(line, length(kw) + 1); sub(/^[ \t]+/, "", rest)
      name = rest; sub(/[ \t].*/, "", name)
      v = substr(rest, length(name) + 1); sub(/^[ \t]+/, "", v)
      if (kw == "config") {
        sect = val(v); type = name
        if (sect !~ /^[A-Za-z0-9_]+$/) { printf "line %d: bad section name\n", NR > "/dev/stderr"; bad = 1 }
        print "SECTIONS=\"$SECTIONS " sect "\"; CONFIG_" sect "_TYPE=" q(type)
      } else if ((kw == "option" || kw == "list") && sect != "" && name ~ /^[A-Za-z0-9_]+$/ && v != "") {
        x = val(v)
        if (kw == "option") print "CONFIG_" sect "_" name "=" q(x)
        else {
          n = ++len[sect "_" name]
          print "CONFIG_" sect "_" name "_ITEM" n "=" q(x) "; CONFIG_" sect "_" name "_LENGTH=" n
        }
      } else { printf "line %d: not UCI: %s\n", NR, $0 > "/dev/stderr"; bad = 1 }
    }
    END { exit bad }
  ' "$1"
}
if uci_to_sh "$conf" > "$work/shipped.sh" && grep -q '^SECTIONS=' "$work/shipped.sh"; then
  ok "shipped /etc/config/wasi-hw is valid UCI"
else
  fail "shipped /etc/config/wasi-hw is valid UCI"
fi
for m in $(sed -n "s/^[ \t]*option module '\(.*\)'$/\1/p" "$conf"); do
  check "config module $m is shipped in the package" test -f "$work/data$m"
done

# --- the init script, run with recording stubs for rc.common, functions.sh and procd ---
check "init script parses (sh -n)" sh -n "$init"
check "init script is an rc.common procd script" \
  sh -c "head -n1 '$init' | grep -qx '#!/bin/sh /etc/rc.common' && grep -qx 'USE_PROCD=1' '$init'"

cat > "$work/stubs.sh" <<'EOF'
# Minimal stand-ins for OpenWrt's /lib/functions.sh and /lib/functions/procd.sh:
# config values come from a UCI file converted by uci_to_sh; procd calls are printed.
config_load() { . "$UCI_SH"; }
config_get() { # VAR SECTION OPTION [DEFAULT]
  eval "_v=\${CONFIG_$2_$3-}"
  [ -n "$_v" ] || _v=${4-}
  eval "$1=\$_v"
}
config_get_bool() {
  config_get "$@"
  eval "_v=\$$1"
  case "$_v" in
    1|on|true|yes|enabled) eval "$1=1" ;;
    0|off|false|no|disabled) eval "$1=0" ;;
    *) eval "$1=\${4-0}" ;;
  esac
}
config_list_foreach() { # SECTION OPTION FUNCTION ARGS...
  _s=$1 _o=$2 _f=$3
  shift 3
  eval "_n=\${CONFIG_${_s}_${_o}_LENGTH:-0}"
  _i=1
  while [ "$_i" -le "$_n" ]; do
    eval "_item=\$CONFIG_${_s}_${_o}_ITEM$_i"
    "$_f" "$_item" "$@"
    _i=$((_i + 1))
  done
}
config_foreach() { # FUNCTION TYPE
  for _sect in $SECTIONS; do
    eval "_t=\$CONFIG_${_sect}_TYPE"
    [ "$_t" = "$2" ] && "$1" "$_sect"
  done
  return 0
}
procd_open_instance() { echo "instance $1"; _cmd=""; }
procd_set_param() {
  _k=$1
  shift
  if [ "$_k" = command ]; then _cmd=$(printf '[%s]' "$@"); else echo "  $_k $*"; fi
}
procd_append_param() {
  [ "$1" = command ] || { echo "unexpected append $1"; return; }
  shift
  _cmd="$_cmd$(printf '[%s]' "$@")"
}
procd_close_instance() { echo "  command $_cmd"; echo "end"; }
procd_add_reload_trigger() { echo "reload-trigger $*"; }
procd_add_jail() { echo "  jail $*"; }
procd_add_jail_mount() { echo "  jail-ro $*"; }
procd_add_jail_mount_rw() { echo "  jail-rw $*"; }
EOF

# Two packaged drivers stand in for the configured modules (the host checks them).
a=${aots[0]}
b=${aots[$(( ${#aots[@]} > 1 ? 1 : 0 ))]}
cat > "$work/test.config" <<EOF
config host 'host'
	option user 'nobody:nogroup'
	option seccomp '1'
	option jail '1'

config driver 'temp'
	option enabled '1'
	option module '$a'
	list i2c '/dev/i2c-1:0x48,0x49'
	list i2c 'sim:0x50'
	list args '--bus'
	list args 'two words'
	option log_level 'debug'

config driver 'usbdev'
	option enabled 'yes'
	option module '$b'
	list usb '0781:5567'
	list env 'A=1'
	list dir '/tmp::/data'
	option stack_size '131072'
	option respawn '0'
	option every_ms '60000'

config driver 'off'
	option enabled '0'
	option module '$a'

config driver 'gone'
	option enabled '1'
	option module '$work/mods/missing.aot'

config other 'x'
	option enabled '1'
EOF
uci_to_sh "$work/test.config" > "$work/test.sh"
toml="$work/wasi-hw.toml"
got=$(UCI_SH="$work/test.sh" sh -c ". '$work/stubs.sh'; . '$init'; CONF='$toml'; POLICY='$work/data/etc/wasi-hw/seccomp.json'; start_service; service_triggers" 2> "$work/init.err") \
  || fail "init script: start_service failed: $(cat "$work/init.err")"
expected="instance serve
  env RUST_LOG=debug
  respawn 
  stdout 1
  stderr 1
  jail wasi-hw log sysfs
  no_new_privs 1
  seccomp $work/data/etc/wasi-hw/seccomp.json
  jail-ro $toml /etc/wasi-hw /etc/passwd /etc/group
  jail-rw /var/run
  jail-ro $a
  jail-ro $a.sig
  jail-ro $b
  jail-ro $b.sig
  jail-rw /tmp
  command [/usr/bin/wasi-hw][serve][--config][$toml]
end
reload-trigger wasi-hw"
if [ "$got" = "$expected" ]; then
  ok "init script: one procd instance of wasi-hw serve, at the most verbose log level, jailed with the drivers' modules and granted paths"
else
  fail "init script procd calls differ:"
  diff <(echo "$expected") <(echo "$got") >&2 || true
fi
expected_toml="# Written by /etc/init.d/wasi-hw from /etc/config/wasi-hw; edit that instead.
[host]
socket = \"/var/run/wasi-hw.sock\"
user = \"nobody:nogroup\"
seccomp = true

[[driver]]
name = \"temp\"
module = \"$a\"
args = [\"--bus\", \"two words\"]
i2c = [\"/dev/i2c-1:0x48,0x49\", \"sim:0x50\"]
restart = \"always\"
backoff_ms = 5000
backoff_max_ms = 60000

[[driver]]
name = \"usbdev\"
module = \"$b\"
usb = [\"0781:5567\"]
dirs = [\"/tmp::/data\"]
env = { \"A\" = \"1\" }
stack_size = 131072
restart = \"never\"
backoff_ms = 5000
backoff_max_ms = 60000
every_ms = 60000"
if [ "$(cat "$toml")" = "$expected_toml" ]; then
  ok "init script: each enabled driver section becomes a [[driver]] table with its grants, args and restart"
else
  fail "generated $toml differs:"
  diff <(echo "$expected_toml") "$toml" >&2 || true
fi
check "init script: a driver whose module is missing is reported on stderr" \
  grep -q "driver 'gone'.*not found" "$work/init.err"
if command -v "$qemu" >/dev/null; then
  check "the packaged binary accepts the generated config (serve --check)" \
    sh -c "$qemu '$bin' serve --check --config '$toml' > '$work/check.out' 2>&1"
  check "serve --check lists both drivers" \
    sh -c "grep -q '^temp: ' '$work/check.out' && grep -q '^usbdev: .*every 60000 ms' '$work/check.out'"
fi
check "init script: reload regenerates the config and asks the running host to reload" \
  sh -c "sed -n '/^reload_service()/,/^}/p' '$init' | grep -q 'ctl --socket \"\$SOCK\" reload'"

# The shipped config starts no driver (every driver disabled by default).
UCI_SH="$work/shipped.sh" sh -c ". '$work/stubs.sh'; . '$init'; CONF='$work/shipped.toml'; start_service" > /dev/null \
  || fail "init script: start_service failed on the shipped config"
check "shipped config: no driver enabled by default" \
  sh -c "! grep -q '^\[\[driver\]\]' '$work/shipped.toml'"

echo
if [ "$failures" -gt 0 ]; then
  echo "test-ipk: $failures check(s) failed for $ipk" >&2
  exit 1
fi
echo "test-ipk: all checks passed for $ipk"
