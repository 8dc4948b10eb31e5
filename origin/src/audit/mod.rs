//! The audit trail.

pub mod retention;
