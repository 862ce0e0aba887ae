# Helpers for the in-VM test scripts (busybox ash). Test scripts start with `. /lib/vmtest.sh`.
# Installed as /lib/vmtest.sh in the initramfs by scripts/vm-test.sh.

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
