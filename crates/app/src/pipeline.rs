//! The command pipeline shared by every handler:
//! load → authorise → decide → encode → append (with its idempotency row).
//!
//! Policy:
//! - A retried command (same principal and idempotency key, same fingerprint) gets the first answer and
//!   writes nothing. When its decision still succeeds, the append's own idempotency row answers it; when
//!   it now fails (the state it changed refuses it), `Ledger::or_replayed` finds the stored outcome.
//!   So the happy path costs no extra look-up. Handlers with side effects before the append (creating a
//!   person's data key: volunteers, team and host-unit contacts) look the key up first instead.
//! - Nothing is written unless every check passed: authorisation and decisions happen before the one
//!   append statement, and the append itself is atomic.
//! - Metadata records the actor, role, the subject's region and team, the command and correlation ids;
//!   never personal data.

use chrono::{DateTime, Utc};
use domain::{Aggregate, Decision, DomainEvent};
use eventstore::{
    AppendRequest, Claim, CommandIdentity, ExpectedVersion, NewEvent, RecordedEvent, Token,
};
use serde::Serialize;

use crate::error::{AppError, ErrorCode};
use crate::ledger::{CommandContext, Ledger};
use crate::policy::{CommandKind, Subject, authorize};

/// The result of a command: where it wrote and the token a read may wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub stream_id: String,
    /// The stream's version after the command.
    pub version: u64,
    /// Global-order token of the last event written (`None` when the command changed nothing).
    pub token: Option<Token>,
    /// `true` when this is the stored answer to an earlier identical command.
    pub replayed: bool,
}

/// An aggregate loaded from its stream.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub stream_id: String,
    pub version: u64,
    pub state: A,
}

/// Event metadata, as stored (JSON). Field names never change.
#[derive(Debug, Serialize)]
struct Metadata<'a> {
    actor: &'a str,
    role: &'a str,
    /// The actor's scope when it ran the command (regions, teams), as its token stated it.
    actor_regions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actor_teams: Vec<String>,
    subject_region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_team: Option<String>,
    command: &'a str,
    idempotency_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    causation_id: Option<&'a str>,
    client: &'a str,
}

/// Decode a stream's recorded events into the aggregate's events.
pub(crate) fn decode<A: Aggregate>(recorded: &[RecordedEvent]) -> Result<Vec<A::Event>, AppError> {
    recorded
        .iter()
        .map(|r| {
            A::Event::from_payload(&r.event_type, r.schema_version, &r.payload).map_err(|e| {
                AppError::internal(
                    "decoding stored event",
                    &format_args!("{} v{}: {e}", r.stream_id, r.stream_version),
                )
            })
        })
        .collect()
}

/// Fold recorded events into a loaded aggregate.
pub(crate) fn fold<A: Aggregate>(
    stream_id: String,
    recorded: &[RecordedEvent],
) -> Result<Loaded<A>, AppError> {
    let events = decode::<A>(recorded)?;
    let version = recorded.last().map_or(0, |r| r.stream_version);
    Ok(Loaded {
        stream_id,
        version,
        state: A::replay(&events),
    })
}

/// A command ready to be decided: everything the pipeline needs besides the aggregate.
pub(crate) struct Prepared<'a, A: Aggregate> {
    pub kind: CommandKind,
    pub loaded: Loaded<A>,
    pub subject: Subject,
    pub command: &'a A::Command,
    pub facts: &'a A::Facts,
    pub fingerprint: [u8; 32],
    pub claims: Vec<Claim>,
    /// Business time of the events (e.g. the activity's date); the receipt time when there is none.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// What [`Ledger::append_decided`] writes besides the events.
pub(crate) struct Append<'a> {
    /// The command's name in the metadata (`CommandKind::name`, or a permission's name).
    pub command_name: &'static str,
    pub stream_id: String,
    /// The stream's version the events were decided on (0: a new stream).
    pub version: u64,
    pub subject: &'a Subject,
    pub fingerprint: [u8; 32],
    pub claims: Vec<Claim>,
    pub occurred_at: DateTime<Utc>,
}

impl Ledger {
    /// Answer a retried command from the log, before anything else happens.
    pub(crate) async fn replayed(
        &self,
        ctx: &CommandContext,
        fingerprint: [u8; 32],
    ) -> Result<Option<CommandOutcome>, AppError> {
        let identity = self.identity(ctx, fingerprint);
        Ok(self
            .store()
            .find_idempotent(&identity)
            .await?
            .map(|o| CommandOutcome {
                stream_id: o.result.stream_id.clone(),
                version: o.result.last_version,
                token: Some(o.result.last_token()),
                replayed: true,
            }))
    }

    /// Recognise a retry on the failure path only. A retried command whose decision still succeeds is
    /// answered by the append itself (same key and fingerprint: the original result, nothing written), so
    /// the hot path needs no look-up of its own; one that now fails (the record exists, the state moved on)
    /// is answered here with the stored outcome when the key was used before.
    pub(crate) async fn or_replayed(
        &self,
        ctx: &CommandContext,
        fingerprint: [u8; 32],
        result: Result<CommandOutcome, AppError>,
    ) -> Result<CommandOutcome, AppError> {
        match result {
            Err(e) if !matches!(e.code, ErrorCode::Unavailable | ErrorCode::Internal) => {
                match self.replayed(ctx, fingerprint).await? {
                    Some(done) => Ok(done),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    pub(crate) fn identity(&self, ctx: &CommandContext, fingerprint: [u8; 32]) -> CommandIdentity {
        CommandIdentity {
            principal: ctx.actor.subject.clone(),
            idempotency_key: ctx.idempotency_key.clone(),
            fingerprint,
        }
    }

    /// Load one aggregate.
    pub(crate) async fn load<A: Aggregate>(&self, id: &str) -> Result<Loaded<A>, AppError> {
        let stream_id = A::stream_id(id);
        let recorded = self.store().read_stream(&stream_id).await?;
        fold(stream_id, &recorded)
    }

    /// Load several aggregates of one kind in one round trip, in the order of `ids`.
    pub(crate) async fn load_many<A: Aggregate>(
        &self,
        ids: &[String],
    ) -> Result<Vec<Loaded<A>>, AppError> {
        let stream_ids: Vec<String> = ids.iter().map(|id| A::stream_id(id)).collect();
        let by_stream = self.store().read_streams(&stream_ids).await?;
        stream_ids
            .into_iter()
            .map(|s| {
                // `get`, not `remove`: an id asked for twice gets the same state twice.
                let recorded = by_stream.get(&s).map_or(&[][..], Vec::as_slice);
                fold(s, recorded)
            })
            .collect()
    }

    /// Authorise, decide and append. Writes nothing on any error.
    #[tracing::instrument(name = "ledger.command", skip_all, fields(command = p.kind.name(), stream_id = %p.loaded.stream_id, version = p.loaded.version))]
    pub(crate) async fn commit<A: Aggregate>(
        &self,
        ctx: &CommandContext,
        p: Prepared<'_, A>,
    ) -> Result<CommandOutcome, AppError> {
        authorize(&ctx.actor, p.kind, &p.subject)?;
        let received_at = self.now();
        let events = p
            .loaded
            .state
            .decide(p.command, p.facts, &Decision { received_at })?;
        if events.is_empty() {
            return Ok(CommandOutcome {
                stream_id: p.loaded.stream_id,
                version: p.loaded.version,
                token: None,
                replayed: false,
            });
        }
        let append = Append {
            command_name: p.kind.name(),
            stream_id: p.loaded.stream_id,
            version: p.loaded.version,
            subject: &p.subject,
            fingerprint: p.fingerprint,
            claims: p.claims,
            occurred_at: p.occurred_at.unwrap_or(received_at),
        };
        self.append_decided(ctx, append, &events).await
    }

    /// Append events already decided and authorised (by [`Ledger::commit`], or by an access record
    /// such as a disclosure, authorised by a permission): metadata, the expected version, the
    /// idempotency row and claims, in one statement.
    pub(crate) async fn append_decided<E: DomainEvent>(
        &self,
        ctx: &CommandContext,
        a: Append<'_>,
        events: &[E],
    ) -> Result<CommandOutcome, AppError> {
        let metadata = serde_json::to_string(&Metadata {
            actor: &ctx.actor.subject,
            role: ctx.actor.role.as_str(),
            actor_regions: ctx.actor.regions.iter().map(ToString::to_string).collect(),
            actor_teams: ctx.actor.teams.iter().map(ToString::to_string).collect(),
            subject_region: a.subject.region.to_string(),
            subject_team: a.subject.team.map(|t| t.to_string()),
            command: a.command_name,
            idempotency_key: &ctx.idempotency_key,
            correlation_id: ctx.correlation_id.as_deref(),
            causation_id: ctx.causation_id.as_deref(),
            client: &ctx.client,
        })
        .map_err(|e| AppError::internal("encoding metadata", &e))?;
        let occurred_at = a.occurred_at;
        let new_events = events
            .iter()
            .map(|e| {
                Ok(NewEvent {
                    event_type: e.event_type().to_owned(),
                    schema_version: e.schema_version(),
                    payload: e
                        .to_payload()
                        .map_err(|err| AppError::internal("encoding event", &err))?,
                    metadata: metadata.clone(),
                    occurred_at,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        let expected = if a.version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(a.version)
        };
        let request = AppendRequest {
            stream_id: a.stream_id,
            expected,
            events: new_events,
            command: self.identity(ctx, a.fingerprint),
            claims: a.claims,
        };
        let outcome = self.store().append(&request).await?;
        tracing::info!(command = a.command_name, stream_id = %outcome.result.stream_id, version = outcome.result.last_version, replayed = outcome.replayed, "command applied");
        Ok(CommandOutcome {
            stream_id: outcome.result.stream_id.clone(),
            version: outcome.result.last_version,
            token: Some(outcome.result.last_token()),
            replayed: outcome.replayed,
        })
    }
}
