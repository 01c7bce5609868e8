//! Answers of read-model queries, kept while the read model they were computed from is unchanged.
//!
//! Policy of this module:
//! - **Keyed by the question and the checkpoint.** A read model changes only when its projector's
//!   checkpoint moves, so an answer computed while this process saw checkpoint `C` is reused only while
//!   it still sees `C` — a projector that moves on makes every older answer unreachable. The answer
//!   itself states the checkpoint it reflects (`as_of`), which is never older than `C`; read-your-writes
//!   waits (`min_token`) happen before the cache is consulted, so they hold as they do without it.
//! - **Bounded in age.** An operator's retry of parked events changes a read model behind an unchanged
//!   checkpoint; an answer is therefore reused for at most [`Answers::max_age`].
//! - **Bounded in size.** At capacity, answers of older checkpoints are dropped first, then all.
//! - **One computation per question at a time.** Concurrent askers of one question at one checkpoint
//!   wait for the first one's answer instead of each querying the database; a failed computation is not
//!   kept (the next asker tries again).
//! - Answers hold no personal data (read models have none).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use eventstore::Token;
use tokio::sync::OnceCell;

/// A computed (or being computed) answer.
struct Slot<V> {
    checkpoint: Token,
    born: Instant,
    value: OnceCell<V>,
}

/// Answers by question, for one read model.
pub struct Answers<K, V> {
    slots: Mutex<HashMap<K, Arc<Slot<V>>>>,
    capacity: usize,
    max_age: Duration,
}

impl<K, V> std::fmt::Debug for Answers<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answers")
            .field("capacity", &self.capacity)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Answers<K, V> {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            max_age,
        }
    }

    /// How long an answer is reused at most.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The answer to `key` at `checkpoint`: the kept one, or `compute`'s (kept when it succeeds).
    pub async fn get_or_compute<E, F, Fut>(
        &self,
        key: K,
        checkpoint: Token,
        compute: F,
    ) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let slot = self.slot(key, checkpoint);
        slot.value.get_or_try_init(compute).await.cloned()
    }

    fn slot(&self, key: K, checkpoint: Token) -> Arc<Slot<V>> {
        // A panic while the lock was held cannot leave the map inconsistent (each step is one call).
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let max_age = self.max_age;
        let current = |s: &Slot<V>| s.checkpoint == checkpoint && s.born.elapsed() < max_age;
        if let Some(slot) = slots.get(&key).filter(|s| current(s)) {
            return slot.clone();
        }
        if slots.len() >= self.capacity && !slots.contains_key(&key) {
            slots.retain(|_, s| current(s));
            if slots.len() >= self.capacity {
                slots.clear();
            }
        }
        let slot = Arc::new(Slot {
            checkpoint,
            born: Instant::now(),
            value: OnceCell::new(),
        });
        slots.insert(key, slot.clone());
        slot
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn at(position: i64) -> Token {
        Token { tx_id: 1, position }
    }

    async fn ask(
        answers: &Answers<&'static str, u32>,
        key: &'static str,
        c: Token,
        n: &AtomicU32,
    ) -> u32 {
        answers
            .get_or_compute(key, c, || async {
                Ok::<_, ()>(n.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_answer_is_reused_only_while_the_checkpoint_is_the_same() {
        let answers = Answers::new(16, Duration::from_secs(3600));
        let n = AtomicU32::new(0);
        assert_eq!(ask(&answers, "330602", at(1), &n).await, 1);
        assert_eq!(
            ask(&answers, "330602", at(1), &n).await,
            1,
            "same checkpoint: kept"
        );
        assert_eq!(
            ask(&answers, "330603", at(1), &n).await,
            2,
            "another question"
        );
        assert_eq!(
            ask(&answers, "330602", at(2), &n).await,
            3,
            "the model moved on"
        );
        assert_eq!(ask(&answers, "330602", at(2), &n).await, 3);
    }

    #[tokio::test]
    async fn an_answer_older_than_the_max_age_is_computed_again() {
        let answers = Answers::new(16, Duration::ZERO);
        let n = AtomicU32::new(0);
        assert_eq!(ask(&answers, "330602", at(1), &n).await, 1);
        assert_eq!(ask(&answers, "330602", at(1), &n).await, 2);
    }

    #[tokio::test]
    async fn a_failed_computation_is_not_kept() {
        let answers: Answers<&str, u32> = Answers::new(16, Duration::from_secs(3600));
        let failed = answers
            .get_or_compute("330602", at(1), || async { Err::<u32, _>("database down") })
            .await;
        assert_eq!(failed, Err("database down"));
        let n = AtomicU32::new(0);
        assert_eq!(ask(&answers, "330602", at(1), &n).await, 1);
    }

    #[tokio::test]
    async fn at_capacity_the_answers_of_older_checkpoints_go_first() {
        let answers = Answers::new(2, Duration::from_secs(3600));
        let n = AtomicU32::new(0);
        assert_eq!(ask(&answers, "a", at(1), &n).await, 1);
        assert_eq!(ask(&answers, "b", at(2), &n).await, 2);
        assert_eq!(
            ask(&answers, "c", at(2), &n).await,
            3,
            "drops a (checkpoint 1)"
        );
        assert_eq!(ask(&answers, "b", at(2), &n).await, 2, "b is kept");
        assert_eq!(answers.slots.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn concurrent_askers_of_one_question_share_one_computation() {
        let answers = Arc::new(Answers::new(16, Duration::from_secs(3600)));
        let n = Arc::new(AtomicU32::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (answers, n, mut gate) = (answers.clone(), n.clone(), gate.clone());
            tasks.spawn(async move {
                answers
                    .get_or_compute("330602", at(1), || async move {
                        let _ = gate.wait_for(|open| *open).await;
                        Ok::<_, ()>(n.fetch_add(1, Ordering::SeqCst) + 1)
                    })
                    .await
            });
        }
        // On this single-threaded runtime, yielding lets every task run until it waits: the first on
        // the gate inside its computation, the others on that computation.
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        release.send_replace(true);
        while let Some(answer) = tasks.join_next().await {
            assert_eq!(answer.unwrap(), Ok(1));
        }
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
