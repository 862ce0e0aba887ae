//! I2C grants.
