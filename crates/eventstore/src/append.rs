//! Appending: validation, the one-statement insert, and turning unique violations into answers.

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::Row;

use crate::error::{AppendError, StoreError};
use crate::hash::CanonicalEvent;
use crate::model::{AppendOutcome, AppendRequest, AppendResult, CommandIdentity, ExpectedVersion};
use crate::sql;
use crate::store::EventStore;
use crate::token::Token;

/// How often an `Any` append re-reads the head after losing a race.
const ANY_RETRIES: usize = 32;
const MAX_STREAM_ID_BYTES: usize = 200;
const MAX_EVENT_TYPE_BYTES: usize = 100;
const MAX_KEY_BYTES: usize = 200;

/// Timestamps are stored with microsecond precision; truncate before hashing so the hash of the stored
/// row equals the hash computed here.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn validate(req: &AppendRequest, store: &EventStore) -> Result<(), AppendError> {
    let cfg = store.config();
    validate_stream_id(&req.stream_id)?;
    validate_command(&req.command)?;
    if req.events.is_empty() {
        return Err(AppendError::invalid(
            "events",
            "an append needs at least one event",
        ));
    }
    if req.events.len() > cfg.max_events_per_append {
        return Err(AppendError::invalid(
            "events",
            format!(
                "{} events in one append; at most {} are allowed",
                req.events.len(),
                cfg.max_events_per_append
            ),
        ));
    }
    if let ExpectedVersion::Exact(0) = req.expected {
        return Err(AppendError::invalid(
            "expected_version",
            "exact version must be ≥ 1 (use NoStream for a new stream)",
        ));
    }
    if let ExpectedVersion::Exact(n) = req.expected
        && i64::try_from(n).is_err()
    {
        return Err(AppendError::invalid("expected_version", "out of range"));
    }
    for (i, e) in req.events.iter().enumerate() {
        let field = |f: &str| format!("events[{i}].{f}");
        validate_event_type(&e.event_type)
            .map_err(|reason| AppendError::invalid(field("event_type"), reason))?;
        if e.schema_version == 0 || i32::try_from(e.schema_version).is_err() {
            return Err(AppendError::invalid(
                field("schema_version"),
                "must be between 1 and 2^31-1",
            ));
        }
        if let Some(known) = &cfg.known_event_types
            && !known.contains(&(e.event_type.clone(), e.schema_version))
        {
            return Err(AppendError::invalid(
                field("event_type"),
                format!(
                    "unknown event type {:?} schema version {}",
                    e.event_type, e.schema_version
                ),
            ));
        }
        validate_json(&e.payload, cfg.max_payload_bytes)
            .map_err(|reason| AppendError::invalid(field("payload"), reason))?;
        validate_json(&e.metadata, cfg.max_metadata_bytes)
            .map_err(|reason| AppendError::invalid(field("metadata"), reason))?;
    }
    for (i, c) in req.claims.iter().enumerate() {
        if c.scope.is_empty()
            || c.scope.len() > MAX_KEY_BYTES
            || c.key.is_empty()
            || c.key.len() > MAX_KEY_BYTES
        {
            return Err(AppendError::invalid(
                format!("claims[{i}]"),
                "scope and key must be 1 to 200 bytes",
            ));
        }
    }
    Ok(())
}

/// `category-id`: a lowercase category, a dash, and a non-empty id without whitespace or control characters.
pub(crate) fn validate_stream_id(s: &str) -> Result<(), AppendError> {
    let bad = |reason: &str| Err(AppendError::invalid("stream_id", reason));
    if s.is_empty() {
        return bad("must not be empty");
    }
    if s.len() > MAX_STREAM_ID_BYTES {
        return bad("longer than 200 bytes");
    }
    let Some((category, id)) = s.split_once('-') else {
        return bad("must have the form category-id");
    };
    if category.is_empty()
        || !category.starts_with(|c: char| c.is_ascii_lowercase())
        || !category
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return bad(
            "the category (before the first '-') must be lowercase ASCII letters, digits or '_'",
        );
    }
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("the id (after the first '-') must be non-empty without whitespace");
    }
    Ok(())
}

fn validate_event_type(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > MAX_EVENT_TYPE_BYTES {
        return Err("longer than 100 bytes".into());
    }
    if !s.starts_with(|c: char| c.is_ascii_alphabetic())
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    {
        return Err(format!(
            "{s:?} is not a type name (ASCII letters, digits, '.', '_')"
        ));
    }
    Ok(())
}

fn validate_json(text: &str, max: usize) -> Result<(), String> {
    if text.len() > max {
        return Err(format!("{} bytes; at most {max} are allowed", text.len()));
    }
    // A valid JSON text that starts with '{' is an object; IgnoredAny checks validity without building a
    // value (this runs on every append).
    if !text.trim_start().starts_with('{') {
        return Err("must be a JSON object".into());
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| format!("is not JSON: {e}"))
}

fn validate_command(c: &CommandIdentity) -> Result<(), AppendError> {
    if c.principal.is_empty() || c.principal.len() > MAX_KEY_BYTES {
        return Err(AppendError::invalid("principal", "must be 1 to 200 bytes"));
    }
    if c.idempotency_key.is_empty()
        || c.idempotency_key.len() > MAX_KEY_BYTES
        || !c.idempotency_key.chars().all(|ch| ch.is_ascii_graphic())
    {
        return Err(AppendError::invalid(
            "idempotency_key",
            "must be 1 to 200 printable ASCII characters",
        ));
    }
    Ok(())
}

fn parse_tx_id(s: &str, position: i64) -> Result<u64, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt {
        position,
        reason: format!("tx_id {s:?} is not a number"),
    })
}

fn unique_violation_constraint(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            Some(db.constraint().unwrap_or_default().to_owned())
        }
        _ => None,
    }
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl EventStore {
    /// Append events to one stream, atomically and idempotently. See the crate docs for the guarantees.
    ///
    /// The span records `outcome`: `ok` (written or replayed), `conflict` (version, claim or idempotency
    /// key) or `error` (invalid request, database) — the service's append-latency histogram reads it.
    #[tracing::instrument(name = "eventstore.append", skip_all, fields(stream_id = %req.stream_id, events = req.events.len(), outcome = tracing::field::Empty))]
    pub async fn append(&self, req: &AppendRequest) -> Result<AppendOutcome, AppendError> {
        let result = self.append_checked(req).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(
                AppendError::WrongVersion { .. }
                | AppendError::ClaimTaken { .. }
                | AppendError::IdempotencyConflict { .. },
            ) => "conflict",
            Err(AppendError::InvalidInput { .. } | AppendError::Store(_)) => "error",
        };
        tracing::Span::current().record("outcome", outcome);
        result
    }

    async fn append_checked(&self, req: &AppendRequest) -> Result<AppendOutcome, AppendError> {
        validate(req, self)?;
        let mut attempts = 0;
        loop {
            let base = match req.expected {
                ExpectedVersion::NoStream => 0,
                ExpectedVersion::Exact(n) => n,
                ExpectedVersion::Any => self.current_version(&req.stream_id).await?,
            };
            match self.append_at(req, base).await {
                Err(AppendError::WrongVersion { .. })
                    if req.expected == ExpectedVersion::Any && attempts < ANY_RETRIES =>
                {
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    async fn append_at(
        &self,
        req: &AppendRequest,
        base: u64,
    ) -> Result<AppendOutcome, AppendError> {
        let recorded_at = micros(self.inner.clock.now());
        let n = req.events.len();
        let mut types = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        let mut metadata = Vec::with_capacity(n);
        let mut occurred = Vec::with_capacity(n);
        let mut digests = Vec::with_capacity(n);
        for (i, e) in req.events.iter().enumerate() {
            let occurred_at = micros(e.occurred_at);
            let canonical = CanonicalEvent {
                stream_id: &req.stream_id,
                stream_version: base + 1 + i as u64,
                event_type: &e.event_type,
                schema_version: e.schema_version,
                occurred_at_micros: occurred_at.timestamp_micros(),
                recorded_at_micros: recorded_at.timestamp_micros(),
                metadata: &e.metadata,
                payload: &e.payload,
            };
            digests.push(canonical.digest().to_vec());
            types.push(e.event_type.as_str());
            versions.push(i32::try_from(e.schema_version).unwrap_or(i32::MAX));
            payloads.push(e.payload.as_str());
            metadata.push(e.metadata.as_str());
            occurred.push(occurred_at);
        }
        let rows = if n == 1 && req.claims.is_empty() {
            sqlx::query(sql::APPEND_ONE)
                .bind(&req.stream_id)
                .bind(to_i64(base))
                .bind(types[0])
                .bind(versions[0])
                .bind(payloads[0])
                .bind(metadata[0])
                .bind(occurred[0])
                .bind(digests[0].as_slice())
                .bind(recorded_at)
                .bind(&req.command.principal)
                .bind(&req.command.idempotency_key)
                .bind(req.command.fingerprint.as_slice())
                .fetch_all(self.pool())
                .await
        } else {
            let claim_scopes: Vec<&str> = req.claims.iter().map(|c| c.scope.as_str()).collect();
            let claim_keys: Vec<&str> = req.claims.iter().map(|c| c.key.as_str()).collect();
            sqlx::query(sql::APPEND)
                .bind(&req.stream_id)
                .bind(to_i64(base))
                .bind(&types)
                .bind(&versions)
                .bind(&payloads)
                .bind(&metadata)
                .bind(&occurred)
                .bind(&digests)
                .bind(recorded_at)
                .bind(&req.command.principal)
                .bind(&req.command.idempotency_key)
                .bind(req.command.fingerprint.as_slice())
                .bind(&claim_scopes)
                .bind(&claim_keys)
                .fetch_all(self.pool())
                .await
        };

        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                let Some(constraint) = unique_violation_constraint(&e) else {
                    return Err(e.into());
                };
                // A concurrent duplicate of this command waited on the first one's row and lost:
                // answer with the first one's result.
                if let Some(replayed) = self.find_idempotent(&req.command).await? {
                    return Ok(replayed);
                }
                return Err(self.explain_conflict(req, &constraint).await);
            }
        };
        if rows.is_empty() {
            // The head row (base) does not exist: the stream is shorter than expected.
            if let Some(replayed) = self.find_idempotent(&req.command).await? {
                return Ok(replayed);
            }
            let actual = self.current_version(&req.stream_id).await?;
            return Err(AppendError::WrongVersion {
                stream_id: req.stream_id.clone(),
                expected: req.expected,
                actual,
            });
        }
        let result = self.result_from_rows(&req.stream_id, &rows)?;
        self.observe_committed(result.last_token());
        Ok(AppendOutcome {
            result,
            replayed: false,
        })
    }

    /// After a unique violation that was not a replay: a lost version race or a taken claim.
    async fn explain_conflict(&self, req: &AppendRequest, constraint: &str) -> AppendError {
        if constraint == sql::CLAIMS_KEY {
            let scopes: Vec<&str> = req.claims.iter().map(|c| c.scope.as_str()).collect();
            let keys: Vec<&str> = req.claims.iter().map(|c| c.key.as_str()).collect();
            return match sqlx::query(sql::FIND_CLAIMS)
                .bind(&scopes)
                .bind(&keys)
                .fetch_all(self.pool())
                .await
            {
                Ok(rows) => match rows.first() {
                    Some(r) => AppendError::ClaimTaken {
                        scope: r.try_get("scope").unwrap_or_default(),
                        held_by: r.try_get("stream_id").unwrap_or_default(),
                    },
                    // The holder was released in the meantime; report the conflict as it happened.
                    None => AppendError::ClaimTaken {
                        scope: scopes.first().map(|s| (*s).to_owned()).unwrap_or_default(),
                        held_by: String::new(),
                    },
                },
                Err(e) => e.into(),
            };
        }
        match self.current_version(&req.stream_id).await {
            Ok(actual) => AppendError::WrongVersion {
                stream_id: req.stream_id.clone(),
                expected: req.expected,
                actual,
            },
            Err(e) => e.into(),
        }
    }

    fn result_from_rows(
        &self,
        stream_id: &str,
        rows: &[sqlx::postgres::PgRow],
    ) -> Result<AppendResult, StoreError> {
        let mut tokens = Vec::with_capacity(rows.len());
        let mut first = None;
        let mut last = 0;
        for r in rows {
            let position: i64 = r.try_get("position")?;
            let tx: String = r.try_get("tx_text")?;
            let version: i64 = r.try_get("stream_version")?;
            tokens.push(Token {
                tx_id: parse_tx_id(&tx, position)?,
                position,
            });
            first.get_or_insert(to_u64(version));
            last = to_u64(version);
        }
        Ok(AppendResult {
            stream_id: stream_id.to_owned(),
            first_version: first.unwrap_or(0),
            last_version: last,
            tokens,
        })
    }

    /// If this command's idempotency key was used before: the original result (same request) or
    /// [`AppendError::IdempotencyConflict`] (different request). Command handlers call this before
    /// deciding, so a retried command is answered without re-running its rules.
    pub async fn find_idempotent(
        &self,
        command: &CommandIdentity,
    ) -> Result<Option<AppendOutcome>, AppendError> {
        let row = sqlx::query(sql::FIND_IDEMPOTENCY)
            .bind(&command.principal)
            .bind(&command.idempotency_key)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let fingerprint: Vec<u8> = row.try_get("request_fingerprint")?;
        if fingerprint.as_slice() != command.fingerprint.as_slice() {
            return Err(AppendError::IdempotencyConflict {
                idempotency_key: command.idempotency_key.clone(),
            });
        }
        let stream_id: String = row.try_get("stream_id")?;
        let first: i64 = row.try_get("first_version")?;
        let last: i64 = row.try_get("last_version")?;
        let rows = sqlx::query(sql::TOKENS_OF_VERSIONS)
            .bind(&stream_id)
            .bind(first)
            .bind(last)
            .fetch_all(self.pool())
            .await?;
        let result = self.result_from_rows(&stream_id, &rows)?;
        Ok(Some(AppendOutcome {
            result,
            replayed: true,
        }))
    }

    /// The stream's last version (0 when it does not exist).
    pub async fn current_version(&self, stream_id: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(sql::CURRENT_VERSION)
            .bind(stream_id)
            .fetch_one(self.pool())
            .await?;
        let v: i64 = row.try_get("version")?;
        Ok(to_u64(v))
    }

    /// Forget idempotency keys recorded before `before` (the retention job calls this).
    pub async fn purge_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql::PURGE_IDEMPOTENCY)
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// The stream holding a claim, if any (e.g. the volunteer registered with a given ID-number hash).
    pub async fn claim_holder(&self, scope: &str, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(sql::CLAIM_HOLDER)
            .bind(scope)
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("stream_id")).transpose()?)
    }

    /// Release every claim of `scope` held by `stream_id` (erasure releases the person's claim).
    pub async fn release_claims_of(&self, scope: &str, stream_id: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql::RELEASE_CLAIMS_OF_STREAM)
            .bind(scope)
            .bind(stream_id)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// Release a uniqueness claim (e.g. when a person's registration is erased).
    pub async fn release_claim(&self, scope: &str, key: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(sql::RELEASE_CLAIM)
            .bind(scope)
            .bind(key)
            .execute(self.pool())
            .await?
            .rows_affected()
            > 0)
    }
}
