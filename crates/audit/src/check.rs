//! The checks themselves, independent of where the events come from (the database or a bundle): one
//! pass in the global order with the last `(version, hash)` of every stream in memory and the running
//! global digest, meeting the checkpoints as the fold reaches their tokens.

use std::collections::HashMap;

use eventstore::Token;
use eventstore::hash::{self, CanonicalEvent, GENESIS};
use notary::{Checkpoint, ExportedCheckpoint, GENESIS_DIGEST, Keyring, fold};

use crate::report::{CheckpointSummary, Failure, Report, Uncovered};

/// One event as read, borrowing its text from the row or the line it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventRef<'a> {
    pub token: Token,
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub occurred_at_micros: i64,
    pub recorded_at_micros: i64,
    pub metadata: &'a str,
    pub payload: &'a str,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl EventRef<'_> {
    fn digest(&self) -> [u8; 32] {
        CanonicalEvent {
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            event_type: self.event_type,
            schema_version: self.schema_version,
            occurred_at_micros: self.occurred_at_micros,
            recorded_at_micros: self.recorded_at_micros,
            metadata: self.metadata,
            payload: self.payload,
        }
        .digest()
    }
}

/// Whether to keep reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Check the checkpoints among themselves: sequences contiguous, each signed by a key of `keys` with the
/// keys never going back ([`Keyring`]), each hash and signature, the chain, tokens and counts
/// increasing. `start` is a checkpoint already verified that the list continues (a bundle's `from`);
/// without it the list must begin at sequence 1.
pub(crate) fn check_checkpoints(
    checkpoints: &[Checkpoint],
    keys: &Keyring,
    start: Option<&Checkpoint>,
) -> Result<(), Failure> {
    let mut previous = start;
    let mut previous_rank = match start {
        Some(s) => Some((check_signed(s, keys)?, s)),
        None => None,
    };
    for cp in checkpoints {
        let expected = previous.map_or(1, |p| p.sequence + 1);
        if cp.sequence != expected {
            return Err(Failure::CheckpointMissing {
                expected,
                found: cp.sequence,
            });
        }
        let rank = check_signed(cp, keys)?;
        if let Some((before, signed_before)) = previous_rank
            && rank < before
        {
            return Err(Failure::RetiredKeySigned {
                sequence: cp.sequence,
                key_id: cp.key_id.clone(),
                after_key_id: signed_before.key_id.clone(),
            });
        }
        let (prev_hash, prev_token, prev_count) = previous
            .map_or(([0; 32], Token::START, 0), |p| {
                (p.hash, p.token, p.event_count)
            });
        if cp.prev_hash != prev_hash {
            return Err(Failure::CheckpointChainBroken {
                sequence: cp.sequence,
            });
        }
        if cp.token <= prev_token || cp.event_count <= prev_count {
            return Err(Failure::CheckpointNotAfterPrevious {
                sequence: cp.sequence,
                token: cp.token,
                previous_token: prev_token,
            });
        }
        previous = Some(cp);
        previous_rank = Some((rank, cp));
    }
    Ok(())
}

/// The key (one of `keys`), the hash over the fields, the signature; the key's rank in `keys`.
pub(crate) fn check_signed(cp: &Checkpoint, keys: &Keyring) -> Result<usize, Failure> {
    let Some(rank) = keys.rank(&cp.key_id) else {
        return Err(Failure::UnknownKey {
            sequence: cp.sequence,
            key_id: cp.key_id.clone(),
            known_key_ids: keys.key_ids(),
        });
    };
    if !cp.hash_matches() {
        return Err(Failure::CheckpointEdited {
            sequence: cp.sequence,
        });
    }
    if keys.verify(cp).is_none() {
        return Err(Failure::BadSignature {
            sequence: cp.sequence,
        });
    }
    Ok(rank)
}

/// The anchor must be signed by a key of `keys` and equal (same hash) to the present checkpoint of its
/// sequence.
pub(crate) fn check_anchor(
    anchor: &ExportedCheckpoint,
    keys: &Keyring,
    present: &[Checkpoint],
) -> Result<u64, Failure> {
    let anchor = Checkpoint::try_from(anchor).map_err(|e| Failure::AnchorInvalid {
        reason: e.to_string(),
    })?;
    if keys.verify(&anchor).is_none() {
        return Err(Failure::AnchorInvalid {
            reason: format!(
                "checkpoint {} is not signed by any of the keys {}",
                anchor.sequence,
                keys.key_ids()
            ),
        });
    }
    match present.iter().find(|c| c.sequence == anchor.sequence) {
        None => Err(Failure::AnchorMissing {
            sequence: anchor.sequence,
            newest: present.last().map(|c| c.sequence),
        }),
        Some(c) if c.hash != anchor.hash => Err(Failure::AnchorDiffers {
            sequence: anchor.sequence,
        }),
        Some(_) => Ok(anchor.sequence),
    }
}

/// Where the fold starts: the start of the log, or a verified checkpoint (a bundle's `from`).
pub(crate) struct Start {
    pub digest: [u8; 32],
    pub count: u64,
    /// `None`: the start of the log.
    pub after: Option<Token>,
    /// A stream's first event may have a version above 1 (a bundle begins mid-log).
    pub partial: bool,
}

impl Start {
    pub(crate) const GENESIS: Start = Start {
        digest: GENESIS_DIGEST,
        count: 0,
        after: None,
        partial: false,
    };

    pub(crate) fn at(checkpoint: &Checkpoint) -> Start {
        Start {
            digest: checkpoint.digest,
            count: checkpoint.event_count,
            after: Some(checkpoint.token),
            partial: true,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Head {
    version: u64,
    hash: [u8; 32],
}

/// A version gap waits for the rest of the log: if the missing version turns up later, the events were
/// reordered (swapped), not removed.
#[derive(Debug)]
struct Gap {
    stream_id: String,
    expected: u64,
    found: u64,
    token: Token,
}

/// The running verification.
pub(crate) struct Verifier {
    streams: HashMap<Box<str>, Head>,
    partial: bool,
    begun_before: u64,
    digest: [u8; 32],
    count: u64,
    last_token: Option<Token>,
    /// Checkpoints to meet, oldest first (already checked among themselves).
    checkpoints: Vec<Checkpoint>,
    next: usize,
    /// The last checkpoint met: its token and count (the start of the current interval).
    base_token: Option<Token>,
    base_count: u64,
    events: u64,
    met: u64,
    first_uncovered: Option<Token>,
    gap: Option<Gap>,
    failure: Option<Failure>,
}

impl Verifier {
    pub(crate) fn new(start: Start, checkpoints: Vec<Checkpoint>) -> Self {
        Self {
            streams: HashMap::new(),
            partial: start.partial,
            begun_before: 0,
            digest: start.digest,
            count: start.count,
            last_token: start.after,
            checkpoints,
            next: 0,
            base_token: start.after,
            base_count: start.count,
            events: 0,
            met: 0,
            first_uncovered: None,
            gap: None,
            failure: None,
        }
    }

    fn fail(&mut self, failure: Failure) -> Flow {
        self.failure = Some(failure);
        Flow::Stop
    }

    /// Check one event and fold it in.
    pub(crate) fn push(&mut self, e: &EventRef<'_>) -> Flow {
        if let Some(gap) = &self.gap {
            // Only looking for the missing version now.
            if e.stream_id == gap.stream_id && e.stream_version == gap.expected {
                let failure = Failure::Reordered {
                    stream_id: gap.stream_id.clone(),
                    version: e.stream_version,
                    after_version: gap.found,
                    token: e.token,
                };
                self.gap = None;
                return self.fail(failure);
            }
            return Flow::Continue;
        }
        if self.failure.is_some() {
            return Flow::Stop;
        }
        if let Some(previous) = self.last_token
            && e.token <= previous
        {
            return self.fail(Failure::OutOfOrder {
                token: e.token,
                previous,
            });
        }
        self.last_token = Some(e.token);
        if let Some(cp) = self.checkpoints.get(self.next)
            && e.token > cp.token
        {
            let failure = Failure::CheckpointNotReached {
                sequence: cp.sequence,
                after: self.base_token,
                token: cp.token,
                signed_events: cp.event_count.saturating_sub(self.base_count),
                found_events: self.count - self.base_count,
                next: Some(e.token),
            };
            return self.fail(failure);
        }

        // The stream's chain.
        let head = self.streams.get_mut(e.stream_id);
        let expected_prev = match &head {
            Some(h) if Some(e.stream_version) == h.version.checked_add(1) => h.hash,
            Some(h) if e.stream_version <= h.version => {
                let failure = Failure::Reordered {
                    stream_id: e.stream_id.to_owned(),
                    version: e.stream_version,
                    after_version: h.version,
                    token: e.token,
                };
                return self.fail(failure);
            }
            Some(h) => {
                self.gap = Some(Gap {
                    stream_id: e.stream_id.to_owned(),
                    expected: h.version.saturating_add(1),
                    found: e.stream_version,
                    token: e.token,
                });
                return Flow::Continue;
            }
            None if e.stream_version == 1 => GENESIS,
            None if self.partial => e.prev_hash,
            None => {
                self.gap = Some(Gap {
                    stream_id: e.stream_id.to_owned(),
                    expected: 1,
                    found: e.stream_version,
                    token: e.token,
                });
                return Flow::Continue;
            }
        };
        if e.prev_hash != expected_prev {
            return self.fail(Failure::BrokenLink {
                stream_id: e.stream_id.to_owned(),
                version: e.stream_version,
                token: e.token,
            });
        }
        if hash::chain(&e.prev_hash, &e.digest()) != e.hash {
            return self.fail(Failure::ContentAltered {
                stream_id: e.stream_id.to_owned(),
                version: e.stream_version,
                token: e.token,
            });
        }
        match head {
            Some(h) => {
                h.version = e.stream_version;
                h.hash = e.hash;
            }
            None => {
                if e.stream_version > 1 {
                    self.begun_before += 1;
                }
                self.streams.insert(
                    e.stream_id.into(),
                    Head {
                        version: e.stream_version,
                        hash: e.hash,
                    },
                );
            }
        }

        // The global digest, and the checkpoint that seals it here.
        self.digest = fold(&self.digest, e.token, &e.hash);
        self.count += 1;
        self.events += 1;
        match self.checkpoints.get(self.next) {
            None => {
                self.first_uncovered.get_or_insert(e.token);
            }
            Some(cp) if cp.token == e.token => {
                if cp.event_count != self.count || cp.digest != self.digest {
                    let failure = Failure::CheckpointMismatch {
                        sequence: cp.sequence,
                        after: self.base_token,
                        token: cp.token,
                        signed_events: cp.event_count.saturating_sub(self.base_count),
                        found_events: self.count - self.base_count,
                        digest_differs: cp.digest != self.digest,
                    };
                    return self.fail(failure);
                }
                self.base_token = Some(cp.token);
                self.base_count = cp.event_count;
                self.next += 1;
                self.met += 1;
            }
            Some(_) => {}
        }
        Flow::Continue
    }

    /// The end of the log: a pending gap is a removed event; a checkpoint not met lost its last event.
    pub(crate) fn finish(mut self, report: &mut Report) {
        if let Some(gap) = self.gap.take() {
            self.failure = Some(Failure::VersionGap {
                stream_id: gap.stream_id,
                expected: gap.expected,
                found: gap.found,
                token: gap.token,
            });
        }
        if self.failure.is_none()
            && let Some(cp) = self.checkpoints.get(self.next)
        {
            self.failure = Some(Failure::CheckpointNotReached {
                sequence: cp.sequence,
                after: self.base_token,
                token: cp.token,
                signed_events: cp.event_count.saturating_sub(self.base_count),
                found_events: self.count - self.base_count,
                next: None,
            });
        }
        report.events = self.events;
        report.streams = self.streams.len() as u64;
        report.streams_begun_before = self.begun_before;
        report.checkpoints_verified += self.met;
        if self.failure.is_none()
            && let (Some(first), Some(last)) = (self.first_uncovered, self.last_token)
        {
            report.uncovered = Some(Uncovered {
                events: self.count - self.base_count,
                first,
                last,
            });
        }
        if report.failure.is_none() {
            report.failure = self.failure;
        }
    }
}

pub(crate) fn summary(cp: &Checkpoint) -> CheckpointSummary {
    CheckpointSummary {
        sequence: cp.sequence,
        token: cp.token,
        event_count: cp.event_count,
        signed_at: cp.signed_at,
        key_id: cp.key_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-chained event of `stream` at `version` after `prev`, at token `n.1`.
    fn event(stream: &'static str, version: u64, prev: [u8; 32], n: u64) -> EventRef<'static> {
        let mut e = EventRef {
            token: Token {
                tx_id: n,
                position: 1,
            },
            stream_id: stream,
            stream_version: version,
            event_type: "TeamAmended",
            schema_version: 1,
            occurred_at_micros: 1,
            recorded_at_micros: 2,
            metadata: "{}",
            payload: "{}",
            prev_hash: prev,
            hash: [0; 32],
        };
        e.hash = hash::chain(&prev, &e.digest());
        e
    }

    fn run(events: &[EventRef<'static>]) -> Report {
        let mut v = Verifier::new(Start::GENESIS, Vec::new());
        for e in events {
            if v.push(e) == Flow::Stop {
                break;
            }
        }
        let mut report = Report::default();
        v.finish(&mut report);
        report
    }

    #[test]
    fn a_gap_filled_later_is_a_reordering_and_an_unfilled_one_a_removal() {
        let a1 = event("a", 1, GENESIS, 10);
        let a2 = event("a", 2, a1.hash, 11);
        let a3 = event("a", 3, a2.hash, 12);
        let swapped = [
            a1,
            a3,
            EventRef {
                token: Token {
                    tx_id: 13,
                    position: 1,
                },
                ..a2
            },
        ];
        assert!(matches!(
            run(&swapped).failure,
            Some(Failure::Reordered {
                version: 2,
                after_version: 3,
                ..
            })
        ));
        assert!(matches!(
            run(&[a1, a3]).failure,
            Some(Failure::VersionGap {
                expected: 2,
                found: 3,
                ..
            })
        ));
        let whole = run(&[a1, a2, a3]);
        assert_eq!(whole.failure, None);
        assert_eq!(whole.uncovered.map(|u| u.events), Some(3));
    }

    #[test]
    fn a_stream_beginning_before_a_bundle_is_trusted_only_in_a_bundle() {
        let b5 = event("b", 5, [9; 32], 20);
        assert!(matches!(
            run(&[b5]).failure,
            Some(Failure::VersionGap {
                expected: 1,
                found: 5,
                ..
            })
        ));
        let mut v = Verifier::new(
            Start {
                digest: GENESIS_DIGEST,
                count: 0,
                after: None,
                partial: true,
            },
            Vec::new(),
        );
        assert_eq!(v.push(&b5), Flow::Continue);
        let mut report = Report::default();
        v.finish(&mut report);
        assert_eq!((report.failure, report.streams_begun_before), (None, 1));
    }
}
