# Harness self-test for the x86_64 (q35) VM: the emulated hardware the wasi-hw tests rely on
# is there and behaves as documented in scripts/vm/README.md, and the QMP channel works.
. /lib/vmtest.sh

# --- I2C: ICH9 SMBus (i801): SMBus-only adapter
b=$(vm_i2c_bus 'SMBus I801 adapter*')
vm_check "i801 adapter present" [ -n "$b" ]
vm_check "/dev/i2c-$b exists" [ -c "/dev/i2c-$b" ]
echo "i801 functionality (bus $b):"; i2cdetect -F "$b"
vm_check "i801 has no plain I2C (I2C_RDWR)" sh -c "i2cdetect -F $b | grep -q '^I2C  *no'"
scan=$(i2cdetect -y "$b" | tr -s ' ' | tr '\n' ' ')
for a in 49 50 51 52 53 54 55 56 57; do
  vm_check "device at 0x$a answers" sh -c "echo '$scan' | grep -q ' $a '"
done
vm_check "nothing at 0x48 on i801" sh -c "! i2cget -y $b 0x48 0x00 2>/dev/null"
edid=""
for r in 0 1 2 3 4 5 6 7; do edid="$edid$(i2cget -y "$b" 0x49 $r) "; done
vm_eq "i2c-ddc EDID header at 0x49" "0x00 0xff 0xff 0xff 0xff 0xff 0xff 0x00 " "$edid"
i2cset -y "$b" 0x51 0x10 0xa5
vm_eq "smbus-eeprom 0x51 write/read byte" 0xa5 "$(i2cget -y "$b" 0x51 0x10)"
i2cset -y "$b" 0x51 0x20 0x11 0x22 0x33 i
vm_eq "smbus-eeprom 0x51 i2c block write, byte reads" "0x11 0x22 0x33" \
  "$(i2cget -y "$b" 0x51 0x20) $(i2cget -y "$b" 0x51 0x21) $(i2cget -y "$b" 0x51 0x22)"

# --- I2C: the kernel's i2c-stub (a second SMBus-only adapter with register chips)
modprobe i2c-stub chip_addr=0x48
s=$(vm_i2c_bus 'SMBus stub driver*')
vm_check "i2c-stub adapter present" [ -n "$s" ]
i2cset -y "$s" 0x48 0x01 0xbeef w
vm_eq "i2c-stub word write/read" 0xbeef "$(i2cget -y "$s" 0x48 0x01 w)"
vm_check "i2c-stub: absent address 0x49 fails" sh -c "! i2cget -y $s 0x49 0x00 2>/dev/null"

# --- USB on xHCI
vm_check "usb-storage 46f4:0001 enumerated" vm_wait 20 vm_usb_dev 46f4 0001
vm_check "usb-mouse + usb-kbd (0627:0001) enumerated" vm_wait 20 sh -c \
  'grep -q "QEMU USB Mouse" /sys/bus/usb/devices/*/product && grep -q "QEMU USB Keyboard" /sys/bus/usb/devices/*/product' 
d=$(vm_usb_dev 46f4 0001)
node=$(printf '/dev/bus/usb/%03d/%03d' "$(cat "$d/busnum")" "$(cat "$d/devnum")")
vm_check "usbfs node $node" [ -c "$node" ]
vm_check "disk /dev/sda appears" vm_wait 20 [ -b /dev/sda ]
vm_eq "usb disk sector 5 content" "WASIHW-S0000005" "$(dd if=/dev/sda bs=512 skip=5 count=1 2>/dev/null | head -n1)"

# --- QMP from inside the guest: keyboard input reaches the HID report stream
kbd=$(vm_hidraw "*USB Keyboard")
vm_check "keyboard hidraw node" [ -n "$kbd" ]
dd if="$kbd" bs=8 count=1 of=/tmp/kbd.bin 2>/dev/null &
sleep 0.5
vm_qmp '{"execute":"input-send-event","arguments":{"events":[{"type":"key","data":{"down":true,"key":{"type":"qcode","data":"a"}}}]}}' >/dev/null
vm_check "key report arrived" vm_wait 10 [ -s /tmp/kbd.bin ]
vm_eq "HID usage of 'a' in report byte 2" "04" "$(od -An -tx1 -j2 -N1 /tmp/kbd.bin | tr -d ' ')"

# --- QMP device_del: hot-unplug the mouse
vm_qmp '{"execute":"device_del","arguments":{"id":"mouse"}}' >/dev/null
vm_check "mouse gone after device_del" vm_wait 10 sh -c '! grep -q "QEMU USB Mouse" /sys/bus/usb/devices/*/product'

vm_done
