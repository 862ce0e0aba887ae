# In-VM tests of wasi-hw on x86_64 (q35, Debian amd64 kernel): the i2c-dev backend on the
# SMBus-only i801 adapter and on i2c-stub, and the nusb (usbfs) backend on QEMU's xHCI
# devices. Run by scripts/vm/ci.sh (payload: scripts/vm/build-payload.sh x86_64); devices
# and their known contents: scripts/vm/README.md. Every check compares with a known value.
. /lib/vmtest.sh

b=$(vm_i2c_bus 'SMBus I801 adapter*')
vm_check "i801 SMBus adapter present" [ -n "$b" ]
I801=/dev/i2c-$b

# ================================================================ I2C on the i801 (SMBus only)
# The backend maps each transaction onto the one SMBus command with the same wire bytes; the
# kernel's tracepoints show which command reached the adapter.
tool() { hw --i2c "$I801:$grant" i2c-tool.aot -- --bus "$I801" "$@"; }

# Scan: only granted addresses are probed (0x30 absent, 0x49 EDID, 0x50 SPD EEPROM); the
# ungranted 0x51-0x57 EEPROMs do answer on the bus but must be neither probed nor listed.
grant=0x30,0x49,0x50
trace_start; tool scan
expect "i801 scan of the granted addresses" 0 "0x49
0x50"
vm_eq "i801 scan touched only granted addresses" "a=030 a=049 a=050" \
  "$(trace_ops | sed -n 's/.* \(a=[0-9a-f]*\) .*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//')"

# EDID (i2c-ddc at 0x49): header 00 ff ff ff ff ff ff 00, bytes 8-11 49 14 34 12.
grant=0x49
trace_start; tool write-read 0x49 08 1
expect "EDID byte 8 (write-read 1 -> SMBus read byte data)" 0 "49"
vm_eq "  ... on the bus" "smbus_read a=049 c=8 BYTE_DATA" "$(trace_ops)"
trace_start; tool write-read 0x49 08 2
expect "EDID bytes 8-9 (write-read 2 -> SMBus read word data)" 0 "49 14"
vm_eq "  ... on the bus" "smbus_read a=049 c=8 WORD_DATA" "$(trace_ops)"
tool write-read 0x49 0x0a 2
expect "EDID bytes 10-11 (word, byte order)" 0 "34 12"
tool write-read 0x49 0x00 2
expect "EDID bytes 0-1" 0 "00 ff"

# SMBus EEPROM (smbus-eeprom at 0x50, zero-filled at boot): each write form, checked with
# busybox i2cget (independent of our backend) and read back through the backend.
grant=0x50
trace_start; tool write 0x50 105a
expect "EEPROM write 2 bytes (-> SMBus write byte data)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=050 c=10 BYTE_DATA l=1 [5a]" "$(trace_ops)"
vm_eq "  ... i2cget 0x10" 0x5a "$(i2cget -y "$b" 0x50 0x10)"
trace_start; tool write 0x50 20a53c
expect "EEPROM write 3 bytes (-> SMBus write word data)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=050 c=20 WORD_DATA l=2 [a5-3c]" "$(trace_ops)"
vm_eq "  ... i2cget 0x20 0x21" "0xa5 0x3c" "$(i2cget -y "$b" 0x50 0x20) $(i2cget -y "$b" 0x50 0x21)"
trace_start; tool write 0x50 30deadbeef
expect "EEPROM write 5 bytes (-> SMBus I2C block write)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=050 c=30 I2C_BLOCK_DATA l=5 [04-de-ad-be-ef]" "$(trace_ops)"
vm_eq "  ... i2cget 0x30-0x33" "0xde 0xad 0xbe 0xef" \
  "$(for r in 0x30 0x31 0x32 0x33; do i2cget -y "$b" 0x50 $r; done | tr '\n' ' ' | sed 's/ $//')"
tool write-read 0x50 0x10 1
expect "EEPROM read back byte 0x10" 0 "5a"
tool write-read 0x50 0x20 2
expect "EEPROM read back word 0x20" 0 "a5 3c"
tool transaction 0x50 w:32 r:2
expect "EEPROM transaction w:32 r:2 (word)" 0 "be ef"
trace_start; tool write 0x50 ""
expect "probe write of 0 bytes (-> SMBus quick)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=050 c=0 QUICK l=0 []" "$(trace_ops)"
trace_start; tool write 0x50 32
expect "EEPROM write 1 byte (-> SMBus send byte: sets the pointer)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=050 c=32 BYTE l=0 []" "$(trace_ops)"
tool read 0x50 1
expect "EEPROM read 1 byte (-> SMBus receive byte) at the pointer" 0 "be"

# The eeprom driver (1-byte addressing, 24C02-like): page write + ACK polling, then read.
hw --i2c "$I801:0x50" eeprom.aot -- --bus "$I801" --addr-bytes 1 write 0x40 c0ffee
expect "eeprom driver write 3 bytes at 0x40" 0 "wrote 3 bytes at 0x0040"
vm_eq "  ... i2cget 0x40-0x42" "0xc0 0xff 0xee" \
  "$(for r in 0x40 0x41 0x42; do i2cget -y "$b" 0x50 $r; done | tr '\n' ' ' | sed 's/ $//')"
hw --i2c "$I801:0x50" eeprom.aot -- --bus "$I801" --addr-bytes 1 read 0x41 1
expect "eeprom driver read 1 byte at 0x41" 0 "0041: ff"

# Operations with no SMBus equivalent are refused with `other`, before any bus traffic.
trace_start; tool read 0x50 2
expect "plain 2-byte read refused on SMBus-only adapter" 1 ""
vm_eq "  ... error" "i2c-tool: error: other" "$(echo "$err" | grep '^i2c-tool:')"
has "  ... logged as not supported" "$err" "supports only SMBus; operation read 2 byte(s) not supported"
trace_start; tool transaction 0x50 w:10 r:1 w:20 r:1
expect "two write-read pairs in one transaction refused" 1 ""
has "  ... logged as not supported" "$err" "operation write 1 byte(s) + read 1 byte(s) + write 1 byte(s) + read 1 byte(s) not supported"
hw --i2c "$I801:0x50" eeprom.aot -- --bus "$I801" --addr-bytes 2 read 0 4
expect "2-byte memory address (24C32 random read) refused" 1 ""
has "  ... logged as not supported" "$err" "operation write 2 byte(s) + read 4 byte(s) not supported"
vm_eq "  ... none of the refused operations reached the bus" "" "$(trace_ops)"

# Absent device: no-acknowledge from the address phase (i801: ENXIO).
grant=0x30
trace_start; tool read 0x30 1
expect "absent address 0x30" 1 ""
vm_eq "  ... error" "i2c-tool: error: no-acknowledge(address)" "$(echo "$err" | grep '^i2c-tool:')"
vm_eq "  ... the address was tried on the bus" "smbus_read a=030 c=0 BYTE" "$(trace_ops)"

# Denied address: 0x50 is not granted; refused by the host, nothing on the bus, the EEPROM
# unchanged.
grant=0x49
trace_start; tool write 0x50 1077
expect "write to ungranted 0x50 refused" 1 ""
vm_eq "  ... error" "i2c-tool: error: other" "$(echo "$err" | grep '^i2c-tool:')"
has "  ... logged as denied" "$err" "at address 0x50 on bus $I801 denied: address not granted"
tool write-read 0x50 0x10 1
expect "read from ungranted 0x50 refused" 1 ""
vm_eq "  ... no bus traffic" "" "$(trace_ops)"
vm_eq "  ... EEPROM byte 0x10 unchanged" 0x5a "$(i2cget -y "$b" 0x50 0x10)"
hw --i2c "$I801:0x49" temp-sensor.aot -- --bus /dev/i2c-9
expect "ungranted bus refused" 1 ""
has "  ... logged" "$err" "denied: no --i2c grant for this bus"

# ================================================================ I2C on i2c-stub (SMBus only, exact)
# Register chips in software: exact multi-byte I2C block reads (the i801 emulation corrupts
# their last byte, see the README), and a TMP102-style register for the temp-sensor driver.
modprobe i2c-stub chip_addr=0x48,0x50
vm_check "i2c-stub adapter present" vm_wait 10 vm_i2c_bus 'SMBus stub driver|*'
s=$(vm_i2c_bus 'SMBus stub driver|*')
vm_check "/dev/i2c-$s exists" vm_wait 10 [ -c "/dev/i2c-$s" ]
STUB=/dev/i2c-$s
# TMP10x temperature register, 12-bit left-justified, MSB first on the wire (SMBus words are
# little endian, so i2cset's word is byte-swapped): 25.5 C = 0x1980, -10.25 C = 0xf5c0.
i2cset -y "$s" 0x48 0x00 0x8019 w
trace_start; hw --i2c "$STUB:0x48" temp-sensor.aot -- --bus "$STUB"
expect "temp-sensor on i2c-stub: 25.5 C" 0 "temperature: 25.50 C"
vm_eq "  ... on the bus" "smbus_read a=048 c=0 WORD_DATA" "$(trace_ops)"
i2cset -y "$s" 0x48 0x00 0xc0f5 w
hw --i2c "$STUB:0x48" temp-sensor.aot -- --bus "$STUB" --count 2
expect "temp-sensor on i2c-stub: -10.25 C, twice" 0 "temperature: -10.25 C
temperature: -10.25 C"
# 16-byte page write and read back: SMBus I2C block write + I2C block read.
trace_start
hw --i2c "$STUB:0x50" eeprom.aot -- --bus "$STUB" --addr-bytes 1 --page-size 16 write 0x20 00112233445566778899aabbccddeeff
expect "eeprom driver on i2c-stub: write 16 bytes" 0 "wrote 16 bytes at 0x0020"
hw --i2c "$STUB:0x50" eeprom.aot -- --bus "$STUB" --addr-bytes 1 read 0x20 16
expect "eeprom driver on i2c-stub: read back 16 bytes" 0 "0020: 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff"
has "  ... the read was one I2C block read" "$(trace_ops)" "smbus_read a=050 c=20 I2C_BLOCK_DATA"
vm_eq "  ... i2cget 0x27 0x2f" "0x77 0xff" "$(i2cget -y "$s" 0x50 0x27) $(i2cget -y "$s" 0x50 0x2f)"
hw --i2c "$STUB:0x49" i2c-tool.aot -- --bus "$STUB" read 0x49 1
expect "i2c-stub: absent address 0x49" 1 ""
vm_eq "  ... error (i2c-stub answers ENODEV, not a NAK errno)" "i2c-tool: error: other" "$(echo "$err" | grep '^i2c-tool:')"

# ================================================================ USB on xHCI (nusb over usbfs)
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

vm_done
