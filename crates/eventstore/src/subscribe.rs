//! Subscriptions: catch up from a token, then follow the log live.
//!
//! Wake-ups come from three places, none of them inside an append:
//! 1. this process's own appends (an in-process `watch` of the newest committed token);
//! 2. other processes, through [`EventStore::run_notifier`]: it NOTIFYs a channel at most once per
//!    debounce interval after local appends, and LISTENs to the same channel to learn of remote ones;
//! 3. polling every `poll_interval`, the fallback when notifications are lost.
//!
//! When the subscription knows of a committed event it cannot read yet (the fence is held by an older
//! transaction still running), it re-reads with a short backoff instead of waiting for the next wake-up.

use std::collections::VecDeque;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::error::StoreError;
use crate::model::RecordedEvent;
use crate::sql;
use crate::store::EventStore;
use crate::token::Token;

const MIN_BACKOFF: Duration = Duration::from_millis(2);

/// A live, resumable reader of the global order. Every event is delivered exactly once, in
/// `(tx_id, position)` order; resume from the token of the last event you processed.
pub struct Subscription {
    store: EventStore,
    after: Token,
    buffer: VecDeque<RecordedEvent>,
    latest: watch::Receiver<Token>,
    backoff: Duration,
}

impl EventStore {
    /// Follow the log from just after `after` ([`Token::START`] for everything).
    pub fn subscribe(&self, after: Token) -> Subscription {
        Subscription {
            store: self.clone(),
            after,
            buffer: VecDeque::new(),
            latest: self.inner.latest.subscribe(),
            backoff: MIN_BACKOFF,
        }
    }

    /// Run until `shutdown` resolves: NOTIFY other processes (debounced by `debounce`) after local
    /// appends, and LISTEN for theirs. One per process; the store works without it (polling).
    pub async fn run_notifier(
        &self,
        debounce: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), StoreError> {
        let channel = self.config().notify_channel.clone();
        let mut listener = PgListener::connect_with(self.pool()).await?;
        listener.listen(&channel).await?;
        let mut local = self.inner.latest.subscribe();
        let mut announced = *local.borrow_and_update();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                changed = local.changed() => {
                    if changed.is_err() { return Ok(()); }
                    tokio::time::sleep(debounce).await;
                    let newest = *local.borrow_and_update();
                    if newest > announced {
                        announced = newest;
                        sqlx::query(sql::NOTIFY).bind(&channel).bind(newest.to_string()).execute(self.pool()).await?;
                    }
                }
                note = listener.recv() => {
                    let note = note?;
                    if let Ok(token) = note.payload().parse::<Token>() {
                        if token > announced { announced = token; }
                        self.observe_committed(token);
                    }
                }
            }
        }
    }
}

impl Subscription {
    /// The token of the last event returned (the resume point).
    pub fn position(&self) -> Token {
        self.after
    }

    /// The next event, waiting for one if the subscription is caught up.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(e) = self.buffer.pop_front() {
                self.after = e.token;
                return Ok(e);
            }
            let seen_latest = *self.latest.borrow_and_update();
            let page = self
                .store
                .read_all_after(self.after, self.store.config().page_size)
                .await?;
            if !page.is_empty() {
                self.backoff = MIN_BACKOFF;
                self.buffer.extend(page);
                continue;
            }
            let poll = self.store.config().poll_interval;
            if seen_latest > self.after {
                // Committed but still behind the fence: look again soon.
                tokio::time::sleep(self.backoff).await;
                self.backoff = (self.backoff * 2).min(poll);
                continue;
            }
            self.backoff = MIN_BACKOFF;
            tokio::select! {
                _ = self.latest.changed() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}
