;; Imports in the shape a WASI-I2C driver has (resolved or not, the loader must answer).
(module
  (import "wasi:i2c/i2c@0.2.0-draft" "[method]i2c.read" (func (param i32 i32 i64 i32)))
  (import "wasi:i2c/delay@0.2.0-draft" "[method]delay.delay-ns" (func (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
