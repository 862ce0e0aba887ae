# Helpers for the in-VM test scripts (busybox ash). Test scripts start with `. /lib/vmtest.sh`.
# Installed as /lib/vmtest.sh in the initramfs by scripts/vm/vm-test.sh.

# vm_qmp JSON: ask the host harness to run one QMP command on this VM's QEMU; prints the reply
# (one JSON line: {"return": ...} or {"error": ...}) and fails on an error reply or no reply.
# Protocol: request "VMTEST-QMP <id> <json>" on the console, reply "VMTEST-REPLY <id> <json>"
# typed back into the console by scripts/vm/run.py. Safe inside $(...): it talks to
# /dev/console directly.
vm_qmp() {
  _id=$(cut -c1-8 /proc/sys/kernel/random/uuid)
  echo "VMTEST-QMP $_id $1" > /dev/console
  _deadline=$(( $(cut -d. -f1 /proc/uptime) + ${VM_QMP_TIMEOUT:-60} ))
  while [ "$(cut -d. -f1 /proc/uptime)" -lt "$_deadline" ]; do
    IFS= read -r -t 5 _line < /dev/console || continue
    case "$_line" in
      "VMTEST-REPLY $_id "*)
        _reply=${_line#"VMTEST-REPLY $_id "}
        echo "$_reply"
        case "$_reply" in *'"error"'*) return 1 ;; esac
        return 0 ;;
    esac
  done
  echo "vm_qmp: no reply to $1" >&2
  return 1
}

# vm_wait SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds; fail after SECONDS.
vm_wait() {
  _n=$(( $1 * 10 )); shift
  while [ "$_n" -gt 0 ]; do
    "$@" && return 0
    sleep 0.1
    _n=$((_n - 1))
  done
  return 1
}

# vm_usb_dev VID PID: print the sysfs directory of the first USB device with that id (hex).
vm_usb_dev() {
  for _d in /sys/bus/usb/devices/*; do
    [ -f "$_d/idVendor" ] || continue
    if [ "$(cat "$_d/idVendor")" = "$1" ] && [ "$(cat "$_d/idProduct")" = "$2" ]; then
      echo "$_d"
      return 0
    fi
  done
  return 1
}

# vm_i2c_bus PATTERN: print N of the first /dev/i2c-N whose adapter name (or device-tree node
# path, on DT machines) matches the shell glob PATTERN.
vm_i2c_bus() {
  for _a in /sys/bus/i2c/devices/i2c-*; do
    [ -d "$_a" ] || continue
    _name=$(cat "$_a/name")
    _of=$(readlink -f "$_a/of_node" 2>/dev/null)
    # shellcheck disable=SC2254
    case "$_name|$_of" in
      $1) echo "${_a##*/i2c-}"; return 0 ;;
    esac
  done
  return 1
}

# malta_smbus on|off: hand the PIIX4's power-management function (0000:00:0a.3) to its SMBus
# driver, or back to the board's poweroff driver, which holds it at boot (no adapter then)
# and without which `poweroff -f` no longer ends QEMU.
malta_smbus() {
  if [ "$1" = on ]; then set -- piix4-poweroff piix4_smbus; else set -- piix4_smbus piix4-poweroff; fi
  echo 0000:00:0a.3 > "/sys/bus/pci/drivers/$1/unbind"
  echo 0000:00:0a.3 > "/sys/bus/pci/drivers/$2/bind"
}

_vm_fails=0
_vm_passes=0
# vm_check NAME COMMAND...: run one assertion, print "ok"/"FAIL" and count it.
vm_check() {
  _name=$1; shift
  if "$@" >/dev/null; then
    echo "VMTEST-CHECK ok   $_name"
    _vm_passes=$((_vm_passes + 1))
  else
    echo "VMTEST-CHECK FAIL $_name"
    _vm_fails=$((_vm_fails + 1))
  fi
}

# vm_eq NAME EXPECTED ACTUAL
vm_eq() {
  if [ "$2" = "$3" ]; then
    echo "VMTEST-CHECK ok   $1 (= $3)"
    _vm_passes=$((_vm_passes + 1))
  else
    echo "VMTEST-CHECK FAIL $1: expected '$2', got '$3'"
    _vm_fails=$((_vm_fails + 1))
  fi
}

# vm_done: print the summary line and exit non-zero if any check failed (or none ran).
vm_done() {
  echo "$_vm_passes passed, $_vm_fails failed"
  [ "$_vm_fails" -eq 0 ] && [ "$_vm_passes" -gt 0 ]
  exit $?
}

# vm_hidraw PATTERN: print /dev/hidrawN of the first HID device whose name matches PATTERN.
vm_hidraw() {
  for _h in /sys/class/hidraw/hidraw*; do
    [ -e "$_h/device/uevent" ] || continue
    # shellcheck disable=SC2254
    case "$(sed -n 's/^HID_NAME=//p' "$_h/device/uevent")" in
      $1) echo "/dev/${_h##*/}"; return 0 ;;
    esac
  done
  return 1
}

# ---------------------------------------------------------------- wasi-hw test helpers
# hw ARGS...: `./wasi-hw run ARGS...` (the payload's runtime, cwd /payload); sets $rc,
# $out (stdout) and $err (stderr).
hw() {
  ./wasi-hw run "$@" >/tmp/hw.out 2>/tmp/hw.err
  rc=$?
  out=$(cat /tmp/hw.out)
  err=$(cat /tmp/hw.err)
}

# expect NAME RC STDOUT: the last `hw` exited with RC and printed exactly STDOUT. On a
# mismatch the run's stderr is shown too.
expect() {
  if [ "$rc" = "$2" ] && [ "$out" = "$3" ]; then
    echo "VMTEST-CHECK ok   $1 (rc $rc: $(echo "$out" | head -n 3 | tr '\n' '|'))"
    _vm_passes=$((_vm_passes + 1))
  else
    echo "VMTEST-CHECK FAIL $1: expected rc $2 and stdout '$3', got rc $rc and stdout '$out'"
    echo "  stderr: $err"
    _vm_fails=$((_vm_fails + 1))
  fi
}

# has NAME TEXT SUBSTRING: TEXT contains SUBSTRING.
has() {
  case "$2" in
    *"$3"*)
      echo "VMTEST-CHECK ok   $1 (contains '$3')"
      _vm_passes=$((_vm_passes + 1)) ;;
    *)
      echo "VMTEST-CHECK FAIL $1: '$3' not in: $2"
      _vm_fails=$((_vm_fails + 1)) ;;
  esac
}

# lacks NAME TEXT SUBSTRING: TEXT does not contain SUBSTRING.
lacks() {
  case "$2" in
    *"$3"*)
      echo "VMTEST-CHECK FAIL $1: '$3' found in: $2"
      _vm_fails=$((_vm_fails + 1)) ;;
    *)
      echo "VMTEST-CHECK ok   $1 (no '$3')"
      _vm_passes=$((_vm_passes + 1)) ;;
  esac
}

# --- Kernel I2C/SMBus tracepoints: what actually went to the adapter driver.
T=/sys/kernel/tracing
# trace_start: clear the buffer and record every i2c (I2C_RDWR) and smbus transfer.
trace_start() {
  [ -d $T/events ] || mount -t tracefs tracefs $T
  echo 0 > $T/tracing_on
  echo > $T/trace
  echo 1 > $T/events/i2c/i2c_read/enable
  echo 1 > $T/events/i2c/i2c_write/enable
  echo 1 > $T/events/smbus/smbus_read/enable
  echo 1 > $T/events/smbus/smbus_write/enable
  echo 1 > $T/tracing_on
}
# trace_ops: stop recording; print one line per request since trace_start: SMBus commands
# ("smbus_read a=049 c=8 WORD_DATA", "smbus_write a=050 c=10 BYTE_DATA l=1 [5a]") and
# I2C_RDWR messages with their index in the transfer ("i2c_write #0 a=048 l=1 [00]",
# "i2c_read #1 a=048 l=2": one transfer, repeated start). The adapter number is dropped.
trace_ops() {
  echo 0 > $T/tracing_on
  sed -n 's/.* \(i2c_read\|i2c_write\|smbus_read\|smbus_write\): i2c-[0-9]* \(#[0-9]* \)\{0,1\}\(a=[0-9a-f]*\) f=[0-9a-f]* \(.*\)$/\1 \2\3 \4/p' $T/trace
}

# --- USB
# usb_driver INTF: name of the kernel driver bound to a USB interface (e.g. 2-1:1.0), if any.
usb_driver() { basename "$(readlink "/sys/bus/usb/devices/$1/driver")" 2>/dev/null; }
# bound INTF DRIVER: INTF is bound to DRIVER ("usbfs" while a wasi-hw guest has claimed it).
bound() { [ "$(usb_driver "$1")" = "$2" ]; }
# usb_disk_ready INTF: the kernel has finished probing mass-storage interface INTF: it is
# bound to usb-storage and its SCSI disk has a block device. The SCSI scan runs after the
# bind (usb-storage's delay_use, then TEST UNIT READY, which also consumes the device's
# power-on unit attention); detaching the driver before it ends races the kernel's probe.
usb_disk_ready() {
  bound "$1" usb-storage || return 1
  for _b in /sys/bus/usb/devices/$1/host*/target*/*/block/*; do
    [ -e "$_b" ] && return 0
  done
  return 1
}
# usb_line DEV: the line lsusb prints for sysfs device DEV (e.g. 1-2), from the kernel's view:
# "Bus 001 Device 002: ID 0627:0001 QEMU USB Mouse".
usb_line() {
  _u=/sys/bus/usb/devices/$1
  printf 'Bus %03d Device %03d: ID %s:%s %s\n' "$(cat $_u/busnum)" "$(cat $_u/devnum)" \
    "$(cat $_u/idVendor)" "$(cat $_u/idProduct)" "$(cat $_u/product)"
}

# hid_start GRANT INTF ARGS...: start the hid guest (hid.aot) in the background with the
# --usb GRANT, and wait until it has claimed interface INTF (usbhid detached, usbfs bound).
# hid_wait: wait for it; sets $rc, $out, $err like `hw`.
hid_start() {
  _grant=$1; _intf=$2; shift 2
  ./wasi-hw run --usb "$_grant" hid.aot -- "$@" >/tmp/hid.out 2>/tmp/hid.err &
  hid_pid=$!
  vm_check "hid guest claimed $_intf (usbhid detached, usbfs bound)" vm_wait 30 bound "$_intf" usbfs
}
hid_wait() {
  wait "$hid_pid"
  rc=$?
  out=$(cat /tmp/hid.out)
  err=$(cat /tmp/hid.err)
}
# inject N EVENT: send one QMP input event (JSON InputEvent), then wait until the hid guest
# has printed N reports. One event per report: QEMU merges queued relative motion.
inject() {
  vm_qmp "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[$2]}}" >/dev/null
  vm_wait 20 sh -c "[ \$(wc -l < /tmp/hid.out) -ge $1 ]" || echo "hid: report $1 did not arrive"
}
