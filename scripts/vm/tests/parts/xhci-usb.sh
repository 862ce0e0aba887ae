# The USB half of the x86_64 and malta suites (sourced by scripts/vm/tests/x86_64.sh and
# malta.sh, after /lib/vmtest.sh): the nusb (usbfs) backend on QEMU's xHCI with the same
# three devices on both machines: usb-storage 46f4:0001 at 2-1 (SuperSpeed bus), usb-mouse
# at 1-2, usb-kbd at 1-3. Devices and known contents: scripts/vm/README.md.

vm_check "usb-storage 46f4:0001 enumerated" vm_wait 30 vm_usb_dev 46f4 0001
vm_check "usb-mouse (1-2) and usb-kbd (1-3) enumerated" vm_wait 30 \
  sh -c 'grep -q "QEMU USB Mouse" /sys/bus/usb/devices/1-2/product && grep -q "QEMU USB Keyboard" /sys/bus/usb/devices/1-3/product'
vm_check "usb-storage interface bound to the kernel's usb-storage driver, disk probed" vm_wait 60 usb_disk_ready 2-1:1.0

# Enumeration shows the granted devices only.
hw lsusb.aot
expect "lsusb without a grant lists nothing" 0 ""
hw --usb 46f4:0001 lsusb.aot
expect "lsusb with the disk granted" 0 "$(usb_line 2-1)"
hw --usb 0627:0001@1-2 lsusb.aot
expect "lsusb with the mouse granted by location" 0 "$(usb_line 1-2)"
hw --usb 0627:0001 lsusb.aot
expect "lsusb with 0627:0001 granted (mouse and keyboard)" 0 "$(usb_line 1-2; usb_line 1-3)"
hw --usb 0627:0001 usb-storage.aot 5
expect "usb-storage with only the HID devices granted" 1 ""
has "  ... error" "$err" "usb-storage: error: no Bulk-Only mass-storage device granted"

# Mass storage: the kernel driver is detached through WASI-USB, the guest does BOT itself,
# then re-attaches the driver (the kernel probes the disk again: one more "USB Mass Storage
# device detected" in dmesg).
probes=$(dmesg | grep -c 'USB Mass Storage device detected')
hw --usb 46f4:0001 usb-storage.aot 5
vm_eq "usb-storage block 5: device line" "Device: $(usb_line 2-1 | cut -d' ' -f1-6), interface 0 (bulk IN 0x81, OUT 0x02)" \
  "$(echo "$out" | sed -n 1p)"
vm_eq "usb-storage block 5: INQUIRY" "Vendor: QEMU|Product: QEMU HARDDISK" "$(echo "$out" | sed -n '2,3p' | tr '\n' '|' | sed 's/|$//')"
vm_eq "usb-storage block 5: capacity" "Capacity: 2048 blocks of 512 bytes (1048576 bytes)" "$(echo "$out" | grep '^Capacity')"
vm_eq "usb-storage block 5: header" "Block 5:" "$(echo "$out" | grep '^Block')"
vm_eq "usb-storage block 5: first line" "00000a00  57 41 53 49 48 57 2d 53  30 30 30 30 30 30 35 0a  |WASIHW-S0000005.|" \
  "$(echo "$out" | grep -A1 '^Block' | tail -n1)"
vm_eq "usb-storage block 5: 32 records WASIHW-S0000005" 32 "$(echo "$out" | grep -c '|WASIHW-S0000005.|$')"
vm_eq "usb-storage block 5: last offset" "00000bf0" "$(echo "$out" | tail -n1 | cut -c1-8)"
vm_eq "usb-storage exit status" 0 "$rc"
vm_check "kernel driver re-attached after the run, disk probed" vm_wait 60 usb_disk_ready 2-1:1.0
vm_eq "kernel re-probed the disk once (detach + attach happened)" $((probes + 1)) \
  "$(dmesg | grep -c 'USB Mass Storage device detected')"
hw --usb 46f4:0001 usb-storage.aot 2047
vm_eq "usb-storage last block 2047" "32 0" "$(echo "$out" | grep -c '|WASIHW-S0002047.|$') $rc"

# HID: input injected over QMP arrives as boot-protocol reports. The guest runs in the
# background (hid_start, inject: /lib/vmtest.sh); each event is injected once the guest has
# claimed the interface and printed the previous report.
hid_start 0627:0001@1-2 1-2:1.0 --count 4 --timeout 20000
inject 1 '{"type":"rel","data":{"axis":"x","value":5}}'
inject 2 '{"type":"rel","data":{"axis":"y","value":-3}}'
inject 3 '{"type":"btn","data":{"down":true,"button":"left"}}'
inject 4 '{"type":"btn","data":{"down":false,"button":"left"}}'
hid_wait
expect "mouse reports: x+5, y-3, left button down, up" 0 "00 05 00 00
00 00 fd 00
01 00 00 00
00 00 00 00"
has "  ... found the boot mouse" "$err" "hid: boot mouse 0627:0001, interface 0, endpoint 0x81"
vm_check "usbhid re-attached to the mouse" vm_wait 20 bound 1-2:1.0 usbhid

hid_start 0627:0001@1-3 1-3:1.0 --count 2 --timeout 20000
inject 1 '{"type":"key","data":{"down":true,"key":{"type":"qcode","data":"a"}}}'
inject 2 '{"type":"key","data":{"down":false,"key":{"type":"qcode","data":"a"}}}'
hid_wait
expect "keyboard reports: 'a' down, up" 0 "00 00 04 00 00 00 00 00
00 00 00 00 00 00 00 00"
has "  ... found the boot keyboard" "$err" "hid: boot keyboard 0627:0001, interface 0"
vm_check "usbhid re-attached to the keyboard" vm_wait 20 bound 1-3:1.0 usbhid

# Under the resident host: a driver blocked waiting for an interrupt transfer is stopped at
# once (the wait is cancelled, the instance ends), and usbhid gets the interface back.
cat > /tmp/usb-drivers.toml <<EOF
[host]
socket = "/tmp/wasi-hw-usb.sock"

[[driver]]
name = "kbd"
module = "$PWD/hid.aot"
args = ["--count", "1", "--timeout", "600000"]
usb = ["0627:0001@1-3"]
restart = "never"
EOF
./wasi-hw serve --config /tmp/usb-drivers.toml >/tmp/userve.out 2>/tmp/userve.err &
userve=$!
vm_check "serve: the hid driver claimed 1-3:1.0 and waits for a report" vm_wait 30 bound 1-3:1.0 usbfs
sleep 0.5
# Hot update while it waits: the host keeps the claim and hands it to the new instance, so
# usbhid never gets the interface in between (each usbhid bind makes a new inputN).
last_input() { ls /sys/class/input | sed -n 's/^input//p' | sort -n | tail -n 1; }
inputs_before=$(last_input)
vm_eq "serve: hot update of the waiting hid driver" "updated kbd" \
  "$(./wasi-hw ctl --socket /tmp/wasi-hw-usb.sock update kbd "$PWD/hid.aot" 2>&1 | cut -d: -f1)"
has_handoff() {
  ./wasi-hw ctl --socket /tmp/wasi-hw-usb.sock status kbd | grep -q 'in use, handed over 1 time'
}
vm_check "  ... the new instance was handed the claimed device" vm_wait 10 has_handoff
vm_check "  ... usbfs kept the interface across the swap" bound 1-3:1.0 usbfs
vm_eq "  ... usbhid did not bind in between (last input device)" "$inputs_before" "$(last_input)"
t0=$(cut -d' ' -f1 /proc/uptime)
vm_eq "serve: stop while it waits in an interrupt transfer" "stopped kbd" \
  "$(./wasi-hw ctl --socket /tmp/wasi-hw-usb.sock stop kbd 2>&1)"
t1=$(cut -d' ' -f1 /proc/uptime)
vm_check "  ... within 2 s (took $t0 -> $t1)" awk "BEGIN { exit !($t1 - $t0 < 2) }"
vm_eq "  ... reported as stopped" "last exit: stopped by the host" \
  "$(./wasi-hw ctl --socket /tmp/wasi-hw-usb.sock status kbd | grep '^last exit:')"
vm_check "  ... usbhid re-attached to the keyboard" vm_wait 20 bound 1-3:1.0 usbhid
kill "$userve"; wait "$userve"
vm_eq "  ... the host exits cleanly" 0 "$?"

# Hot-unplug mid-transfer: the mouse is removed while the guest waits for a report; the
# pending interrupt transfer ends with no-device and the runtime exits normally (status 1
# from the guest's error path, no crash).
hid_start 0627:0001@1-2 1-2:1.0 --count 1 --timeout 30000
sleep 0.5
vm_qmp '{"execute":"device_del","arguments":{"id":"mouse"}}' >/dev/null
hid_wait
expect "mouse removed mid-transfer: guest fails cleanly" 1 ""
vm_eq "  ... error" "hid: error: report 0: no-device" "$(echo "$err" | grep '^hid: error')"
lacks "  ... no crash" "$err" "panicked"
vm_check "mouse gone from sysfs" vm_wait 10 [ ! -e /sys/bus/usb/devices/1-2 ]
hw --usb 0627:0001 lsusb.aot
expect "lsusb after unplug lists the keyboard only" 0 "$(usb_line 1-3)"

