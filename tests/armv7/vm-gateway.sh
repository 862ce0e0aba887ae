# Gateway checks on a real ARM Linux kernel: run inside the raspi2b VM (Cortex-A7, Debian
# armmp kernel, i2c-bcm2835 with a tmp105 at 0x48 on BSC1) by
#   scripts/armv7/test-vm.sh
# which puts the static armv7 wasi-hw, temp-sensor.aot and unaligned.aot (armv7) and the
# alignment probe in /payload.
# Checks: the binary runs on the real kernel, reads the emulated sensor through i2c-dev, runs
# unaligned accesses without the kernel fixing up a single alignment trap, and reports the
# RSS of a running driver.
. /lib/vmtest.sh
cd /payload || exit 1

b=$(vm_i2c_bus '*i2c@7e804000')
vm_check "BSC1 adapter present" [ -n "$b" ]
vm_check "static armv7 wasi-hw runs" ./wasi-hw --version

# /proc/cpu/alignment counts user-mode alignment traps the kernel fixed up (LDRD/LDM) or
# turned into SIGBUS; it must not move while the AOT code runs.
traps() { awk '/^User:/ { print $2 }' /proc/cpu/alignment; }
before=$(traps)

vm_qmp '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/tmp105","property":"temperature","value":25500}}' >/dev/null
vm_eq "temp-sensor.aot on /dev/i2c-$b (tmp105 at 25.5 C)" "temperature: 25.50 C" \
  "$(./wasi-hw run --i2c "/dev/i2c-$b:0x48" temp-sensor.aot -- --bus "/dev/i2c-$b" 2>&1)"
vm_eq "unaligned.aot prints the x86_64 hash" "$(cat unaligned.expected)" "$(./wasi-hw run unaligned.aot 2>&1)"
vm_eq "no user alignment traps during the AOT runs" "$before" "$(traps)"
# The counter is live: one unaligned LDRD (tests/armv7/unaligned-probe.c) moves it (the
# kernel fixes the load up or sends SIGBUS, depending on /proc/cpu/alignment's mode).
./probe ldrd > /dev/null 2>&1
vm_check "an unaligned LDRD is counted as a user alignment trap" [ "$(traps)" -gt "$before" ]

# Memory of a running driver: sample VmRSS while it waits between readings.
./wasi-hw run --i2c "/dev/i2c-$b:0x48" temp-sensor.aot -- --bus "/dev/i2c-$b" --count 3 --interval-ms 1500 > /dev/null &
pid=$!
sleep 2
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
echo "GATEWAY-RSS-KB rss=$rss hwm=$hwm"
wait "$pid"
vm_check "driver exited cleanly" [ $? -eq 0 ]
vm_check "RSS measured" [ -n "$rss" ]
vm_done
