//! Integrity verification: recompute every hash from the raw rows and name the first one that does not
//! match. A row altered in place, a deleted event (version gap / broken link), swapped events and a
//! chain re-linked by someone without the original predecessor all show up here. (Deleted stream tails
//! and a fully re-chained stream need the notary's signed checkpoints, which are out of this crate.)

use crate::error::StoreError;
use crate::hash::{self, GENESIS};
use crate::model::RecordedEvent;
use crate::read::{event_from_row, hash32};
use crate::sql;
use crate::store::EventStore;
use crate::token::Token;

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Versions are not 1, 2, 3, … (an event was removed or renumbered).
    VersionGap { expected: u64, found: u64 },
    /// `prev_hash` is not the hash of the stream's previous event (or the genesis hash for version 1).
    BrokenLink,
    /// The stored hash does not match the row's content: the row was altered after it was written.
    ContentAltered,
}

/// The first row that does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub stream_id: String,
    pub stream_version: u64,
    pub position: i64,
    pub problem: Problem,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.problem {
            Problem::VersionGap { expected, found } => {
                format!("version {found} where {expected} was expected")
            }
            Problem::BrokenLink => "prev_hash does not match the previous event's hash".to_owned(),
            Problem::ContentAltered => {
                "content does not match its hash (altered after writing)".to_owned()
            }
        };
        write!(
            f,
            "stream {} version {} (position {}): {what}",
            self.stream_id, self.stream_version, self.position
        )
    }
}

/// The outcome of a verification run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub events_checked: u64,
    /// `None` when everything verified.
    pub first_mismatch: Option<Mismatch>,
}

fn check_content(e: &RecordedEvent) -> bool {
    hash::chain(&e.prev_hash, &e.canonical().digest()) == e.hash
}

fn mismatch(e: &RecordedEvent, problem: Problem) -> Mismatch {
    Mismatch {
        stream_id: e.stream_id.clone(),
        stream_version: e.stream_version,
        position: e.token.position,
        problem,
    }
}

impl EventStore {
    /// Verify one stream: versions contiguous from 1, every link, every hash.
    pub async fn verify_stream(&self, stream_id: &str) -> Result<Report, StoreError> {
        let events = self.read_stream(stream_id).await?;
        let mut prev = GENESIS;
        for (i, e) in events.iter().enumerate() {
            let expected = i as u64 + 1;
            if e.stream_version != expected {
                return Ok(Report {
                    events_checked: i as u64,
                    first_mismatch: Some(mismatch(
                        e,
                        Problem::VersionGap {
                            expected,
                            found: e.stream_version,
                        },
                    )),
                });
            }
            if e.prev_hash != prev {
                return Ok(Report {
                    events_checked: i as u64,
                    first_mismatch: Some(mismatch(e, Problem::BrokenLink)),
                });
            }
            if !check_content(e) {
                return Ok(Report {
                    events_checked: i as u64,
                    first_mismatch: Some(mismatch(e, Problem::ContentAltered)),
                });
            }
            prev = e.hash;
        }
        Ok(Report {
            events_checked: events.len() as u64,
            first_mismatch: None,
        })
    }

    /// Verify every committed event after `after`: each row's hash, and its link to its stream
    /// predecessor (wherever that is in the log). Pages are read in `(tx_id, position)` order; a row that
    /// commits during the run with a smaller tx_id than a page already read is left for the next run.
    pub async fn verify_range(&self, after: Token) -> Result<Report, StoreError> {
        let mut after = after;
        let mut checked = 0u64;
        loop {
            let rows = sqlx::query(sql::READ_ALL_WITH_PREDECESSOR)
                .bind(after.tx_id.to_string())
                .bind(after.position)
                .bind(self.config().page_size)
                .fetch_all(self.pool())
                .await?;
            if rows.is_empty() {
                return Ok(Report {
                    events_checked: checked,
                    first_mismatch: None,
                });
            }
            for row in &rows {
                let e = event_from_row(row)?;
                let predecessor: Option<Vec<u8>> = sqlx::Row::try_get(row, "predecessor_hash")?;
                let expected_prev = match (e.stream_version, predecessor) {
                    (1, _) => Some(GENESIS),
                    (_, Some(_)) => Some(hash32(row, "predecessor_hash", e.token.position)?),
                    (_, None) => None,
                };
                let problem = match expected_prev {
                    None => Some(Problem::VersionGap {
                        expected: e.stream_version - 1,
                        found: e.stream_version,
                    }),
                    Some(p) if p != e.prev_hash => Some(Problem::BrokenLink),
                    Some(_) if !check_content(&e) => Some(Problem::ContentAltered),
                    Some(_) => None,
                };
                if let Some(problem) = problem {
                    return Ok(Report {
                        events_checked: checked,
                        first_mismatch: Some(mismatch(&e, problem)),
                    });
                }
                checked += 1;
                after = e.token;
            }
        }
    }
}
