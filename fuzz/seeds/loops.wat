;; Globals, a table, a bounded loop, memory.grow and a trap path.
(module
  (global $g (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $count $trap)
  (memory 1 4)
  (type $t (func (param i32) (result i32)))
  (func $count (type $t)
    (local $i i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (global.set $g (i32.add (global.get $g) (local.get $i)))
        (br $again)))
    (global.get $g))
  (func $trap (type $t) (i32.load (i32.const 70000)))
  (func (export "run") (result i32)
    (drop (memory.grow (i32.const 1)))
    (call_indirect (type $t) (i32.const 10) (i32.const 0)))
  (func $init (global.set $g (i32.const 1)))
  (start $init))
