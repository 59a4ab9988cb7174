//! ade-validator: profiles a dataset and checks it against a ValidationSuite in
//! one scan; keeps metrics history; publishes results and alerts. The binary
//! `ade-validate` (src/main.rs) is the command-line front end the operator runs.
//!
//! The suite types are `ade_api::v1alpha1`'s (`ValidationSuiteSpec`: what the
//! API server stores, without kube). Layout: `sketch` (mergeable summaries), `profile` and
//! `rowcheck` (per-column and per-check accumulators), `scan` (views over one
//! pass), `plan` (spec + schema → scan), `engine` (DataFusion), `fold` (a
//! partition's batches, on an idle core when there is one), `source`, `store`
//! and `footer` (I/O), `checks` and `history` (pure decisions), `result`,
//! `summary` (the bounded summary for the caller),
//! `publish`, `run` (the whole thing), `benchdata` (benchmark data).

pub mod benchdata;
pub mod checks;
pub mod distribution;
pub mod engine;
pub mod fold;
pub mod footer;
pub mod history;
pub mod plan;
pub mod profile;
pub mod publish;
pub mod result;
pub mod rowcheck;
pub mod run;
pub mod scalar;
pub mod scan;
pub mod schema;
pub mod sketch;
pub mod source;
pub mod store;
pub mod summary;
