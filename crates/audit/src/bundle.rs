//! Bundles: a directory an auditor can verify offline, without the database.
//!
//! | file | content |
//! |---|---|
//! | `manifest.json` | [`Manifest`]: format tag, the checkpoints it spans (sequence, token, count), the number of events, the key id |
//! | `events.ndjson` | one event per line, in the global order: token, tx_id, position, stream_id, stream_version, event_type, schema_version, occurred_at and recorded_at (i64 microseconds since the epoch, UTC), metadata and payload (the exact stored JSON text, as strings), prev_hash and hash (hex) |
//! | `checkpoints.ndjson` | one [`ExportedCheckpoint`] per line: checkpoint `from` (if not 0), then every checkpoint up to `to` |
//! | `notary-public-key.pem` | the public keys the exporter was given, oldest first (one after a rotation; an auditor should pass their own copies) |
//!
//! A bundle covers the events after checkpoint `from` (0: the start of the log) up to checkpoint `to`.
//! Verifying it starts the fold at `from`'s count and digest (after checking its signature), treats
//! the first event in the bundle of a stream whose version is above 1 as the continuation of a stream
//! that began before the bundle (its `prev_hash` is taken as given: the checkpoints vouch for it) and
//! checks every checkpoint of the bundle exactly as [`crate::verify()`] does.
//!
//! Policy: payloads stay as stored (personal data in the log is ciphertext); the export reads one
//! read-only snapshot and never writes to the database; the manifest is written last, so an interrupted
//! export is visibly incomplete; a bundle that does not parse, or whose parts disagree, is a
//! [`Failure::BundleMalformed`] (a tampered bundle is a finding), while an unreadable file is an error.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use eventstore::Token;
use futures_util::TryStreamExt;
use notary::{Checkpoint, ExportedCheckpoint, Keyring};
use serde::{Deserialize, Serialize};

use crate::check::{self, EventRef, Flow, Start, Verifier};
use crate::error::AuditError;
use crate::report::{Failure, Report};
use crate::verify::{PROGRESS_EVERY, Progress, VerifyOptions, event_ref, snapshot, sql};

/// The name of this layout, in the manifest.
pub const FORMAT: &str = "vledger/bundle/v1";
pub const MANIFEST: &str = "manifest.json";
pub const EVENTS: &str = "events.ndjson";
pub const CHECKPOINTS: &str = "checkpoints.ndjson";
pub const PUBLIC_KEY: &str = "notary-public-key.pem";

/// What a bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The checkpoint the bundle starts after (0: the start of the log).
    pub from_sequence: u64,
    /// Its token (`None` for the start of the log).
    pub from_token: Option<String>,
    /// Events before the bundle (checkpoint `from`'s count).
    pub from_event_count: u64,
    /// The last checkpoint in the bundle.
    pub to_sequence: u64,
    pub to_token: String,
    pub to_event_count: u64,
    /// Lines of `events.ndjson`.
    pub event_count: u64,
    /// The key that signed checkpoint `to`.
    pub key_id: String,
}

/// One line of `events.ndjson`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    token: Cow<'a, str>,
    tx_id: u64,
    position: i64,
    #[serde(borrow)]
    stream_id: Cow<'a, str>,
    stream_version: u64,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    schema_version: u32,
    occurred_at: i64,
    recorded_at: i64,
    #[serde(borrow)]
    metadata: Cow<'a, str>,
    #[serde(borrow)]
    payload: Cow<'a, str>,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
}

impl<'a> Line<'a> {
    fn of(e: &EventRef<'a>) -> Self {
        Line {
            token: Cow::Owned(e.token.to_string()),
            tx_id: e.token.tx_id,
            position: e.token.position,
            stream_id: Cow::Borrowed(e.stream_id),
            stream_version: e.stream_version,
            event_type: Cow::Borrowed(e.event_type),
            schema_version: e.schema_version,
            occurred_at: e.occurred_at_micros,
            recorded_at: e.recorded_at_micros,
            metadata: Cow::Borrowed(e.metadata),
            payload: Cow::Borrowed(e.payload),
            prev_hash: Cow::Owned(hex::encode(e.prev_hash)),
            hash: Cow::Owned(hex::encode(e.hash)),
        }
    }

    fn event(&self) -> Result<EventRef<'_>, String> {
        let token = Token {
            tx_id: self.tx_id,
            position: self.position,
        };
        if self.token != token.to_string() {
            return Err(format!(
                "token {:?} does not match tx_id {} and position {}",
                self.token, self.tx_id, self.position
            ));
        }
        let hash32 = |field: &str, text: &str| -> Result<[u8; 32], String> {
            let raw = hex::decode(text).map_err(|_| format!("{field} is not hexadecimal"))?;
            raw.try_into()
                .map_err(|_| format!("{field} is not 32 bytes"))
        };
        Ok(EventRef {
            token,
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            occurred_at_micros: self.occurred_at,
            recorded_at_micros: self.recorded_at,
            metadata: &self.metadata,
            payload: &self.payload,
            prev_hash: hash32("prev_hash", &self.prev_hash)?,
            hash: hash32("hash", &self.hash)?,
        })
    }
}

fn create(path: &Path) -> Result<BufWriter<File>, AuditError> {
    File::create_new(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| AuditError::io(path, e))
}

fn line_out(w: &mut impl Write, path: &Path, value: &impl Serialize) -> Result<(), AuditError> {
    serde_json::to_writer(&mut *w, value)
        .map_err(|e| AuditError::io(path, std::io::Error::other(e)))?;
    w.write_all(b"\n").map_err(|e| AuditError::io(path, e))
}

fn finish_file(mut w: BufWriter<File>, path: &Path) -> Result<(), AuditError> {
    w.flush().map_err(|e| AuditError::io(path, e))?;
    w.get_ref().sync_all().map_err(|e| AuditError::io(path, e))
}

/// Export the events after checkpoint `from` (0: the start of the log) up to checkpoint `to` (`None`:
/// the newest) into `dir` (created if missing; it must be empty), with the checkpoints and the notary's
/// public keys `keys` (oldest first; the key that signed `to` among them), written into the bundle in
/// that order. One read-only snapshot.
pub async fn export(
    pool: &sqlx::PgPool,
    from: u64,
    to: Option<u64>,
    keys: &Keyring,
    dir: &Path,
) -> Result<Manifest, AuditError> {
    let pem = keys.to_pem()?;
    std::fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, e))?;
    let mut entries = std::fs::read_dir(dir).map_err(|e| AuditError::io(dir, e))?;
    if entries.next().is_some() {
        return Err(AuditError::Invalid(format!(
            "{} is not empty; a bundle needs a directory of its own",
            dir.display()
        )));
    }

    let mut tx = snapshot(pool).await?;
    let last = match to {
        Some(n) => notary::store::by_sequence(&mut *tx, n).await?,
        None => notary::store::latest(&mut *tx).await?,
    }
    .ok_or_else(|| {
        AuditError::Invalid(match to {
            Some(n) => format!("there is no checkpoint {n}"),
            None => "there is no checkpoint yet: nothing to export".to_owned(),
        })
    })?;
    if from >= last.sequence {
        return Err(AuditError::Invalid(format!(
            "--from {from} is not before --to {}: a bundle covers at least one checkpoint's events",
            last.sequence
        )));
    }
    if keys.rank(&last.key_id).is_none() {
        return Err(AuditError::Invalid(format!(
            "checkpoint {} was signed by key {}, which is not among the public keys given ({})",
            last.sequence,
            last.key_id,
            keys.key_ids()
        )));
    }
    let limit = i64::try_from(last.sequence - from.saturating_sub(1))
        .map_err(|_| AuditError::Invalid("too many checkpoints".to_owned()))?;
    let checkpoints = notary::store::list(&mut *tx, from.saturating_sub(1), limit).await?;
    let start = if from > 0 {
        let first = checkpoints
            .first()
            .filter(|c| c.sequence == from)
            .ok_or_else(|| AuditError::Invalid(format!("there is no checkpoint {from}")))?;
        Some(first.clone())
    } else {
        None
    };

    let cp_path = dir.join(CHECKPOINTS);
    let mut cp_out = create(&cp_path)?;
    for cp in &checkpoints {
        line_out(&mut cp_out, &cp_path, &cp.export())?;
    }
    finish_file(cp_out, &cp_path)?;

    let ev_path = dir.join(EVENTS);
    let mut ev_out = create(&ev_path)?;
    let after = start.as_ref().map_or(Token::START, |c| c.token);
    let mut count = 0u64;
    {
        let mut rows = sqlx::query(sql::EVENTS_BETWEEN)
            .bind(after.tx_id.to_string())
            .bind(after.position)
            .bind(last.token.tx_id.to_string())
            .bind(last.token.position)
            .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let event = event_ref(&row)?;
            line_out(&mut ev_out, &ev_path, &Line::of(&event))?;
            count += 1;
        }
    }
    tx.rollback().await?;
    finish_file(ev_out, &ev_path)?;

    let key_path = dir.join(PUBLIC_KEY);
    std::fs::write(&key_path, pem.as_bytes()).map_err(|e| AuditError::io(&key_path, e))?;

    let manifest = Manifest {
        format: FORMAT.to_owned(),
        from_sequence: from,
        from_token: start.as_ref().map(|c| c.token.to_string()),
        from_event_count: start.as_ref().map_or(0, |c| c.event_count),
        to_sequence: last.sequence,
        to_token: last.token.to_string(),
        to_event_count: last.event_count,
        event_count: count,
        key_id: last.key_id.clone(),
    };
    let manifest_path = dir.join(MANIFEST);
    let mut m_out = create(&manifest_path)?;
    serde_json::to_writer_pretty(&mut m_out, &manifest)
        .map_err(|e| AuditError::io(&manifest_path, std::io::Error::other(e)))?;
    m_out
        .write_all(b"\n")
        .map_err(|e| AuditError::io(&manifest_path, e))?;
    finish_file(m_out, &manifest_path)?;
    Ok(manifest)
}

/// The public keys shipped in the bundle, oldest first (an auditor should prefer their own copies).
pub fn bundled_keys(dir: &Path) -> Result<Keyring, AuditError> {
    let path = dir.join(PUBLIC_KEY);
    Ok(Keyring::from_file(&path)?)
}

fn malformed(file: &str, line: Option<u64>, reason: impl Into<String>) -> Failure {
    Failure::BundleMalformed {
        file: file.to_owned(),
        line,
        reason: reason.into(),
    }
}

fn open(path: &Path) -> Result<BufReader<File>, AuditError> {
    File::open(path)
        .map(|f| BufReader::with_capacity(1 << 20, f))
        .map_err(|e| AuditError::io(path, e))
}

/// Read the manifest and the checkpoints; a part that does not parse is a failure.
fn read_parts(dir: &Path) -> Result<Result<(Manifest, Vec<Checkpoint>), Failure>, AuditError> {
    let manifest_path = dir.join(MANIFEST);
    let text =
        std::fs::read_to_string(&manifest_path).map_err(|e| AuditError::io(&manifest_path, e))?;
    let manifest: Manifest = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => return Ok(Err(malformed(MANIFEST, None, e.to_string()))),
    };
    if manifest.format != FORMAT {
        return Ok(Err(malformed(
            MANIFEST,
            None,
            format!("format is {:?}, expected {FORMAT:?}", manifest.format),
        )));
    }
    let cp_path = dir.join(CHECKPOINTS);
    let mut checkpoints = Vec::new();
    for (i, line) in open(&cp_path)?.lines().enumerate() {
        let line = line.map_err(|e| AuditError::io(&cp_path, e))?;
        let n = Some(i as u64 + 1);
        let exported: ExportedCheckpoint = match serde_json::from_str(&line) {
            Ok(e) => e,
            Err(e) => return Ok(Err(malformed(CHECKPOINTS, n, e.to_string()))),
        };
        match Checkpoint::try_from(&exported) {
            Ok(cp) => checkpoints.push(cp),
            Err(e) => return Ok(Err(malformed(CHECKPOINTS, n, e.to_string()))),
        }
    }
    Ok(Ok((manifest, checkpoints)))
}

/// The checkpoints agree with the manifest: `from` first (unless 0), `to` last.
fn check_manifest(manifest: &Manifest, checkpoints: &[Checkpoint]) -> Result<(), Failure> {
    let to = checkpoints
        .last()
        .ok_or_else(|| malformed(CHECKPOINTS, None, "no checkpoint"))?;
    if to.sequence != manifest.to_sequence
        || to.token.to_string() != manifest.to_token
        || to.event_count != manifest.to_event_count
    {
        return Err(malformed(
            MANIFEST,
            None,
            format!(
                "the last checkpoint is {} at token {}, the manifest names {} at token {}",
                to.sequence, to.token, manifest.to_sequence, manifest.to_token
            ),
        ));
    }
    if manifest.from_sequence > 0 {
        let from = checkpoints.first().filter(|c| {
            c.sequence == manifest.from_sequence
                && Some(c.token.to_string()) == manifest.from_token
                && c.event_count == manifest.from_event_count
        });
        if from.is_none() {
            return Err(malformed(
                CHECKPOINTS,
                Some(1),
                format!(
                    "the first checkpoint is not checkpoint {} named by the manifest",
                    manifest.from_sequence
                ),
            ));
        }
    }
    Ok(())
}

/// Verify a bundle offline: the checkpoints (signatures, chain), every event's chain within the bundle,
/// the global digest at every checkpoint from `from`'s, the anchor if given, and the manifest's counts.
/// `Ok` carries the report whether or not something failed; `Err` means a file could not be read.
pub fn verify(dir: &Path, options: &VerifyOptions<'_>) -> Result<Report, AuditError> {
    let mut report = Report::default();
    let (manifest, mut checkpoints) = match read_parts(dir)? {
        Ok(parts) => parts,
        Err(failure) => {
            report.failure = Some(failure);
            return Ok(report);
        }
    };
    report.checkpoints_present = checkpoints.len() as u64;
    report.newest_checkpoint = checkpoints.last().map(check::summary);
    let keys = options.keys;
    let checked = check_manifest(&manifest, &checkpoints)
        .and_then(|()| {
            let start = if manifest.from_sequence > 0 {
                // Its signature is checked with the others, by `check_checkpoints`.
                Some(checkpoints.remove(0))
            } else {
                None
            };
            check::check_checkpoints(&checkpoints, keys, start.as_ref())?;
            Ok(start)
        })
        .and_then(|start| {
            let anchor = match options.anchor {
                Some(a) => {
                    let all: Vec<Checkpoint> =
                        start.iter().chain(checkpoints.iter()).cloned().collect();
                    Some(check::check_anchor(a, keys, &all)?)
                }
                None => None,
            };
            Ok((start, anchor))
        });
    let (start, anchor) = match checked {
        Ok(v) => v,
        Err(failure) => {
            report.failure = Some(failure);
            return Ok(report);
        }
    };
    report.anchor_matched = anchor;
    if start.is_some() {
        // Its signature held; its digest is where the fold starts.
        report.checkpoints_verified = 1;
    }
    let mut verifier = Verifier::new(
        start.as_ref().map_or(Start::GENESIS, Start::at),
        checkpoints,
    );

    let ev_path = dir.join(EVENTS);
    let mut reader = open(&ev_path)?;
    let mut buf = String::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_line(&mut buf)
            .map_err(|e| AuditError::io(&ev_path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let text = buf.strip_suffix('\n').unwrap_or(&buf);
        let parsed = serde_json::from_str::<Line<'_>>(text)
            .map_err(|e| e.to_string())
            .and_then(|line| {
                let flow = line.event().map(|e| verifier.push(&e))?;
                Ok(flow)
            });
        let flow = match parsed {
            Ok(flow) => flow,
            Err(reason) => {
                verifier.finish(&mut report);
                report.failure = Some(malformed(EVENTS, Some(line_no), reason));
                return Ok(report);
            }
        };
        if let Some(progress) = options.progress
            && line_no.is_multiple_of(PROGRESS_EVERY)
        {
            progress(Progress {
                events: line_no,
                estimated_total: manifest.event_count,
            });
        }
        if flow == Flow::Stop {
            break;
        }
    }
    verifier.finish(&mut report);
    // A bundle is closed: everything in it must be covered by its own checkpoints. Events after the
    // last one would verify only against themselves (their chain is whatever the file says).
    if report.failure.is_none()
        && let Some(u) = &report.uncovered
    {
        report.failure = Some(malformed(
            EVENTS,
            None,
            format!(
                "{} events after the bundle's last checkpoint (tokens {} to {}): a bundle holds only \
                 events its checkpoints cover",
                u.events, u.first, u.last
            ),
        ));
    }
    if report.failure.is_none() && line_no != manifest.event_count {
        report.failure = Some(malformed(
            MANIFEST,
            None,
            format!(
                "the manifest counts {} events, {EVENTS} has {line_no}",
                manifest.event_count
            ),
        ));
    }
    Ok(report)
}
