# In-VM tests of wasi-hw on mipsel (QEMU malta, 24Kf, Debian 4kc-malta kernel): the static
# mipsel gateway runtime and its mipsel AOT drivers against the i2c-dev backend on the
# PIIX4's SMBus (SMBus only, not even I2C block transfers) and the nusb (usbfs) backend on a
# PCI xHCI. Run by scripts/vm/ci.sh malta (payload: scripts/vm/build-payload.sh malta);
# devices: scripts/vm/README.md. Every check compares with a known value.
#
# Debian's malta kernel has no i2c-stub; the I2C devices are QEMU's eight smbus-eeprom at
# 0x50-0x57 (0x50: the SPD of the 256 MiB of RAM, 0x51-0x57 zero-filled at boot) and an
# i2c-ddc at 0x48 (EDID: 00 ff ff ff ff ff ff 00, bytes 8-11 49 14 34 12). The SMBus
# driver gets the PIIX4 for the I2C half and gives it back to the poweroff driver after
# (malta_smbus, /lib/vmtest.sh).
. /lib/vmtest.sh

malta_smbus on
vm_check "PIIX4 SMBus adapter present" vm_wait 10 vm_i2c_bus 'SMBus PIIX4 adapter*'
b=$(vm_i2c_bus 'SMBus PIIX4 adapter*')
vm_check "/dev/i2c-$b exists" vm_wait 10 [ -c "/dev/i2c-$b" ]
BUS=/dev/i2c-$b
vm_eq "runtime and AOT code run on $(uname -m)" "hello from wasm" "$(./wasi-hw run hello.aot | head -n1)"

tool() { hw --i2c "$BUS:$grant" i2c-tool.aot -- --bus "$BUS" "$@"; }

# ================================================================ scan
# Only granted addresses are probed (0x30 absent, 0x48 EDID, 0x50 and 0x51 EEPROMs); the
# ungranted 0x52-0x57 answer on the bus but are neither probed nor listed.
grant=0x30,0x48,0x50,0x51
trace_start; tool scan
expect "scan of the granted addresses" 0 "0x48
0x50
0x51"
vm_eq "  ... touched only granted addresses" "a=030 a=048 a=050 a=051" \
  "$(trace_ops | sed -n 's/.* \(a=[0-9a-f]*\) .*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//')"

# ================================================================ SPD EEPROM (0x50)
# QEMU's malta SPD for 256 MiB: 80 08 08 0d 0a 02 40 00 01 75 54 ...
grant=0x50
trace_start; tool write-read 0x50 00 1
expect "SPD byte 0 (write-read 1 -> SMBus read byte data)" 0 "80"
vm_eq "  ... on the bus" "smbus_read a=050 c=0 BYTE_DATA" "$(trace_ops)"
trace_start; tool write-read 0x50 09 2
expect "SPD bytes 9-10 (write-read 2 -> SMBus read word data)" 0 "75 54"
vm_eq "  ... on the bus" "smbus_read a=050 c=9 WORD_DATA" "$(trace_ops)"
vm_eq "  ... busybox i2cget reads the same" "0x75 0x54" "$(i2cget -y "$b" 0x50 0x09) $(i2cget -y "$b" 0x50 0x0a)"

# ================================================================ EEPROM 0x51: each write form
grant=0x51
trace_start; tool write 0x51 105a
expect "EEPROM write 2 bytes (-> SMBus write byte data)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=051 c=10 BYTE_DATA l=1 [5a]" "$(trace_ops)"
vm_eq "  ... i2cget 0x10" 0x5a "$(i2cget -y "$b" 0x51 0x10)"
trace_start; tool write 0x51 20a53c
expect "EEPROM write 3 bytes (-> SMBus write word data)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=051 c=20 WORD_DATA l=2 [a5-3c]" "$(trace_ops)"
vm_eq "  ... i2cget 0x20 0x21" "0xa5 0x3c" "$(i2cget -y "$b" 0x51 0x20) $(i2cget -y "$b" 0x51 0x21)"
tool write-read 0x51 0x20 2
expect "EEPROM read back word 0x20" 0 "a5 3c"
trace_start; tool write 0x51 ""
expect "probe write of 0 bytes (-> SMBus quick)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=051 c=0 QUICK l=0 []" "$(trace_ops)"
trace_start; tool write 0x51 20
expect "EEPROM write 1 byte (-> SMBus send byte: sets the pointer)" 0 "ok"
vm_eq "  ... on the bus" "smbus_write a=051 c=20 BYTE l=0 []" "$(trace_ops)"
tool read 0x51 1
expect "EEPROM read 1 byte (-> SMBus receive byte) at the pointer" 0 "a5"

# The PIIX4 has no I2C block transfers: what needs one is refused before any bus traffic
# (its SMBus block commands put a count byte on the wire, so they are never substituted).
trace_start; tool write 0x51 30deadbeef
expect "5-byte write refused (no I2C block write on the PIIX4)" 1 ""
vm_eq "  ... error" "i2c-tool: error: other" "$(echo "$err" | grep '^i2c-tool:')"
has "  ... logged as not supported" "$err" "supports only SMBus; operation write 5 byte(s) not supported"
tool write-read 0x51 0x20 4
expect "4-byte register read refused (no I2C block read)" 1 ""
has "  ... logged as not supported" "$err" "operation write 1 byte(s) + read 4 byte(s) not supported"
tool read 0x51 2
expect "plain 2-byte read refused" 1 ""
vm_eq "  ... none of the refused operations reached the bus" "" "$(trace_ops)"

# The eeprom driver with 1-byte pages (each a write byte data, ACK polling by send byte).
hw --i2c "$BUS:0x51" eeprom.aot -- --bus "$BUS" --addr 0x51 --addr-bytes 1 --page-size 1 write 0x40 c0ffee
expect "eeprom driver write 3 bytes at 0x40, 1-byte pages" 0 "wrote 3 bytes at 0x0040"
vm_eq "  ... i2cget 0x40-0x42" "0xc0 0xff 0xee" \
  "$(for r in 0x40 0x41 0x42; do i2cget -y "$b" 0x51 $r; done | tr '\n' ' ' | sed 's/ $//')"
hw --i2c "$BUS:0x51" eeprom.aot -- --bus "$BUS" --addr 0x51 --addr-bytes 1 read 0x41 2
expect "eeprom driver read 2 bytes at 0x41" 0 "0041: ff ee"

# temp-sensor on the EDID at 0x48: its TMP102 register read (pointer 0, 2 bytes MSB first)
# is one SMBus read word data and gets EDID bytes 0-1, 00 ff. Bit 0 of the second byte set
# means extended (13-bit) mode on a TMP102: 0x00ff >> 3 = 31 sixteenths = 1.9375 C.
trace_start; hw --i2c "$BUS:0x48" temp-sensor.aot -- --bus "$BUS"
expect "temp-sensor on the EDID (register 0 = 00 ff, 13-bit): 1.94 C" 0 "temperature: 1.94 C"
vm_eq "  ... on the bus" "smbus_read a=048 c=0 WORD_DATA" "$(trace_ops)"
hw --interp --i2c "$BUS:0x48" temp-sensor.wasm -- --bus "$BUS" --count 2
expect "temp-sensor interpreted, twice" 0 "temperature: 1.94 C
temperature: 1.94 C"
grant=0x48
tool write-read 0x48 08 2
expect "EDID bytes 8-9 (word, byte order)" 0 "49 14"

# ================================================================ errors
# Absent device: no-acknowledge from the address phase (PIIX4: ENXIO).
grant=0x30
trace_start; tool read 0x30 1
expect "absent address 0x30" 1 ""
vm_eq "  ... error" "i2c-tool: error: no-acknowledge(address)" "$(echo "$err" | grep '^i2c-tool:')"
vm_eq "  ... the address was tried on the bus" "smbus_read a=030 c=0 BYTE" "$(trace_ops)"
# Denied address: the grant is 0x50 only; a write to 0x51 never reaches the bus.
grant=0x50
trace_start; tool write 0x51 1077
expect "write to ungranted 0x51 refused" 1 ""
has "  ... logged as denied" "$err" "at address 0x51 on bus $BUS denied: address not granted"
vm_eq "  ... no bus traffic" "" "$(trace_ops)"
vm_eq "  ... EEPROM byte 0x10 unchanged" 0x5a "$(i2cget -y "$b" 0x51 0x10)"
hw --i2c "$BUS:0x50" temp-sensor.aot -- --bus /dev/i2c-9
expect "ungranted bus refused" 1 ""
has "  ... logged" "$err" "denied: no --i2c grant for this bus"

# ================================================================ least privilege
PRIV_BUS=$BUS PRIV_I2C="$BUS:0x48"
. /lib/vmtest-parts/least-privilege.sh

malta_smbus off

# ================================================================ USB on xHCI (nusb over usbfs)
. /lib/vmtest-parts/xhci-usb.sh

vm_done
