//! One computation per answer key at a time: when a stored answer is missing or stale,
//! the first request for that key runs the plugin (the *leader*) and every identical
//! request that arrives meanwhile waits for it, then replays what it stored.
//!
//! Without this, the moment a collection expires every request in flight misses together:
//! 256 connections then start 256 guest instances for one answer (the collector already
//! shares the remote run, but each instance still costs its memory slot and CPU).
//!
//! A follower never trusts the leader blindly: once the leader is done (or dropped: its
//! client went away, it failed, its answer could not be stored) the follower looks the
//! key up again, which checks the collections like any replay, and runs the plugin itself
//! when there is still nothing to replay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// How many leaders a request waits for before it runs the plugin itself (a leader that
/// stores nothing twice in a row will not do better the third time).
pub const MAX_WAITS: usize = 2;

/// The keys being computed now.
#[derive(Default)]
pub struct Flights {
    running: Mutex<HashMap<String, Arc<watch::Sender<()>>>>,
}

/// What a request for a missing answer should do.
pub enum Flight<'a> {
    /// Run the plugin; followers wake when this guard drops.
    Lead(Leader<'a>),
    /// Another request is computing the same key: wait for it, then look again.
    Wait(watch::Receiver<()>),
}

/// Held by the request computing a key; dropping it (after storing the answer, or on any
/// failure or cancellation) releases the key and wakes every follower.
pub struct Leader<'a> {
    flights: &'a Flights,
    key: String,
    done: Arc<watch::Sender<()>>,
}

impl Flights {
    /// Leads `key` when nobody else does, or follows whoever does.
    pub fn join(&self, key: &str) -> Flight<'_> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(done) = running.get(key) {
            return Flight::Wait(done.subscribe());
        }
        let done = Arc::new(watch::channel(()).0);
        running.insert(key.to_string(), done.clone());
        Flight::Lead(Leader {
            flights: self,
            key: key.to_string(),
            done,
        })
    }

    /// Number of keys being computed (for tests and metrics).
    pub fn running(&self) -> usize {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let mut running = self
            .flights
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if running
            .get(&self.key)
            .is_some_and(|d| Arc::ptr_eq(d, &self.done))
        {
            running.remove(&self.key);
        }
        drop(running);
        // Wakes followers even if one of them still holds a receiver clone of an old round.
        self.done.send_replace(());
    }
}

/// Waits until the leader a follower joined is done (it finished or was dropped).
pub async fn wait(mut done: watch::Receiver<()>) {
    // `changed` answers Ok when the leader signals and Err when its sender is gone: both
    // mean the same thing here.
    let _ = done.changed().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leader_per_key_and_followers_wake_when_it_drops() {
        let flights = Flights::default();
        let Flight::Lead(leader) = flights.join("a") else {
            panic!("the first request leads");
        };
        let Flight::Wait(follower) = flights.join("a") else {
            panic!("the second request follows");
        };
        assert!(
            matches!(flights.join("b"), Flight::Lead(_)),
            "keys are separate"
        );
        assert_eq!(flights.running(), 1, "b's leader dropped at once");
        let woke = tokio::spawn(wait(follower));
        tokio::task::yield_now().await;
        assert!(
            !woke.is_finished(),
            "the follower waits while the leader runs"
        );
        drop(leader);
        tokio::time::timeout(std::time::Duration::from_secs(5), woke)
            .await
            .expect("the follower wakes")
            .expect("no panic");
        assert_eq!(flights.running(), 0);
        assert!(
            matches!(flights.join("a"), Flight::Lead(_)),
            "the key is free again"
        );
    }

    #[tokio::test]
    async fn a_follower_that_joins_just_before_the_leader_drops_still_wakes() {
        let flights = Flights::default();
        let Flight::Lead(leader) = flights.join("k") else {
            panic!("leads");
        };
        let Flight::Wait(follower) = flights.join("k") else {
            panic!("follows");
        };
        drop(leader);
        tokio::time::timeout(std::time::Duration::from_secs(5), wait(follower))
            .await
            .expect("a signal sent before the wait began is not lost");
    }
}
