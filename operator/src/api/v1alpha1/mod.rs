//! Version `v1alpha1` of the `ade.dev` API, one file per kind plus shared types.

mod cluster_pool;
mod etl_job;
mod etl_run;
mod shared;
mod stream_consumer;
mod validation_suite;

pub use cluster_pool::*;
pub use etl_job::*;
pub use etl_run::*;
pub use shared::*;
pub use stream_consumer::*;
pub use validation_suite::*;
