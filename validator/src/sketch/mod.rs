//! Mergeable streaming summaries: each takes values one at a time (or a slice at a
//! time), merges with another of its kind built over other rows, and serializes its
//! state so history can be re-aggregated later. Pure: no I/O, no Arrow.

pub mod codec;
pub mod frequent;
pub mod hash;
pub mod hll;
pub mod kll;
pub mod moments;
pub mod wide;
