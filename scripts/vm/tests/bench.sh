# In-VM benchmarks (run by scripts/bench.sh, on both machines): the same driver logic as a
# static native binary (bench-native) and as wasi-hw guests, against the real kernel drivers
# and QEMU's devices. Every result is one console line
#   vmbench machine=M experiment=E variant=V round=R key=value...
# that bench/src/vm.rs parses out of the console log. Checks (vm_eq/vm_check) make sure every
# variant read the right data; the script fails if one does not.
#
# Experiments (variants interleaved, round r starts with variant r mod n):
#   cold-start    temp-sensor, whole process (`bench-native time`): raspi2b and raspi3b
#                 against QEMU's tmp105 on BSC1 (i2c-bcm2835), x86_64 against i2c-stub
#                 (i2c-i801 has no tmp105 in Debian's QEMU), malta against QEMU's i2c-ddc
#                 on the PIIX4 (no i2c-stub, no tmp105 there); native, wasi-hw AOT,
#                 wasi-hw interpreter
#   storage-rtt   TEST UNIT READY round trips (31 bytes OUT, 13 IN) on QEMU's usb-storage
#   storage-read  READ(10) of 64 KiB per command (throughput), native vs wasi-hw AOT
# Payload: scripts/vm/build-payload.sh (wasi-hw, bench-native, NAME.aot, temp-sensor.wasm);
# optional bench.conf sets ROUNDS, WARMUP, RTT_READS, READS.
. /lib/vmtest.sh

ROUNDS=5 WARMUP=1 RTT_READS=200 READS=16
[ -f bench.conf ] && . ./bench.conf
machine=$(cat /etc/vmtest/machine)
vm_check "bench-native in the payload" [ -x ./bench-native ]

# ---------------------------------------------------------------- the sensor
EXPECT="temperature: 25.50 C"
case "$machine" in
  raspi2b|raspi3b)
    b=$(vm_i2c_bus '*i2c@7e804000')
    vm_qmp '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/tmp105","property":"temperature","value":25500}}' >/dev/null
    ;;
  x86_64)
    modprobe i2c-stub chip_addr=0x48
    vm_wait 10 vm_i2c_bus 'SMBus stub driver|*' >/dev/null
    b=$(vm_i2c_bus 'SMBus stub driver|*')
    vm_wait 10 [ -c "/dev/i2c-$b" ]
    # TMP10x register 0 = 0x1980 (25.5 C) MSB first; SMBus words are little endian.
    i2cset -y "$b" 0x48 0x00 0x8019 w
    ;;
  malta)
    # The PIIX4's SMBus with QEMU's i2c-ddc at 0x48: register 0 reads 00 ff, 1.9375 C in
    # TMP102 13-bit mode.
    malta_smbus on
    vm_wait 10 vm_i2c_bus 'SMBus PIIX4 adapter*' >/dev/null
    b=$(vm_i2c_bus 'SMBus PIIX4 adapter*')
    vm_wait 10 [ -c "/dev/i2c-$b" ]
    EXPECT="temperature: 1.94 C"
    ;;
  *) echo "bench: unknown machine $machine"; exit 2 ;;
esac
BUS=/dev/i2c-$b
vm_check "sensor bus $BUS" [ -c "$BUS" ]

# cmd_of VARIANT: the command line of one cold-start variant.
cmd_of() {
  case "$1" in
    native) echo "./bench-native temp --bus $BUS --addr 0x48" ;;
    aot) echo "./wasi-hw run --i2c $BUS:0x48 temp-sensor.aot -- --bus $BUS" ;;
    interp) echo "./wasi-hw run --interp --i2c $BUS:0x48 temp-sensor.wasm -- --bus $BUS" ;;
  esac
}

# interleave N: the variant order of round $r for N variants: indices r mod N, r+1 mod N ...
interleave() {
  _i=0
  while [ $_i -lt "$1" ]; do
    echo $(( (r + _i) % $1 ))
    _i=$((_i + 1))
  done
}

# interleaved EXPERIMENT RUN VARIANT...: WARMUP + ROUNDS rounds of every variant, in the
# order `interleave` gives. `RUN VARIANT` prints the run's key=value result or fails (and
# says why on stderr). Prints one vmbench line per measured run; afterwards $bad is the
# number of failed runs and /tmp/bench.lines holds every result (warm-up included).
interleaved() {
  _exp=$1 _run=$2
  shift 2
  _variants=$* _n=$#
  bad=0
  : > /tmp/bench.lines
  r=0
  while [ $r -lt $((WARMUP + ROUNDS)) ]; do
    for _k in $(interleave "$_n"); do
      # shellcheck disable=SC2086
      set -- $_variants
      shift "$_k"
      if _line=$("$_run" "$1"); then
        echo "$_line" >> /tmp/bench.lines
        if [ $r -ge "$WARMUP" ]; then
          echo "vmbench machine=$machine experiment=$_exp variant=$1 round=$((r - WARMUP)) $_line"
        fi
      else
        bad=$((bad + 1))
      fi
    done
    r=$((r + 1))
  done
}

# cold_run VARIANT: one timed process that must print $EXPECT and exit 0.
cold_run() {
  # shellcheck disable=SC2046
  _out=$(./bench-native time -- $(cmd_of "$1") 2>/tmp/bench.err)
  _exec=$(echo "$_out" | grep '^exec ')
  if echo "$_out" | grep -qx "$EXPECT" && echo "$_exec" | grep -q ' exit=0$'; then
    echo "${_exec#exec }"
  else
    echo "bench: $1 failed: $_out $(cat /tmp/bench.err)" >&2
    return 1
  fi
}

interleaved cold-start cold_run native aot interp
vm_eq "cold-start runs that read $EXPECT (all variants)" 0 "$bad"

# ---------------------------------------------------------------- USB mass storage
case "$machine" in raspi*) wait_s=60 ;; *) wait_s=30 ;; esac
vm_check "usb-storage 46f4:0001 enumerated" vm_wait "$wait_s" vm_usb_dev 46f4 0001
dev=$(vm_usb_dev 46f4 0001)
intf=${dev##*/}:1.0
# No kernel driver on the interface for the whole run, so that no variant pays for (or
# races) the kernel probing the disk. scripts/bench.sh boots with
# module_blacklist=usb_storage, so the interface is free from the start (unbinding it
# instead stalled raspi2b's emulated dwc2 for about two minutes, SCSI commands timing out).
# Booted with usb-storage loaded, the interface is unbound once the kernel's own probe has
# finished (a detach while it is pending leaves the disk half set up, and the probe's late
# commands would land in the middle of a benchmark).
rebind=0
if [ -d /sys/bus/usb/drivers/usb-storage ]; then
  vm_check "usb-storage interface $intf probed by the kernel" vm_wait $((wait_s * 2)) usb_disk_ready "$intf"
  echo "$intf" > /sys/bus/usb/drivers/usb-storage/unbind
  rebind=1
fi
vm_check "usb-storage interface $intf has no kernel driver" [ ! -e "/sys/bus/usb/devices/$intf/driver" ]

usb_cmd() {
  case "$1" in
    native) echo "./bench-native $2 --bus usbfs" ;;
    aot) echo "./wasi-hw run --usb 46f4:0001 usb-bench.aot -- $2" ;;
  esac
}

# usb_run VARIANT: one run of $exp, printing the driver's result line.
usb_run() {
  # shellcheck disable=SC2046
  _line=$($(usb_cmd "$1" "$exp") 2>/tmp/bench.err | grep "^bench=$name ")
  if [ -z "$_line" ]; then
    echo "bench: $1 $exp failed: $(cat /tmp/bench.err)" >&2
    return 1
  fi
  echo "$_line"
}

for exp in "storage-rtt --reads $RTT_READS --warmup 10" "storage-read --reads $READS --size 65536"; do
  name=${exp%% *}
  interleaved "$name" usb_run native aot
  vm_eq "$name: every run succeeded" 0 "$bad"
  # Native and wasm read the same blocks, so every run folds to the same checksum.
  vm_eq "$name: one checksum across variants and rounds" 1 "$(sed 's/.*checksum=//' /tmp/bench.lines | sort -u | wc -l)"
done
[ "$rebind" -eq 0 ] || echo "$intf" > /sys/bus/usb/drivers/usb-storage/bind 2>/dev/null
[ "$machine" != malta ] || malta_smbus off
vm_done
