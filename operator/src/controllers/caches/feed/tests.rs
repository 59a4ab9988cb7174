//! A cache's listeners hear of each object only once its store holds it,
//! also across a relist, hear of the deletions a relist reveals, and hear
//! of what the store held when they subscribed.

use std::{convert::Infallible, sync::Arc, time::Duration};

use kube::{
    ResourceExt,
    runtime::{
        Controller,
        controller::{Action, Error as ControllerError},
        reflector::{ObjectRef, store::Writer},
        watcher::Event,
    },
};
use tokio::sync::mpsc;

use super::Relist;
use crate::{
    api::v1alpha1::EtlRun,
    controllers::caches::{Cache, RUN_GROUPINGS},
};

fn run(name: &str) -> EtlRun {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "ade.dev/v1alpha1", "kind": "EtlRun",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "1"},
        "spec": {"jobRef": {"name": "j"}, "batchId": name},
    }))
    .expect("run")
}

/// A cache and the writer its watch would hold, as the watch feeds it.
struct Fed {
    cache: Arc<Cache<EtlRun>>,
    writer: Writer<EtlRun>,
    relist: Relist<EtlRun>,
}

impl Fed {
    fn new() -> Self {
        let cache = Arc::new(Cache::<EtlRun>::unfed(RUN_GROUPINGS));
        let writer = cache
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("writer");
        Self {
            cache,
            writer,
            relist: Relist::default(),
        }
    }

    /// The reflector applies `event` to the store, then the cache hears it.
    fn deliver(&mut self, event: Event<EtlRun>) {
        self.writer.apply_watcher_event(&event);
        self.cache.heard(&event, &mut self.relist);
    }

    fn list(&mut self, names: &[&str]) {
        self.deliver(Event::Init);
        for name in names {
            self.deliver(Event::InitApply(run(name)));
        }
        self.deliver(Event::InitDone);
    }

    fn stored(&self, name: &str) -> bool {
        self.cache.store.get(&ObjectRef::new(name).within("ns")).is_some()
    }
}

/// What a listener has heard so far, each with whether the store held it
/// when it was heard.
fn heard(listener: &mut mpsc::UnboundedReceiver<Arc<EtlRun>>, fed: &Fed) -> Vec<(String, bool)> {
    std::iter::from_fn(|| listener.try_recv().ok())
        .map(|run| (run.name_any(), fed.stored(&run.name_any())))
        .collect()
}

fn listener(cache: &Cache<EtlRun>, deletions: bool) -> mpsc::UnboundedReceiver<Arc<EtlRun>> {
    let (tx, rx) = mpsc::unbounded_channel();
    cache
        .listeners
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((tx, deletions));
    rx
}

/// Every listener is handed the store's own copy of a run, not a copy each:
/// in a burst the runs' events wait in five controllers' queues.
#[test]
fn listeners_share_the_stores_copy_of_each_run() {
    let mut fed = Fed::new();
    let mut a = listener(&fed.cache, false);
    let mut b = listener(&fed.cache, true);
    fed.list(&[]);
    fed.deliver(Event::Apply(run("r")));
    let stored = fed.cache.store.get(&ObjectRef::new("r").within("ns")).expect("stored");
    let (a, b) = (a.try_recv().expect("a heard"), b.try_recv().expect("b heard"));
    assert!(Arc::ptr_eq(&a, &stored) && Arc::ptr_eq(&b, &stored));
}

/// After every event of a relist (a run created while the watch was away
/// among them), whatever a listener heard is in the store already.
#[test]
fn a_listener_hears_a_relisted_run_only_once_the_store_holds_it() {
    let mut fed = Fed::new();
    let mut changes = listener(&fed.cache, false);
    fed.list(&["old"]);
    assert_eq!(heard(&mut changes, &fed), [("old".to_string(), true)]);

    for event in [
        Event::Init,
        Event::InitApply(run("old")),
        Event::InitApply(run("new")),
        Event::InitDone,
    ] {
        fed.deliver(event);
        for (name, stored) in heard(&mut changes, &fed) {
            assert!(stored, "{name} was told before the store held it");
        }
    }
    assert!(fed.stored("new"));
}

/// A run deleted while the watch was away: the relist no longer holds it,
/// and the listeners of deletions hear of it (no Delete event ever comes).
#[test]
fn a_relist_tells_the_deletions_it_reveals() {
    let mut fed = Fed::new();
    let mut deletions = listener(&fed.cache, true);
    let mut changes = listener(&fed.cache, false);
    fed.list(&["kept", "gone"]);
    heard(&mut deletions, &fed);
    heard(&mut changes, &fed);

    fed.list(&["kept"]);
    let mut told = heard(&mut deletions, &fed);
    told.sort();
    assert_eq!(told, [("gone".to_string(), false), ("kept".to_string(), true)]);
    assert_eq!(heard(&mut changes, &fed), [("kept".to_string(), true)]);
    assert!(fed.cache.of_job("ns", "j").iter().all(|r| r.name_any() == "kept"));
}

/// A controller that subscribes after its cache listed (the controllers
/// start while the caches' first lists are under way; a restarted operator
/// in CI subscribed too late and never reconciled its six waiting runs):
/// it still hears of every listed run, and of what comes after.
#[tokio::test]
async fn a_listener_added_after_the_list_hears_every_listed_run() {
    let mut fed = Fed::new();
    fed.list(&["a", "b"]);
    let changes = fed.cache.changes();
    fed.deliver(Event::Apply(run("c")));
    let mut names: Vec<String> = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::collect::<Vec<_>>(futures::StreamExt::take(changes, 3)),
    )
    .await
    .expect("three runs heard")
    .into_iter()
    .map(|r| r.name_any())
    .collect();
    // The store's own order for what it held, then what came after.
    names[..2].sort();
    assert_eq!(names, ["a", "b", "c"]);
}

/// The first run the controller reconciles or drops (`Err`: not in the
/// store) other than `except`.
async fn next_other(
    reconciles: &mut mpsc::UnboundedReceiver<String>,
    dropped: &mut mpsc::UnboundedReceiver<String>,
    except: &[&str],
) -> Result<String, String> {
    let wait = async {
        loop {
            tokio::select! {
                Some(name) = dropped.recv() => return Err(name),
                Some(name) = reconciles.recv() => if !except.contains(&name.as_str()) { return Ok(name) },
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| Err("nothing within 10 s".to_string()))
}

/// The bug this guards against, end to end: a controller woken from the
/// cache reconciles a run first seen in a relist. Told before the store
/// held it, the controller dropped the request (`ObjectNotFound`) and the
/// run was never reconciled. A run the store holds throughout, told in the
/// middle of the relist, marks when the controller has taken up what it
/// was told before.
#[tokio::test]
async fn a_run_created_during_a_relist_is_reconciled() {
    let mut fed = Fed::new();
    let changes = fed.cache.changes();
    fed.list(&["old", "marker"]);
    let (reconciled, mut reconciles) = mpsc::unbounded_channel::<String>();
    let (failed, mut dropped) = mpsc::unbounded_channel::<String>();
    let controller = Controller::for_shared_stream(changes, fed.cache.reader()).run(
        |run: Arc<EtlRun>, tx: Arc<mpsc::UnboundedSender<String>>| async move {
            let _ = tx.send(run.name_any());
            Ok::<_, Infallible>(Action::await_change())
        },
        |_, _, _| Action::await_change(),
        Arc::new(reconciled),
    );
    let running = tokio::spawn(async move {
        futures::pin_mut!(controller);
        while let Some(result) = futures::StreamExt::next(&mut controller).await {
            if let Err(ControllerError::ObjectNotFound(obj)) = result {
                let _ = failed.send(obj.name);
            }
        }
    });
    let mut first = [
        next_other(&mut reconciles, &mut dropped, &[]).await,
        next_other(&mut reconciles, &mut dropped, &[]).await,
    ];
    first.sort();
    assert_eq!(first, [Ok("marker".to_string()), Ok("old".to_string())]);

    fed.deliver(Event::Init);
    for name in ["old", "marker", "new"] {
        fed.deliver(Event::InitApply(run(name)));
    }
    fed.cache.tell(&Arc::new(run("marker")), false);
    let marked = next_other(&mut reconciles, &mut dropped, &["old"]).await;
    assert_eq!(
        marked,
        Ok("marker".to_string()),
        "the store did not hold a run it was told of"
    );
    fed.deliver(Event::InitDone);
    let relisted = next_other(&mut reconciles, &mut dropped, &["old", "marker"]).await;
    assert_eq!(
        relisted,
        Ok("new".to_string()),
        "the run created during the relist was dropped"
    );
    running.abort();
}
