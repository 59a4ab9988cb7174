//! Test support shared by the unit tests: an in-memory Kubernetes API server
//! ([`FakeApi`]) that a real `kube::Client` talks to, so a reconciler test can
//! seed objects, run a reconcile and assert the exact API calls it made.

mod api_server;
mod call;
mod merge;
mod reply;
pub(crate) mod scenario;
mod selector;
mod store;
mod write;

pub(crate) use self::{
    api_server::FakeApi,
    call::{Call, Verb},
};
