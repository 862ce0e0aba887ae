//! Capability policy (grants for I2C and USB).
