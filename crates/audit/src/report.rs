//! What a verification found: the [`Report`] (counts, the newest checkpoint, what no checkpoint covers
//! yet) and, when something did not hold, the first [`Failure`], named by stream, version and token or
//! by checkpoint sequence. Nothing here carries event content.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use eventstore::Token;

/// The first thing that did not hold. Events are named by stream, version and token (`tx_id.position`),
/// checkpoints by sequence; intervals run from the previous checkpoint's token (exclusive) to this
/// checkpoint's token (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A stream's versions jump: versions `expected..found` are not in the log (an event was removed,
    /// or a stream's first events were).
    VersionGap {
        stream_id: String,
        /// The first missing version.
        expected: u64,
        /// The version found instead.
        found: u64,
        token: Token,
    },
    /// A stream's version comes after a higher (or equal) version of the same stream in the global
    /// order: events were reordered or swapped.
    Reordered {
        stream_id: String,
        version: u64,
        /// The highest version of the stream seen before it.
        after_version: u64,
        token: Token,
    },
    /// `prev_hash` is not the hash of the stream's previous version (32 zero bytes for version 1): an
    /// event was inserted without the chain, or replaced.
    BrokenLink {
        stream_id: String,
        version: u64,
        token: Token,
    },
    /// The stored hash is not `SHA-256(prev_hash ‖ digest of the row)`: the row was altered after it was
    /// written.
    ContentAltered {
        stream_id: String,
        version: u64,
        token: Token,
    },
    /// Events not in strictly increasing `(tx_id, position)` order (only a bundle can be out of order).
    OutOfOrder { token: Token, previous: Token },
    /// The checkpoint sequence is not contiguous: `expected` is missing (`found` comes next).
    CheckpointMissing { expected: u64, found: u64 },
    /// A checkpoint names a key that is not among the auditor's public keys.
    UnknownKey {
        sequence: u64,
        key_id: String,
        /// The keys given, oldest first, comma-separated.
        known_key_ids: String,
    },
    /// A checkpoint is signed by a key retired before the key of an earlier checkpoint: the keys of a
    /// chain never go back, so a retired key signed after its rotation (a leaked key, or a forgery).
    RetiredKeySigned {
        sequence: u64,
        key_id: String,
        after_key_id: String,
    },
    /// A checkpoint's hash does not match its own fields: a field was edited.
    CheckpointEdited { sequence: u64 },
    /// A checkpoint's signature does not verify under the public key: forged or altered.
    BadSignature { sequence: u64 },
    /// A checkpoint's `prev_hash` is not the previous checkpoint's hash.
    CheckpointChainBroken { sequence: u64 },
    /// A checkpoint does not cover more than the previous one (token or count not increasing).
    CheckpointNotAfterPrevious {
        sequence: u64,
        token: Token,
        previous_token: Token,
    },
    /// A checkpoint row that cannot be what the notary wrote (bad field lengths or values).
    CheckpointUnreadable { reason: String },
    /// When the fold reached the checkpoint's token, the number of events folded in its interval or the
    /// global digest differed from what was signed: an event in the interval was removed, added,
    /// altered or a stream re-chained.
    CheckpointMismatch {
        sequence: u64,
        /// The previous checkpoint's token (`None`: the start of the log).
        after: Option<Token>,
        token: Token,
        /// Events the checkpoint signed for the interval.
        signed_events: u64,
        /// Events found in the interval.
        found_events: u64,
        digest_differs: bool,
    },
    /// The checkpoint's last covered event is not in the log: the fold went past its token (or the log
    /// ended before it) without meeting it. A truncated tail or a deleted event.
    CheckpointNotReached {
        sequence: u64,
        after: Option<Token>,
        token: Token,
        signed_events: u64,
        /// Events found in the interval before the fold passed the token.
        found_events: u64,
        /// The first event after the token (`None`: the log ended).
        next: Option<Token>,
    },
    /// The anchor (an exported checkpoint kept outside the database) is not self-consistent or its
    /// signature does not verify.
    AnchorInvalid { reason: String },
    /// The log holds no checkpoint with the anchor's sequence: the newest checkpoints were deleted.
    AnchorMissing { sequence: u64, newest: Option<u64> },
    /// The checkpoint with the anchor's sequence differs from the anchor.
    AnchorDiffers { sequence: u64 },
    /// A bundle file that does not parse, or whose parts do not agree (manifest vs content).
    BundleMalformed {
        file: String,
        /// 1-based line of an NDJSON file.
        line: Option<u64>,
        reason: String,
    },
}

fn interval(after: Option<Token>, token: Token) -> String {
    match after {
        Some(a) => format!("after token {a} up to token {token}"),
        None => format!("from the start of the log up to token {token}"),
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VersionGap {
                stream_id,
                expected,
                found,
                token,
            } => {
                let missing = if found.saturating_sub(*expected) > 1 {
                    format!("versions {expected} to {} are", found - 1)
                } else {
                    format!("version {expected} is")
                };
                write!(
                    f,
                    "stream {stream_id} version {found} (token {token}): {missing} missing (an event was removed)"
                )
            }
            Self::Reordered {
                stream_id,
                version,
                after_version,
                token,
            } => write!(
                f,
                "stream {stream_id} version {version} (token {token}) comes after version {after_version} in the log order: events were reordered or swapped"
            ),
            Self::BrokenLink {
                stream_id,
                version,
                token,
            } => {
                if *version == 1 {
                    write!(
                        f,
                        "stream {stream_id} version 1 (token {token}): prev_hash is not the genesis hash (32 zero bytes)"
                    )
                } else {
                    write!(
                        f,
                        "stream {stream_id} version {version} (token {token}): prev_hash is not the hash of version {} (an event was inserted without the chain or replaced)",
                        version.saturating_sub(1)
                    )
                }
            }
            Self::ContentAltered {
                stream_id,
                version,
                token,
            } => write!(
                f,
                "stream {stream_id} version {version} (token {token}): the stored hash does not match the row's content (altered after it was written)"
            ),
            Self::OutOfOrder { token, previous } => write!(
                f,
                "event at token {token} follows token {previous}: not in the global order"
            ),
            Self::CheckpointMissing { expected, found } => write!(
                f,
                "checkpoint {expected} is missing (checkpoint {found} comes next): checkpoints were deleted"
            ),
            Self::UnknownKey {
                sequence,
                key_id,
                known_key_ids,
            } => write!(
                f,
                "checkpoint {sequence}: signed with unknown key {key_id} (the public keys given are {known_key_ids})"
            ),
            Self::RetiredKeySigned {
                sequence,
                key_id,
                after_key_id,
            } => write!(
                f,
                "checkpoint {sequence}: signed with key {key_id}, which was retired before key {after_key_id} signed an earlier checkpoint: a retired key signed after its rotation"
            ),
            Self::CheckpointEdited { sequence } => write!(
                f,
                "checkpoint {sequence}: its hash does not match its fields (a field was edited)"
            ),
            Self::BadSignature { sequence } => write!(
                f,
                "checkpoint {sequence}: the signature does not verify under the public key (forged or altered)"
            ),
            Self::CheckpointChainBroken { sequence } => write!(
                f,
                "checkpoint {sequence}: prev_hash is not the hash of checkpoint {}",
                sequence.saturating_sub(1)
            ),
            Self::CheckpointNotAfterPrevious {
                sequence,
                token,
                previous_token,
            } => write!(
                f,
                "checkpoint {sequence}: token {token} and its count do not come after checkpoint {}'s token {previous_token}",
                sequence.saturating_sub(1)
            ),
            Self::CheckpointUnreadable { reason } => {
                write!(f, "a checkpoint row cannot be read: {reason}")
            }
            Self::CheckpointMismatch {
                sequence,
                after,
                token,
                signed_events,
                found_events,
                digest_differs,
            } => {
                let what = if signed_events == found_events {
                    "the same number of events, but the global digest differs (an event was altered, replaced or a stream re-chained)".to_owned()
                } else {
                    format!(
                        "{found_events} events where {signed_events} were signed{}",
                        if *digest_differs {
                            ", and the global digest differs"
                        } else {
                            ""
                        }
                    )
                };
                write!(
                    f,
                    "checkpoint {sequence}: the log {}: {what}",
                    interval(*after, *token)
                )
            }
            Self::CheckpointNotReached {
                sequence,
                after,
                token,
                signed_events,
                found_events,
                next,
            } => {
                let next = match next {
                    Some(n) => format!("the next event is at token {n}"),
                    None => "the log ends before it".to_owned(),
                };
                write!(
                    f,
                    "checkpoint {sequence}: its last covered event (token {token}) is not in the log ({next}); {found_events} of the {signed_events} events signed {} were found (a stream tail or events were removed)",
                    interval(*after, *token)
                )
            }
            Self::AnchorInvalid { reason } => write!(f, "the anchor does not verify: {reason}"),
            Self::AnchorMissing { sequence, newest } => {
                let newest = match newest {
                    Some(n) => format!("the newest present is {n}"),
                    None => "there are none".to_owned(),
                };
                write!(
                    f,
                    "checkpoint {sequence} of the anchor is missing: the newest checkpoints were deleted ({newest})"
                )
            }
            Self::AnchorDiffers { sequence } => write!(
                f,
                "checkpoint {sequence} differs from the anchor (it was replaced)"
            ),
            Self::BundleMalformed { file, line, reason } => match line {
                Some(l) => write!(f, "bundle {file} line {l}: {reason}"),
                None => write!(f, "bundle {file}: {reason}"),
            },
        }
    }
}

impl Failure {
    /// The stream and version this failure names, if it names an event.
    pub fn event(&self) -> Option<(&str, u64)> {
        match self {
            Self::VersionGap {
                stream_id, found, ..
            } => Some((stream_id, *found)),
            Self::Reordered {
                stream_id, version, ..
            }
            | Self::BrokenLink {
                stream_id, version, ..
            }
            | Self::ContentAltered {
                stream_id, version, ..
            } => Some((stream_id, *version)),
            _ => None,
        }
    }

    /// The checkpoint sequence this failure names, if it names one.
    pub fn checkpoint(&self) -> Option<u64> {
        match self {
            Self::CheckpointMissing { expected, .. } => Some(*expected),
            Self::UnknownKey { sequence, .. }
            | Self::RetiredKeySigned { sequence, .. }
            | Self::CheckpointEdited { sequence }
            | Self::BadSignature { sequence }
            | Self::CheckpointChainBroken { sequence }
            | Self::CheckpointNotAfterPrevious { sequence, .. }
            | Self::CheckpointMismatch { sequence, .. }
            | Self::CheckpointNotReached { sequence, .. }
            | Self::AnchorMissing { sequence, .. }
            | Self::AnchorDiffers { sequence } => Some(*sequence),
            _ => None,
        }
    }
}

/// The newest checkpoint seen, in short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointSummary {
    pub sequence: u64,
    pub token: Token,
    pub event_count: u64,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
}

/// Events after the newest checkpoint: verified event by event, but no signature covers them yet. Not a
/// failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uncovered {
    pub events: u64,
    pub first: Token,
    pub last: Token,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Events read and checked (up to the first failure).
    pub events: u64,
    /// Distinct streams seen.
    pub streams: u64,
    /// Checkpoints whose signature, chain, event count and global digest all held.
    pub checkpoints_verified: u64,
    /// Checkpoints present (in the database, or in the bundle).
    pub checkpoints_present: u64,
    /// The newest checkpoint present.
    pub newest_checkpoint: Option<CheckpointSummary>,
    /// The anchor's sequence, when an anchor was given and matched.
    pub anchor_matched: Option<u64>,
    /// Events after the newest checkpoint (`None` when there are none).
    pub uncovered: Option<Uncovered>,
    /// Bundles only: streams whose first event in the bundle has a version above 1 (they began before
    /// the bundle; their first `prev_hash` is trusted and the checkpoints vouch for it).
    pub streams_begun_before: u64,
    /// `None` when everything held.
    pub failure: Option<Failure>,
}

impl Report {
    /// Whether everything held.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for Report {
    /// The summary an auditor reads, ending with `OK` or `FAILED: <the first failure>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "events verified:      {} in {} streams",
            self.events, self.streams
        )?;
        if self.streams_begun_before > 0 {
            writeln!(
                f,
                "streams begun before the bundle: {} (their first link is vouched for by the checkpoints)",
                self.streams_begun_before
            )?;
        }
        writeln!(
            f,
            "checkpoints verified: {} of {}",
            self.checkpoints_verified, self.checkpoints_present
        )?;
        match &self.newest_checkpoint {
            Some(cp) => writeln!(
                f,
                "newest checkpoint:    {} at token {}, {} events, signed {} by key {}",
                cp.sequence,
                cp.token,
                cp.event_count,
                cp.signed_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                cp.key_id
            )?,
            None => writeln!(f, "newest checkpoint:    none")?,
        }
        if let Some(a) = self.anchor_matched {
            writeln!(f, "anchor:               checkpoint {a} matches the anchor")?;
        }
        match &self.uncovered {
            Some(u) => writeln!(
                f,
                "not yet covered by a checkpoint: {} events (tokens {} to {})",
                u.events, u.first, u.last
            )?,
            None => writeln!(f, "not yet covered by a checkpoint: 0 events")?,
        }
        match &self.failure {
            None => writeln!(f, "OK"),
            Some(failure) => writeln!(f, "FAILED: {failure}"),
        }
    }
}
