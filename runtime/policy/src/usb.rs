//! USB grants.
