;; Unaligned linear-memory accesses for the armv7 AOT check (scripts/armv7/test.sh).
;; Every access below claims natural alignment (align=4/8) but hits an odd address,
;; which wasm allows. If the AOT compiler trusted the hint, LLVM could emit LDRD/STRD,
;; LDM/STM or VLDR/VSTR, which fault on unaligned addresses on ARMv7 (WAMR issue #1582).
;; Prints an FNV-style hash of everything read, `unaligned: <16 hex digits>`; the x86_64
;; and armv7 runs must print the same line.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Bytes 0..1023: a fixed pattern.
  (func $init (local $i i32)
    (loop $l
      (i32.store8 (local.get $i)
        (i32.add (i32.mul (local.get $i) (i32.const 37)) (i32.const 11)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1024)))))

  (func $mix (param $h i64) (param $v i64) (result i64)
    (i64.mul (i64.xor (local.get $h) (local.get $v)) (i64.const 0x100000001b3)))

  ;; Loads of every width at odd addresses from $from (step 7) up to $to.
  (func $hash (param $h i64) (param $from i32) (param $to i32) (result i64) (local $a i32)
    (local.set $a (local.get $from))
    (loop $l
      (local.set $h (call $mix (local.get $h) (i64.load align=8 (local.get $a))))
      (local.set $h (call $mix (local.get $h) (i64.load offset=8 align=8 (local.get $a))))
      (local.set $h (call $mix (local.get $h) (i64.load32_u offset=1 align=4 (local.get $a))))
      (local.set $h (call $mix (local.get $h)
        (i64.extend_i32_u (i32.load offset=3 align=4 (local.get $a)))))
      (local.set $h (call $mix (local.get $h)
        (i64.extend_i32_u (i32.load16_u offset=2 align=2 (local.get $a)))))
      (local.set $h (call $mix (local.get $h)
        (i64.reinterpret_f64 (f64.load offset=5 align=8 (local.get $a)))))
      (local.set $h (call $mix (local.get $h)
        (i64.extend_i32_u (i32.reinterpret_f32 (f32.load offset=6 align=4 (local.get $a))))))
      (local.set $a (i32.add (local.get $a) (i32.const 7)))
      (br_if $l (i32.lt_u (local.get $a) (local.get $to))))
    (local.get $h))

  ;; Unaligned stores of every width: copies 1..400 to 2049.. in mixed widths, then
  ;; unaligned bulk memory operations.
  (func $stores (local $a i32)
    (local.set $a (i32.const 1))
    (loop $l
      (i64.store offset=2048 align=8 (local.get $a) (i64.load align=8 (local.get $a)))
      (f64.store offset=2056 align=8 (local.get $a) (f64.load offset=8 align=8 (local.get $a)))
      (i32.store offset=2064 align=4 (local.get $a) (i32.load offset=16 align=4 (local.get $a)))
      (f32.store offset=2068 align=4 (local.get $a) (f32.load offset=20 align=4 (local.get $a)))
      (i64.store32 offset=2072 align=4 (local.get $a) (i64.load offset=24 (local.get $a)))
      (i64.store16 offset=2076 align=2 (local.get $a) (i64.load offset=28 (local.get $a)))
      (local.set $a (i32.add (local.get $a) (i32.const 30)))
      (br_if $l (i32.lt_u (local.get $a) (i32.const 400))))
    (memory.copy (i32.const 3001) (i32.const 2051) (i32.const 333))
    (memory.fill (i32.const 3123) (i32.const 0xa5) (i32.const 77)))

  ;; $v as 16 lowercase hex digits at $out.
  (func $hex (param $v i64) (param $out i32) (local $i i32) (local $d i32)
    (local.set $i (i32.const 15))
    (loop $l
      (local.set $d (i32.wrap_i64 (i64.and (local.get $v) (i64.const 15))))
      (i32.store8 (i32.add (local.get $out) (local.get $i))
        (select (i32.add (local.get $d) (i32.const 48)) (i32.add (local.get $d) (i32.const 87))
          (i32.lt_u (local.get $d) (i32.const 10))))
      (local.set $v (i64.shr_u (local.get $v) (i64.const 4)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (i32.ge_s (local.get $i) (i32.const 0)))))

  (data (i32.const 8000) "unaligned: ")

  (func (export "_start") (local $h i64)
    (call $init)
    (call $stores)
    (local.set $h (call $hash (i64.const 0xcbf29ce484222325) (i32.const 1) (i32.const 900)))
    (local.set $h (call $hash (local.get $h) (i32.const 2049) (i32.const 3600)))
    (call $hex (local.get $h) (i32.const 8011))
    (i32.store8 (i32.const 8027) (i32.const 10))
    ;; iovec {8000, 28} at 7000; bytes written at 7008.
    (i32.store (i32.const 7000) (i32.const 8000))
    (i32.store (i32.const 7004) (i32.const 28))
    (drop (call $fd_write (i32.const 1) (i32.const 7000) (i32.const 1) (i32.const 7008)))))
