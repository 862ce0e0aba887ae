# In-VM tests of wasi-hw on the Raspberry Pi machines: armv7 (raspi2b, Debian armmp kernel)
# and aarch64 (raspi3b, Debian arm64 kernel; tests/raspi3b.sh is a link to this file). The
# static gateway runtime and its AOT drivers against the i2c-dev backend on the bcm2835 BSC1
# controller (full I2C: a TMP105 at 0x48 and a 256-byte at24c EEPROM at 0x50) and the nusb
# backend on dwc2 USB. Run by scripts/vm/ci.sh (payload: scripts/vm/build-payload.sh
# MACHINE); devices: scripts/vm/README.md. Every check compares with a known value.
. /lib/vmtest.sh

b=$(vm_i2c_bus '*i2c@7e804000')
vm_check "BSC1 (i2c@7e804000) adapter present" [ -n "$b" ]
BUS=/dev/i2c-$b
vm_eq "runtime and AOT code run on $(cat /etc/vmtest/machine)" "hello from wasm" "$(./wasi-hw run hello.aot | head -n1)"

# tmp105_set MILLI_C: set the sensor's temperature from the host side (QMP qom-set).
tmp105_set() {
  vm_qmp "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/tmp105\",\"property\":\"temperature\",\"value\":$1}}" >/dev/null
}
temp() { hw --i2c "$BUS:0x48" temp-sensor.aot -- --bus "$BUS" "$@"; }
tool() { hw --i2c "$BUS:$grant" i2c-tool.aot -- --bus "$BUS" "$@"; }
# i2cread ADDR REG N: N bytes from register REG with busybox i2ctransfer (independent of us).
i2cread() { i2ctransfer -y "$b" "w1@$1" "$2" "r$3"; }

# ================================================================ TMP105 (QEMU model, 0x48)
# Power-on resolution is 9 bits (0.5 C): the value set over QMP comes back exactly.
tmp105_set 25500
trace_start; temp
expect "temp-sensor reads 25.5 C set over QMP" 0 "temperature: 25.50 C"
vm_eq "  ... one I2C_RDWR transfer: register pointer write, repeated start, 2-byte read" \
  "i2c_write #0 a=048 l=1 [00]|i2c_read #1 a=048 l=2" "$(trace_ops | tr '\n' '|' | sed 's/|$//')"
tmp105_set -10500
temp --count 2
expect "temp-sensor reads -10.5 C, twice" 0 "temperature: -10.50 C
temperature: -10.50 C"
# 12-bit resolution (config register 1, R1:R0 = 11): quarter and sixteenth degrees.
grant=0x48
tool write 0x48 0160
expect "TMP105 config write (12-bit resolution)" 0 "ok"
tool write-read 0x48 01 1
expect "TMP105 config read back" 0 "60"
tmp105_set -10250
temp
expect "temp-sensor reads -10.25 C (12-bit)" 0 "temperature: -10.25 C"
tool write-read 0x48 00 2
expect "  ... raw register, MSB first" 0 "f5 c0"
# QEMU keeps 1/256 C; 25.375 C (an eighth: finer is not a whole milli-degree) prints as
# 25.38 under either rounding rule.
tmp105_set 25375
temp
expect "temp-sensor reads 25.375 C (beyond 9-bit resolution)" 0 "temperature: 25.38 C"
vm_eq "  ... busybox i2ctransfer sees the same register" "0x19 0x60" "$(i2cread 0x48 0x00 2)"

# ================================================================ at24c EEPROM (0x50, 1-byte addressing)
# 18 bytes across a 16-byte page boundary (two page writes with ACK polling), read back as
# one 32-byte read and checked with i2ctransfer.
ee() { hw --i2c "$BUS:0x50" eeprom.aot -- --bus "$BUS" --addr-bytes 1 --page-size 16 "$@"; }
ee write 0x28 00112233445566778899aabbccddeeff0102
expect "eeprom write 18 bytes at 0x28 (crosses the page at 0x30)" 0 "wrote 18 bytes at 0x0028"
ee read 0x20 32
expect "eeprom read back 32 bytes" 0 "0020: 00 00 00 00 00 00 00 00 00 11 22 33 44 55 66 77
0030: 88 99 aa bb cc dd ee ff 01 02 00 00 00 00 00 00"
vm_eq "  ... i2ctransfer reads the same" "0x00 0x11 0x22 0x33 0x44 0x55 0x66 0x77 0x88 0x99 0xaa 0xbb 0xcc 0xdd 0xee 0xff 0x01 0x02" \
  "$(i2cread 0x50 0x28 18)"
grant=0x50
trace_start; tool write-read 0x50 0x30 4
expect "i2c-tool write-read 4 bytes" 0 "88 99 aa bb"
vm_eq "  ... one transfer with repeated start" "i2c_write #0 a=050 l=1 [30]|i2c_read #1 a=050 l=4" \
  "$(trace_ops | tr '\n' '|' | sed 's/|$//')"
tool transaction 0x50 w:2c r:2 r:2
expect "transaction w:2c r:2 r:2 (reads merged into one message, scattered back)" 0 "44 55
66 77"
trace_start; tool write 0x50 ""
expect "probe write of 0 bytes" 0 "ok"
vm_eq "  ... one empty I2C_RDWR write message" "i2c_write #0 a=050 l=0 []" "$(trace_ops)"
tool write 0x50 40a1b2c3d4
expect "i2c-tool write 5 bytes" 0 "ok"
vm_eq "  ... i2ctransfer" "0xa1 0xb2 0xc3 0xd4" "$(i2cread 0x50 0x40 4)"

# ================================================================ errors
# Absent device: the bcm2835 reports a NAK as EREMOTEIO, without saying which phase.
grant=0x30
trace_start; tool read 0x30 1
expect "absent address 0x30" 1 ""
vm_eq "  ... error" "i2c-tool: error: no-acknowledge(unknown)" "$(echo "$err" | grep '^i2c-tool:')"
vm_eq "  ... the address was tried on the bus" "i2c_read #0 a=030 l=1" "$(trace_ops)"
hw --i2c "$BUS:0x4a" temp-sensor.aot -- --bus "$BUS" --addr 0x4a
expect "temp-sensor at absent 0x4a" 1 ""
vm_eq "  ... error" "temp-sensor: error: reading 0x4a on $BUS: no-acknowledge(unknown)" "$(echo "$err" | grep '^temp-sensor:')"

# Denied address: the grant is 0x48 only; the EEPROM driver asked for 0x50 is refused by
# the host before any bus traffic, and the EEPROM keeps its content.
trace_start
hw --i2c "$BUS:0x48" eeprom.aot -- --bus "$BUS" --addr-bytes 1 write 0x28 ffff
expect "eeprom write to ungranted 0x50 refused" 1 ""
has "  ... logged as denied" "$err" "at address 0x50 on bus $BUS denied: address not granted"
hw --i2c "$BUS:0x48" eeprom.aot -- --bus "$BUS" --addr-bytes 1 read 0x28 2
expect "eeprom read from ungranted 0x50 refused" 1 ""
hw --i2c "$BUS:0x50" temp-sensor.aot -- --bus "$BUS"
expect "temp-sensor with only 0x50 granted refused" 1 ""
vm_eq "  ... no bus traffic at all" "" "$(trace_ops)"
vm_eq "  ... EEPROM unchanged" "0x00 0x11" "$(i2cread 0x50 0x28 2)"
grant=0x48,0x50
trace_start; tool scan
expect "scan lists the granted devices" 0 "0x48
0x50"
vm_eq "  ... and probed only them" "i2c_read #0 a=048 l=1|i2c_read #0 a=050 l=1" "$(trace_ops | tr '\n' '|' | sed 's/|$//')"

# An I2C_RDWR the controller cannot do (a read that is not the last message): the kernel
# driver refuses it with EOPNOTSUPP, reported as `other`.
grant=0x50
tool transaction 0x50 w:28 r:1 w:29 r:1
expect "w r w r transaction refused by the bcm2835 driver" 1 ""
vm_eq "  ... error" "i2c-tool: error: other" "$(echo "$err" | grep '^i2c-tool:')"
has "  ... logged" "$err" "I2C_RDWR: the adapter does not support this operation"

# ================================================================ resident host: hot update on a real bus
# temp-sensor runs under `wasi-hw serve`, reading every 20 ms through i2c-dev; it is
# hot-updated to a second build (the interpreted .wasm) and back while the temperature is
# changed over QMP. Every reading is one of the temperatures set (none failed or torn),
# each of them is seen, and the host's counters show no failed or half-done transaction.
tmp105_set 21000
cat > /tmp/drivers.toml <<EOF
[host]
socket = "/tmp/wasi-hw.sock"

[[driver]]
name = "temp"
module = "$PWD/temp-sensor.aot"
args = ["--bus", "$BUS", "--count", "100000000", "--interval-ms", "20"]
i2c = ["$BUS:0x48"]
EOF
./wasi-hw serve --config /tmp/drivers.toml >/tmp/serve.out 2>/tmp/serve.err &
serve_pid=$!
ctl() { ./wasi-hw ctl --socket /tmp/wasi-hw.sock "$@"; }
vm_check "serve: the driver runs" vm_wait 60 sh -c "./wasi-hw ctl --socket /tmp/wasi-hw.sock status temp 2>/dev/null | grep -qx 'state: running'"
sleep 1
vm_eq "serve: hot update to the interpreted build" "updated temp" "$(ctl update temp "$PWD/temp-sensor.wasm" | cut -d: -f1)"
tmp105_set 23500
sleep 1
vm_eq "serve: hot update back to the AOT build" "updated temp" "$(ctl update temp "$PWD/temp-sensor.aot" | cut -d: -f1)"
tmp105_set 26000
sleep 1
# Stopped between host calls: then no transaction can be on the wire.
vm_eq "serve: stop" "stopped temp" "$(ctl stop temp)"
st=$(ctl status temp)
vm_eq "serve: three instances, one per module" "runs: 3" "$(echo "$st" | grep '^runs:')"
vm_check "serve: no failed and no half-done transaction" sh -c "echo '$st' | grep -q '^i2c $BUS: [0-9]* transactions, 0 failed, 0 in flight'"
kill "$serve_pid"; wait "$serve_pid"
vm_eq "serve: exits cleanly on SIGTERM" 0 "$?"
vm_eq "serve: every reading is a temperature that was set" "" \
  "$(grep -v -E '^temp: temperature: (21.00|23.50|26.00) C$' /tmp/serve.out | head -n 3)"
for t in 21.00 23.50 26.00; do
  vm_check "serve: $t C read before or after an update" grep -qx "temp: temperature: $t C" /tmp/serve.out
done

# ================================================================ USB on dwc2 (behind QEMU's hub at 1-1)
vm_check "usb-storage (1-1.1) bound to usb-storage, disk probed" vm_wait 120 usb_disk_ready 1-1.1:1.0
vm_check "usb-mouse (1-1.2) and usb-kbd (1-1.3) bound to usbhid" vm_wait 60 \
  sh -c '[ "$(basename "$(readlink /sys/bus/usb/devices/1-1.2:1.0/driver)")" = usbhid ] && [ "$(basename "$(readlink /sys/bus/usb/devices/1-1.3:1.0/driver)")" = usbhid ]'
hw lsusb.aot
expect "lsusb without a grant lists nothing" 0 ""
hw --usb 46f4:0001 lsusb.aot
expect "lsusb with the disk granted" 0 "$(usb_line 1-1.1)"
hw --usb '*:*' lsusb.aot
expect "lsusb with everything granted" 0 "$(usb_line 1-1; usb_line 1-1.1; usb_line 1-1.2; usb_line 1-1.3)"

hw --usb 46f4:0001 usb-storage.aot 1234
vm_eq "usb-storage block 1234: device line" "Device: $(usb_line 1-1.1 | cut -d' ' -f1-6), interface 0 (bulk IN 0x81, OUT 0x02)" \
  "$(echo "$out" | sed -n 1p)"
vm_eq "usb-storage block 1234: capacity" "Capacity: 2048 blocks of 512 bytes (1048576 bytes)" "$(echo "$out" | grep '^Capacity')"
vm_eq "usb-storage block 1234: first line" "0009a400  57 41 53 49 48 57 2d 53  30 30 30 31 32 33 34 0a  |WASIHW-S0001234.|" \
  "$(echo "$out" | grep -A1 '^Block 1234:$' | tail -n1)"
vm_eq "usb-storage block 1234: 32 records" 32 "$(echo "$out" | grep -c '|WASIHW-S0001234.|$')"
vm_eq "usb-storage exit status" 0 "$rc"
vm_check "usb-storage driver re-attached, disk probed" vm_wait 120 usb_disk_ready 1-1.1:1.0

hid_start 0627:0001@1-1.2 1-1.2:1.0 --count 3 --timeout 30000
inject 1 '{"type":"rel","data":{"axis":"x","value":-7}}'
inject 2 '{"type":"btn","data":{"down":true,"button":"right"}}'
inject 3 '{"type":"btn","data":{"down":false,"button":"right"}}'
hid_wait
expect "mouse reports: x-7, right button down, up" 0 "00 f9 00 00
02 00 00 00
00 00 00 00"

# Unplug the keyboard while the guest waits for its report.
hid_start 0627:0001@1-1.3 1-1.3:1.0 --count 1 --timeout 30000
sleep 0.5
vm_qmp '{"execute":"device_del","arguments":{"id":"kbd"}}' >/dev/null
hid_wait
expect "keyboard removed mid-transfer: guest fails cleanly" 1 ""
vm_eq "  ... error" "hid: error: report 0: no-device" "$(echo "$err" | grep '^hid: error')"
lacks "  ... no crash" "$err" "panicked"

# ================================================================ least privilege
PRIV_BUS=$BUS PRIV_I2C="$BUS:0x48" PRIV_USB=46f4:0001 PRIV_USB_IF=1-1.1:1.0 PRIV_BLOCK=1234
. /lib/vmtest-parts/least-privilege.sh

vm_done
