//! The decide/evolve contract every aggregate implements.
//!
//! A *stream* holds the events of one aggregate instance; its id is `"{CATEGORY}-{id}"` (Message DB style),
//! so deterministic ids (e.g. `summary-330602-2024`) make cross-stream uniqueness free.

use chrono::{DateTime, Utc};

use crate::error::DomainError;
use crate::event::DomainEvent;

/// What the caller tells every decision besides the command: the service's receipt time (from an
/// injectable clock in the application layer). Business time travels inside the command itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// When the service received the command (UTC). Deadlines and timeliness are judged on this.
    pub received_at: DateTime<Utc>,
}

/// An event-sourced aggregate.
///
/// Laws (property-tested per aggregate):
/// - `evolve` is total: it never panics on any event `decide` can produce.
/// - Replaying the events `decide` returned onto the state it decided on gives a state on which the same
///   command is either rejected or idempotent — never a state that contradicts the decision.
pub trait Aggregate: Default + Clone {
    /// Stream category, e.g. `"team"`. Never renamed: stream ids are stored forever.
    const CATEGORY: &'static str;
    type Command;
    type Event: DomainEvent;
    /// Facts from other streams or configuration that the application layer loads before deciding
    /// (e.g. participants' memberships for an activity). `()` when none are needed.
    type Facts;

    fn decide(
        &self,
        command: &Self::Command,
        facts: &Self::Facts,
        ctx: &Decision,
    ) -> Result<Vec<Self::Event>, DomainError>;

    fn evolve(&mut self, event: &Self::Event);

    /// Fold a sequence of events into a fresh state.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for e in events {
            state.evolve(e);
        }
        state
    }

    /// Stream id for an aggregate instance id.
    fn stream_id(id: &str) -> String {
        format!("{}-{id}", Self::CATEGORY)
    }
}
