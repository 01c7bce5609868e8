//! Reading the log through the APIs: one stream, or the whole log as a resumable subscription.
//!
//! Policy of this module:
//! - **Scope per event.** Each event's metadata names the region (and team) of the record it touched; an
//!   actor sees an event when its scope covers that subject, exactly as for commands: region-scoped roles
//!   by region, team leaders and the Youth League by team. Integration partners need the `ReadEvents`
//!   grant (every category) or `ReadEvents:<category>` grants (those categories only), and region cover.
//! - **Personal data stays sealed.** Payloads are delivered as stored: personal fields are `pd1.`
//!   ciphertext under the person's key, so the stream never carries plaintext, and after an erasure not
//!   even the service can open them.
//! - **Gap-free and resumable.** A subscription follows the global `(tx_id, position)` order below the
//!   fence; an event the actor may not see (or the filter excludes) is skipped silently, and the next
//!   visible event's token covers it, so resuming from the last token seen never repeats or loses one.
//! - **Schema versions.** Envelopes carry the event's schema version after upcasting; every event type
//!   is at version 1 today, so no upcaster runs yet (`docs/adr/0005`).

use chrono::{DateTime, Utc};
use domain::ids::{RegionCode, TeamId};
use eventstore::{RecordedEvent, Subscription, Token};
use serde::Deserialize;

use crate::actor::{Actor, Role};
use crate::error::AppError;
use crate::ledger::Ledger;

/// The grant that lets a partner read every category of events.
pub const READ_EVENTS_GRANT: &str = "ReadEvents";

/// An event as the APIs deliver it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEnvelope {
    /// Opaque resume token (`tx.position`).
    pub token: Token,
    pub stream_id: String,
    pub category: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    /// The payload JSON as stored (personal fields sealed).
    pub payload: String,
    /// The metadata JSON as stored (actor, role, subject, command, correlation ids).
    pub metadata: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

/// Which events a reader asks for (empty = all it may see).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Stream categories (`team`, `volunteer`, `activity`, …).
    pub categories: Vec<String>,
    /// Event type strings (`ActivityRecorded`, …).
    pub event_types: Vec<String>,
}

impl EventFilter {
    fn admits(&self, e: &RecordedEvent) -> bool {
        (self.categories.is_empty() || self.categories.iter().any(|c| c == e.category()))
            && (self.event_types.is_empty() || self.event_types.contains(&e.event_type))
    }
}

#[derive(Debug, Deserialize)]
struct SubjectOf {
    subject_region: Option<String>,
    subject_team: Option<String>,
}

fn envelope(e: RecordedEvent) -> EventEnvelope {
    EventEnvelope {
        category: e.category().to_owned(),
        token: e.token,
        stream_id: e.stream_id,
        stream_version: e.stream_version,
        event_type: e.event_type,
        schema_version: e.schema_version,
        payload: e.payload,
        metadata: e.metadata,
        occurred_at: e.occurred_at,
        recorded_at: e.recorded_at,
    }
}

/// Whether `actor` may read events at all (before looking at any of them).
fn may_read_events(actor: &Actor) -> Result<(), AppError> {
    match actor.role {
        Role::IntegrationPartner
            if !actor
                .grants
                .iter()
                .any(|g| g == READ_EVENTS_GRANT || g.starts_with("ReadEvents:")) =>
        {
            Err(AppError::forbidden(
                "reading events needs the ReadEvents grant (or ReadEvents:<category>)",
            ))
        }
        _ => Ok(()),
    }
}

/// Whether `actor` may see this event (its subject is in scope, and for partners its category granted).
pub fn visible_to(actor: &Actor, e: &RecordedEvent) -> bool {
    let Ok(subject) = serde_json::from_str::<SubjectOf>(&e.metadata) else {
        return false;
    };
    let region = subject
        .subject_region
        .as_deref()
        .and_then(|r| RegionCode::parse("subject_region", r).ok());
    let team = subject
        .subject_team
        .as_deref()
        .and_then(|t| t.parse::<uuid::Uuid>().ok())
        .map(TeamId);
    match actor.role {
        Role::TeamLeader | Role::YouthLeague => team.is_some_and(|t| actor.has_team(&t)),
        Role::IntegrationPartner => {
            let category_granted = actor.grants.iter().any(|g| {
                g == READ_EVENTS_GRANT || g.strip_prefix("ReadEvents:") == Some(e.category())
            });
            category_granted && region.is_some_and(|r| actor.covers_region(&r))
        }
        _ => region.is_some_and(|r| actor.covers_region(&r)),
    }
}

/// One page of the log for an actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// The visible events of the page, in the global order.
    pub events: Vec<EventEnvelope>,
    /// Resume after this token for the next page (it also covers events skipped as out of scope).
    pub next: Token,
    /// `false` when the page reached the end of the log as it stands (below the fence).
    pub more: bool,
}

/// The largest page [`Ledger::events_page`] serves.
pub const MAX_PAGE: usize = 1000;

/// A live, filtered, resumable feed of the events an actor may see.
pub struct EventFeed {
    actor: Actor,
    filter: EventFilter,
    inner: Subscription,
}

impl EventFeed {
    /// The next visible event (waits for one). Errors are `Unavailable` while the database is away;
    /// the caller may resume from the last token it delivered.
    pub async fn next(&mut self) -> Result<EventEnvelope, AppError> {
        loop {
            let e = self.inner.next().await?;
            if self.filter.admits(&e) && visible_to(&self.actor, &e) {
                return Ok(envelope(e));
            }
        }
    }

    /// The token after the last event examined (delivered or skipped).
    pub fn position(&self) -> Token {
        self.inner.position()
    }
}

impl Ledger {
    /// Every event of one stream, oldest first, if the actor may see the stream.
    pub async fn stream_events(
        &self,
        actor: &Actor,
        stream_id: &str,
    ) -> Result<Vec<EventEnvelope>, AppError> {
        may_read_events(actor)?;
        if stream_id.is_empty() || stream_id.len() > 200 {
            return Err(AppError::invalid(
                "stream_id",
                "must be 1 to 200 characters, e.g. team-<uuid>",
            ));
        }
        let events = self.store().read_stream(stream_id).await?;
        if events.is_empty() {
            return Err(AppError::not_found(
                "stream_id",
                format!("stream {stream_id} has no events"),
            ));
        }
        if !events.iter().all(|e| visible_to(actor, e)) {
            return Err(AppError::forbidden(format!(
                "stream {stream_id} is outside your scope"
            )));
        }
        Ok(events.into_iter().map(envelope).collect())
    }

    /// Up to `limit` (1..=[`MAX_PAGE`]) events after `after` that the actor may see, in the global order.
    pub async fn events_page(
        &self,
        actor: &Actor,
        after: Token,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<EventPage, AppError> {
        may_read_events(actor)?;
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        let batch = i64::try_from(limit).unwrap_or(i64::MAX);
        let raw = self.store().read_all_after(after, batch).await?;
        let more = raw.len() == limit;
        let next = raw.last().map_or(after, |e| e.token);
        let events = raw
            .into_iter()
            .filter(|e| filter.admits(e) && visible_to(actor, e))
            .map(envelope)
            .collect();
        Ok(EventPage { events, next, more })
    }

    /// Follow the log after `after` ([`Token::START`] for everything): catch-up, then live.
    pub fn subscribe_events(
        &self,
        actor: &Actor,
        after: Token,
        filter: EventFilter,
    ) -> Result<EventFeed, AppError> {
        may_read_events(actor)?;
        Ok(EventFeed {
            actor: actor.clone(),
            filter,
            inner: self.store().subscribe(after),
        })
    }
}

/// Parse a client's resume token, naming `field` when it does not parse.
pub fn parse_token(field: &str, s: &str) -> Result<Token, AppError> {
    if s.is_empty() {
        return Ok(Token::START);
    }
    s.parse::<Token>()
        .map_err(|e| AppError::invalid(field, e.to_string()))
}
