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
. /lib/vmtest-parts/xhci-usb.sh

# ================================================================ least privilege
PRIV_BUS=$STUB PRIV_I2C="$STUB:0x48" PRIV_USB=46f4:0001 PRIV_USB_IF=2-1:1.0 PRIV_BLOCK=5
. /lib/vmtest-parts/least-privilege.sh

vm_done
