# Harness self-test for the armv7 raspi2b VM: the emulated hardware the wasi-hw tests rely on
# is there and behaves as documented in scripts/vm/README.md, and the QMP channel works.
. /lib/vmtest.sh

# --- I2C: three bcm2835 (BSC) controllers, full I2C; our devices sit on BSC1
vm_eq "bcm2835 i2c adapters" 3 "$(cat /sys/bus/i2c/devices/i2c-*/name | grep -c '^bcm2835')"
b=$(vm_i2c_bus '*i2c@7e804000')
vm_check "BSC1 (i2c@7e804000) adapter present" [ -n "$b" ]
vm_check "/dev/i2c-$b exists" [ -c "/dev/i2c-$b" ]
echo "bcm2835 functionality (bus $b):"; i2cdetect -F "$b"
vm_check "bcm2835 supports plain I2C (I2C_RDWR)" sh -c "i2cdetect -F $b | grep -q '^I2C  *yes'"
scan=$(i2cdetect -y "$b" | tr -s ' ' | tr '\n' ' ')
vm_check "tmp105 at 0x48 answers" sh -c "echo '$scan' | grep -q ' 48 '"
vm_check "at24c-eeprom at 0x50 answers" sh -c "echo '$scan' | grep -q ' 50 '"
vm_check "absent address 0x30 is not acknowledged" sh -c "! i2ctransfer -y $b r1@0x30 2>/dev/null"

# tmp105: the host sets the temperature over QMP, the guest reads the register (MSB first;
# i2cget's SMBus word is little endian, so 25.5 C = 0x1980 reads as 0x8019).
vm_qmp '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/tmp105","property":"temperature","value":25500}}' >/dev/null
vm_eq "tmp105 25.5 C via SMBus word" 0x8019 "$(i2cget -y "$b" 0x48 0x00 w)"
vm_qmp '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/tmp105","property":"temperature","value":-10000}}' >/dev/null
vm_eq "tmp105 -10 C via I2C_RDWR write+read" "0xf6 0x00" "$(i2ctransfer -y "$b" w1@0x48 0x00 r2)"
vm_eq "tmp105 temperature property read back over QMP" '{"return":-10000}' \
  "$(vm_qmp '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/tmp105","property":"temperature"}}')"

# at24c-eeprom (256 bytes, 1-byte word address): write then read back in one repeated-start transfer
i2ctransfer -y "$b" w5@0x50 0x20 0xde 0xad 0xbe 0xef
vm_eq "eeprom write/read back (I2C_RDWR)" "0xde 0xad 0xbe 0xef" "$(i2ctransfer -y "$b" w1@0x50 0x20 r4)"
i2cset -y "$b" 0x50 0x10 0x5a
vm_eq "eeprom write/read byte (SMBus)" 0x5a "$(i2cget -y "$b" 0x50 0x10)"

# --- USB on dwc2 (devices sit behind QEMU's USB hub 0409:55aa)
vm_check "usb-storage 46f4:0001 enumerated" vm_wait 30 vm_usb_dev 46f4 0001
vm_check "usb-mouse + usb-kbd (0627:0001) enumerated" vm_wait 30 sh -c \
  'grep -q "QEMU USB Mouse" /sys/bus/usb/devices/*/product && grep -q "QEMU USB Keyboard" /sys/bus/usb/devices/*/product'
d=$(vm_usb_dev 46f4 0001)
node=$(printf '/dev/bus/usb/%03d/%03d' "$(cat "$d/busnum")" "$(cat "$d/devnum")")
vm_check "usbfs node $node" [ -c "$node" ]
vm_check "disk /dev/sda appears" vm_wait 30 [ -b /dev/sda ]
vm_eq "usb disk sector 7 content" "WASIHW-S0000007" "$(dd if=/dev/sda bs=512 skip=7 count=1 2>/dev/null | head -n1)"

# --- QMP: mouse input reaches the HID report stream; device_del unplugs the keyboard
mouse=$(vm_hidraw "*USB Mouse")
vm_check "mouse hidraw node" [ -n "$mouse" ]
dd if="$mouse" bs=4 count=1 of=/tmp/mouse.bin 2>/dev/null &
sleep 0.5
vm_qmp '{"execute":"input-send-event","arguments":{"events":[{"type":"rel","data":{"axis":"x","value":5}}]}}' >/dev/null
vm_check "mouse report arrived" vm_wait 10 [ -s /tmp/mouse.bin ]
vm_eq "mouse report dx (byte 1)" "05" "$(od -An -tx1 -j1 -N1 /tmp/mouse.bin | tr -d ' ')"
vm_qmp '{"execute":"device_del","arguments":{"id":"kbd"}}' >/dev/null
vm_check "keyboard gone after device_del" vm_wait 10 sh -c '! grep -q "QEMU USB Keyboard" /sys/bus/usb/devices/*/product'

vm_done
