# Least privilege on a real kernel (sourced by the machine suites after /lib/vmtest.sh):
# `run --user 65534:65534` (nobody on Debian and OpenWrt) and `run --seccomp`. The driver
# works as before because its grants were opened before the switch; a file below a
# root-only directory, looked up after it, is refused to the guest, which fails cleanly.
# Set PRIV_BUS and PRIV_I2C (a bus and a grant whose address temp-sensor reads), and for
# USB PRIV_USB (the usb-storage disk's grant), PRIV_USB_IF (its interface) and PRIV_BLOCK.
NOBODY=65534:65534
export RUST_LOG=info

hw --seccomp hello.aot
expect "hello inside the seccomp filter" 0 "hello from wasm"
has "  ... filter installed" "$err" "seccomp filter on"
vm_eq "$PRIV_BUS is root's only" "crw-------" "$(ls -l "$PRIV_BUS" | cut -c1-10)"
hw --i2c "$PRIV_I2C" temp-sensor.aot -- --bus "$PRIV_BUS"
as_root=$out
hw --user $NOBODY --seccomp --i2c "$PRIV_I2C" temp-sensor.aot -- --bus "$PRIV_BUS"
expect "temp-sensor as nobody in the filter: the bus was opened before the switch" 0 "$as_root"
has "  ... switched user" "$err" "(uid 65534, gid 65534); seccomp filter on"

mkdir -p /tmp/priv && echo secret > /tmp/priv/f && chmod 644 /tmp/priv/f && chmod 700 /tmp/priv
hw --dir /tmp/priv::/d hello.aot --cat /d/f
expect "as root: the granted directory's file" 0 "hello from wasm
file /d/f: secret"
hw --user $NOBODY --seccomp --dir /tmp/priv::/d hello.aot --cat /d/f
expect "as nobody: the file below the root-only directory is refused" 2 "hello from wasm"
has "  ... to the guest, which fails cleanly" "$err" "hello: error: cannot read /d/f"
hw --user $NOBODY --seccomp --dir /tmp/priv::/d hello.aot --cat /etc/passwd
expect "as nobody in the filter: a file outside the grants is refused" 2 "hello from wasm"
has "  ... to the guest, which fails cleanly" "$err" "hello: error: cannot read /etc/passwd"

if [ -n "${PRIV_USB:-}" ]; then
  hw --usb "$PRIV_USB" usb-storage.aot "$PRIV_BLOCK"
  as_root=$out
  vm_check "  ... disk probed again" vm_wait 120 usb_disk_ready "$PRIV_USB_IF"
  hw --user $NOBODY --seccomp --usb "$PRIV_USB" usb-storage.aot "$PRIV_BLOCK"
  expect "usb-storage as nobody in the filter: the disk was opened before the switch" 0 "$as_root"
  vm_check "  ... kernel driver re-attached by nobody, disk probed" vm_wait 120 usb_disk_ready "$PRIV_USB_IF"
fi
unset RUST_LOG
