//! The auditor's verification (#6): every tamper scenario the owner can make behind the trigger is
//! detected and named by `audit::verify` (and by `ledger-audit verify`, exit 1); an untampered log
//! passes and reports what no checkpoint covers yet; bundles verify offline and an edited line fails.
//!
//! The log of every test: streams team-a, team-b, team-c with versions 1–5 appended round robin, one
//! append per event, so the global order is a1 b1 c1 a2 b2 c2 a3 b3 c3 a4 b4 c4 a5 b5 c5. The notary
//! (every 4 events, and one at the end) signs checkpoint 1 at a2 (4 events), 2 at b3 (8), 3 at c4 (12)
//! and 4 at c5 (15).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use audit::{Failure, Report, VerifyOptions};
use clap::Parser;
use eventstore::hash::{GENESIS, chain};
use eventstore::{EventStore, ExpectedVersion, Token};
use notary::{Checkpoint, Keyring, Notary, NotaryConfig, NotaryKey, PublicKey};
use pg_harness::TestDb;
use sqlx::{Executor, PgPool};

use crate::support::{event, request, within};

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

const STREAMS: [&str; 3] = ["team-a", "team-b", "team-c"];
const VERSIONS: u64 = 5;

struct Fixture {
    store: EventStore,
    db: TestDb,
    key: Arc<NotaryKey>,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    /// The log described in the module docs, notarised.
    async fn new() -> Self {
        let (store, db) = crate::support::store().await;
        for v in 1..=VERSIONS {
            for s in STREAMS {
                append(&store, s, v).await;
            }
        }
        let dir = std::env::temp_dir().join(format!("vl-audit-verify-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = Arc::new(NotaryKey::generate().unwrap());
        std::fs::write(dir.join("notary.pub"), key.public().to_pem().unwrap()).unwrap();
        let f = Fixture {
            store,
            db,
            key,
            dir,
        };
        let newest = f.notarize().await.unwrap();
        assert_eq!((newest.sequence, newest.event_count), (4, 15));
        f
    }

    async fn notarize(&self) -> Option<Checkpoint> {
        let config = NotaryConfig {
            every_events: 4,
            ..NotaryConfig::default()
        };
        Notary::new(self.store.clone(), self.key.clone(), config)
            .run_once()
            .await
            .unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn public_key_path(&self) -> String {
        self.path("notary.pub").to_str().unwrap().to_owned()
    }

    async fn verify(&self) -> Report {
        self.verify_with(None).await
    }

    async fn verify_with(&self, anchor: Option<&notary::ExportedCheckpoint>) -> Report {
        let keys = Keyring::single(self.key.public());
        audit::verify(
            self.store.pool(),
            &VerifyOptions {
                keys: &keys,
                anchor,
                progress: None,
            },
        )
        .await
        .unwrap()
    }

    /// `ledger-audit verify` on the database, as the service role.
    async fn cli_verify(&self, extra: &[&str]) -> (ExitCode, String) {
        let url = self.db.app_url();
        let key = self.public_key_path();
        let mut args = vec![
            "verify",
            "--database-url",
            url.as_str(),
            "--public-key",
            key.as_str(),
        ];
        args.extend_from_slice(extra);
        cli(&args).await
    }

    async fn owner(&self) -> PgPool {
        self.db.owner_pool().await.unwrap()
    }

    /// Run `sql` as the owner with the append-only triggers of the log and the checkpoints disabled.
    async fn tamper(&self, sql: &'static str) {
        let owner = self.owner().await;
        owner.execute(DISABLE_TRIGGERS).await.unwrap();
        owner
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("tamper: {e}"));
        owner.execute(ENABLE_TRIGGERS).await.unwrap();
    }

    async fn token_of(&self, stream: &str, version: u64) -> Token {
        token_of(&self.store, stream, version).await
    }
}

const DISABLE_TRIGGERS: &str = "ALTER TABLE events DISABLE TRIGGER USER; \
ALTER TABLE notary_checkpoints DISABLE TRIGGER USER";
const ENABLE_TRIGGERS: &str = "ALTER TABLE events ENABLE TRIGGER USER; \
ALTER TABLE notary_checkpoints ENABLE TRIGGER USER";

async fn append(store: &EventStore, stream: &str, version: u64) {
    let expected = match version {
        1 => ExpectedVersion::NoStream,
        v => ExpectedVersion::Exact(v - 1),
    };
    store
        .append(&request(
            stream,
            expected,
            vec![event("TeamAmended", &format!(r#"{{"n":{version}}}"#))],
            &format!("{stream}-{version}"),
        ))
        .await
        .unwrap();
}

async fn cli(args: &[&str]) -> (ExitCode, String) {
    let mut out = Vec::new();
    let argv = std::iter::once("ledger-audit").chain(args.iter().copied());
    let code = ledger_audit::run(ledger_audit::Cli::parse_from(argv), &mut out)
        .await
        .unwrap();
    (code, String::from_utf8(out).unwrap())
}

fn failure(report: &Report) -> &Failure {
    report
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("the tampering went unnoticed:\n{report}"))
}

#[tokio::test]
async fn an_untampered_log_verifies_and_reports_the_events_no_checkpoint_covers_yet() {
    let f = Fixture::new().await;
    append(&f.store, "team-d", 1).await;
    append(&f.store, "team-a", 6).await;
    let report = f.verify().await;
    assert_eq!(report.failure, None, "{report}");
    assert_eq!((report.events, report.streams), (17, 4));
    assert_eq!(
        (report.checkpoints_verified, report.checkpoints_present),
        (4, 4)
    );
    assert_eq!(report.newest_checkpoint.as_ref().unwrap().sequence, 4);
    let uncovered = report.uncovered.unwrap();
    assert_eq!(uncovered.events, 2);
    assert_eq!(uncovered.first, f.token_of("team-d", 1).await);
    assert_eq!(uncovered.last, f.token_of("team-a", 6).await);

    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(
        text.contains("events verified:      17 in 4 streams"),
        "{text}"
    );
    assert!(text.contains("checkpoints verified: 4 of 4"), "{text}");
    assert!(
        text.contains("not yet covered by a checkpoint: 2 events"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("OK"), "{text}");
}

#[tokio::test]
async fn an_edited_payload_is_named_as_altered_content() {
    let f = Fixture::new().await;
    f.tamper(
        r#"UPDATE events SET payload = '{"n":33}' WHERE stream_id = 'team-b' AND stream_version = 3"#,
    )
    .await;
    let report = f.verify().await;
    assert_eq!(
        failure(&report),
        &Failure::ContentAltered {
            stream_id: "team-b".to_owned(),
            version: 3,
            token: f.token_of("team-b", 3).await,
        }
    );
    assert_eq!(report.events, 7, "the events before it were checked");

    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains("FAILED: stream team-b version 3 (token ")
            && text.contains("the stored hash does not match the row's content"),
        "{text}"
    );
    assert!(
        !text.contains("\"n\""),
        "no event content in the output: {text}"
    );
}

#[tokio::test]
async fn a_deleted_middle_event_is_named_as_a_version_gap() {
    let f = Fixture::new().await;
    let b3 = f.token_of("team-b", 3).await;
    f.tamper("DELETE FROM events WHERE stream_id = 'team-b' AND stream_version = 2")
        .await;
    let report = f.verify().await;
    assert_eq!(
        failure(&report),
        &Failure::VersionGap {
            stream_id: "team-b".to_owned(),
            expected: 2,
            found: 3,
            token: b3,
        }
    );
    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains(
            "FAILED: stream team-b version 3 (token {b3}): version 2 is missing (an event was removed)"
                .replace("{b3}", &b3.to_string())
                .as_str()
        ),
        "{text}"
    );
}

#[tokio::test]
async fn two_swapped_events_are_named_as_reordered() {
    let f = Fixture::new().await;
    let row_of_c3 = f.token_of("team-c", 3).await;
    // Swap the versions of team-c 2 and 3: each row keeps its place in the log, so version 2 now comes
    // after version 3.
    f.tamper(
        "UPDATE events SET stream_version = stream_version + 1000 \
         WHERE stream_id = 'team-c' AND stream_version IN (2, 3); \
         UPDATE events SET stream_version = CASE stream_version WHEN 1002 THEN 3 ELSE 2 END \
         WHERE stream_id = 'team-c' AND stream_version > 1000",
    )
    .await;
    let report = f.verify().await;
    assert_eq!(
        failure(&report),
        &Failure::Reordered {
            stream_id: "team-c".to_owned(),
            version: 2,
            after_version: 3,
            token: row_of_c3,
        }
    );
    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains("FAILED: stream team-c version 2")
            && text.contains("comes after version 3 in the log order"),
        "{text}"
    );
}

#[tokio::test]
async fn a_truncated_stream_tail_is_caught_by_the_checkpoint_that_covered_it() {
    let f = Fixture::new().await;
    // team-a loses versions 4 and 5; its chain alone still looks whole (a1..a3).
    f.tamper("DELETE FROM events WHERE stream_id = 'team-a' AND stream_version >= 4")
        .await;
    assert_eq!(
        f.store
            .verify_stream("team-a")
            .await
            .unwrap()
            .first_mismatch,
        None,
        "the per-stream chain cannot see a cut tail"
    );
    let report = f.verify().await;
    assert_eq!(
        failure(&report),
        &Failure::CheckpointMismatch {
            sequence: 3,
            after: Some(f.token_of("team-b", 3).await),
            token: f.token_of("team-c", 4).await,
            signed_events: 4,
            found_events: 3,
            digest_differs: true,
        }
    );
    assert_eq!(report.checkpoints_verified, 2);
    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains("FAILED: checkpoint 3: the log after token ")
            && text.contains("3 events where 4 were signed"),
        "{text}"
    );
}

#[tokio::test]
async fn a_truncated_tail_holding_a_checkpoints_last_event_is_named_as_not_reached() {
    let f = Fixture::new().await;
    let c5 = f.token_of("team-c", 5).await;
    f.tamper("DELETE FROM events WHERE stream_id = 'team-c' AND stream_version = 5")
        .await;
    let report = f.verify().await;
    assert_eq!(
        failure(&report),
        &Failure::CheckpointNotReached {
            sequence: 4,
            after: Some(f.token_of("team-c", 4).await),
            token: c5,
            signed_events: 3,
            found_events: 2,
            next: None,
        }
    );
    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains(&format!(
            "FAILED: checkpoint 4: its last covered event (token {c5}) is not in the log"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_forged_checkpoint_field_is_named_as_edited() {
    let f = Fixture::new().await;
    f.tamper("UPDATE notary_checkpoints SET event_count = event_count - 1 WHERE sequence = 2")
        .await;
    let report = f.verify().await;
    assert_eq!(failure(&report), &Failure::CheckpointEdited { sequence: 2 });
    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains("FAILED: checkpoint 2: its hash does not match its fields"),
        "{text}"
    );
}

#[tokio::test]
async fn a_forged_checkpoint_with_its_hash_recomputed_fails_its_signature() {
    let f = Fixture::new().await;
    // The forger edits the digest and recomputes the hash, but cannot sign.
    let mut cp = notary::store::by_sequence(f.store.pool(), 3)
        .await
        .unwrap()
        .unwrap();
    cp.digest[0] ^= 1;
    cp.hash = cp.unsigned().hash();
    let owner = f.owner().await;
    owner.execute(DISABLE_TRIGGERS).await.unwrap();
    sqlx::query("UPDATE notary_checkpoints SET digest = $1, hash = $2 WHERE sequence = 3")
        .bind(cp.digest.as_slice())
        .bind(cp.hash.as_slice())
        .execute(&owner)
        .await
        .unwrap();
    owner.execute(ENABLE_TRIGGERS).await.unwrap();
    let report = f.verify().await;
    assert_eq!(failure(&report), &Failure::BadSignature { sequence: 3 });
}

#[tokio::test]
async fn an_altered_signature_is_named() {
    let f = Fixture::new().await;
    f.tamper(
        "UPDATE notary_checkpoints SET signature = set_byte(signature, 10, get_byte(signature, 10) # 1) \
         WHERE sequence = 1",
    )
    .await;
    let report = f.verify().await;
    assert_eq!(failure(&report), &Failure::BadSignature { sequence: 1 });
    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains("FAILED: checkpoint 1: the signature does not verify"),
        "{text}"
    );
}

#[tokio::test]
async fn checkpoints_signed_by_another_key_are_named_as_unknown_key() {
    let f = Fixture::new().await;
    let stranger = NotaryKey::generate().unwrap().public();
    let report = audit::verify(
        f.store.pool(),
        &VerifyOptions {
            keys: &Keyring::single(stranger.clone()),
            anchor: None,
            progress: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        failure(&report),
        &Failure::UnknownKey {
            sequence: 1,
            key_id: f.key.key_id().to_owned(),
            known_key_ids: stranger.key_id().to_owned(),
        }
    );
}

#[tokio::test]
async fn deleted_newest_checkpoints_are_caught_against_an_anchor_exported_before() {
    let f = Fixture::new().await;
    let anchor_path = f.path("anchor.json");
    let anchor_arg = anchor_path.to_str().unwrap().to_owned();
    let url = f.db.app_url();
    let (code, text) = cli(&["anchor", "--database-url", &url, "--out", &anchor_arg]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(text.contains("checkpoint 4 "), "{text}");
    let anchor: notary::ExportedCheckpoint =
        serde_json::from_str(&std::fs::read_to_string(&anchor_path).unwrap()).unwrap();
    assert_eq!(f.verify_with(Some(&anchor)).await.anchor_matched, Some(4));

    f.tamper("DELETE FROM notary_checkpoints WHERE sequence >= 3")
        .await;
    let without = f.verify().await;
    assert!(
        without.ok() && without.uncovered.unwrap().events == 7,
        "without an anchor the log merely looks less covered: {without}"
    );
    let report = f.verify_with(Some(&anchor)).await;
    assert_eq!(
        failure(&report),
        &Failure::AnchorMissing {
            sequence: 4,
            newest: Some(2),
        }
    );
    let (code, text) = f.cli_verify(&["--anchor", &anchor_arg]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains(
            "FAILED: checkpoint 4 of the anchor is missing: the newest checkpoints were deleted"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn an_event_appended_by_raw_sql_without_the_chain_is_named_as_a_broken_link() {
    let f = Fixture::new().await;
    f.tamper(
        r#"INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, metadata,
                               occurred_at, recorded_at, prev_hash, hash)
           VALUES ('team-a', 6, 'TeamAmended', 1, '{"n":6}', '{"actor":"test"}', now(), now(),
                   sha256('forged'::bytea), sha256('forged too'::bytea))"#,
    )
    .await;
    let report = f.verify().await;
    assert_eq!(
        failure(&report),
        &Failure::BrokenLink {
            stream_id: "team-a".to_owned(),
            version: 6,
            token: f.token_of("team-a", 6).await,
        }
    );
    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains("FAILED: stream team-a version 6")
            && text.contains("prev_hash is not the hash of version 5"),
        "{text}"
    );
}

#[tokio::test]
async fn a_stream_rechained_without_the_signing_key_fails_the_checkpoint_digest() {
    let f = Fixture::new().await;
    // The attacker edits team-b version 2 and recomputes every hash of the stream from there on.
    let mut events = f.store.read_stream("team-b").await.unwrap();
    let mut prev = GENESIS;
    let owner = f.owner().await;
    owner.execute(DISABLE_TRIGGERS).await.unwrap();
    for e in &mut events {
        if e.stream_version == 2 {
            e.payload = r#"{"n":200}"#.to_owned();
        }
        e.prev_hash = prev;
        let digest = e.canonical().digest();
        e.hash = chain(&prev, &digest);
        prev = e.hash;
        sqlx::query(
            "UPDATE events SET payload = $1::json, prev_hash = $2, hash = $3 \
             WHERE stream_id = $4 AND stream_version = $5",
        )
        .bind(&e.payload)
        .bind(e.prev_hash.as_slice())
        .bind(e.hash.as_slice())
        .bind(&e.stream_id)
        .bind(i64::try_from(e.stream_version).unwrap())
        .execute(&owner)
        .await
        .unwrap();
    }
    owner.execute(ENABLE_TRIGGERS).await.unwrap();
    assert_eq!(
        f.store
            .verify_stream("team-b")
            .await
            .unwrap()
            .first_mismatch,
        None,
        "the re-chained stream passes every per-event check"
    );
    let report = f.verify().await;
    assert_eq!(
        failure(&report),
        &Failure::CheckpointMismatch {
            sequence: 2,
            after: Some(f.token_of("team-a", 2).await),
            token: f.token_of("team-b", 3).await,
            signed_events: 4,
            found_events: 4,
            digest_differs: true,
        }
    );
    let (code, text) = f.cli_verify(&[]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(
        text.contains("FAILED: checkpoint 2: the log after token ")
            && text.contains("the global digest differs"),
        "{text}"
    );
}

async fn export(f: &Fixture, name: &str, range: &[&str]) -> PathBuf {
    export_with_keys(f, name, &[&f.public_key_path()], range).await
}

/// `ledger-audit export` into `name` with `--public-key` for each of `keys`, in order.
async fn export_with_keys(f: &Fixture, name: &str, keys: &[&str], range: &[&str]) -> PathBuf {
    let dir = f.path(name);
    let url = f.db.app_url();
    let out = dir.to_str().unwrap().to_owned();
    let mut args = vec![
        "export",
        "--database-url",
        url.as_str(),
        "--out",
        out.as_str(),
    ];
    for key in keys {
        args.extend_from_slice(&["--public-key", key]);
    }
    args.extend_from_slice(range);
    let (code, text) = cli(&args).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    dir
}

fn verify_bundle(f: &Fixture, dir: &Path) -> Report {
    let keys = Keyring::single(f.key.public());
    audit::bundle::verify(
        dir,
        &VerifyOptions {
            keys: &keys,
            anchor: None,
            progress: None,
        },
    )
    .unwrap()
}

#[tokio::test]
async fn a_bundle_exported_and_verified_offline_holds() {
    let f = Fixture::new().await;
    append(&f.store, "team-d", 1).await; // after the newest checkpoint: not in a bundle

    let whole = export(&f, "whole", &[]).await;
    let report = verify_bundle(&f, &whole);
    assert_eq!(report.failure, None, "{report}");
    assert_eq!((report.events, report.streams_begun_before), (15, 0));
    assert_eq!(report.checkpoints_verified, 4);
    assert_eq!(report.uncovered, None);

    // Events after checkpoint 1 up to checkpoint 3: b2 … c4, every stream begun before.
    let middle = export(&f, "middle", &["--from", "1", "--to", "3"]).await;
    let manifest: audit::bundle::Manifest =
        serde_json::from_str(&std::fs::read_to_string(middle.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        (
            manifest.from_sequence,
            manifest.to_sequence,
            manifest.event_count
        ),
        (1, 3, 8)
    );
    let report = verify_bundle(&f, &middle);
    assert_eq!(report.failure, None, "{report}");
    assert_eq!(
        (
            report.events,
            report.streams,
            report.streams_begun_before,
            report.checkpoints_verified
        ),
        (8, 3, 3, 3)
    );

    let middle_arg = middle.to_str().unwrap().to_owned();
    let key = f.public_key_path();
    let (code, text) = cli(&["verify", "--bundle", &middle_arg, "--public-key", &key]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(
        text.contains("events verified:      8 in 3 streams") && text.trim_end().ends_with("OK"),
        "{text}"
    );
    // Without --public-key the bundle's own copy is used (with a warning on stderr).
    let (code, text) = cli(&["verify", "--bundle", &middle_arg]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
}

#[tokio::test]
async fn a_bundle_with_an_edited_line_fails_and_names_the_event() {
    let f = Fixture::new().await;
    let dir = export(&f, "bundle", &[]).await;
    let path = dir.join("events.ndjson");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut edited = Vec::new();
    let mut target = None;
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["stream_id"] == "team-c" && v["stream_version"] == 4 {
            v["payload"] = serde_json::Value::String(r#"{"n":44}"#.to_owned());
            target = Some(v["token"].as_str().unwrap().parse::<Token>().unwrap());
        }
        edited.push(serde_json::to_string(&v).unwrap());
    }
    std::fs::write(&path, edited.join("\n") + "\n").unwrap();
    let report = verify_bundle(&f, &dir);
    assert_eq!(
        failure(&report),
        &Failure::ContentAltered {
            stream_id: "team-c".to_owned(),
            version: 4,
            token: target.unwrap(),
        }
    );
    let dir_arg = dir.to_str().unwrap().to_owned();
    let key = f.public_key_path();
    let (code, text) = cli(&["verify", "--bundle", &dir_arg, "--public-key", &key]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(text.contains("FAILED: stream team-c version 4"), "{text}");
}

#[tokio::test]
async fn a_bundle_with_events_added_after_its_last_checkpoint_fails() {
    // Lines appended after checkpoint 3 chain correctly among themselves (they are the log's real
    // events c5…), but no checkpoint of the bundle covers them: a bundle must not pass with them.
    let f = Fixture::new().await;
    let middle = export(&f, "middle", &["--from", "1", "--to", "3"]).await;
    let whole = export(&f, "whole", &[]).await;
    let last = |dir: &Path| {
        let m: audit::bundle::Manifest =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        m
    };
    let to: Token = last(&middle).to_token.parse().unwrap();
    let extra: Vec<String> = std::fs::read_to_string(whole.join("events.ndjson"))
        .unwrap()
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["token"].as_str().unwrap().parse::<Token>().unwrap() > to
        })
        .map(str::to_owned)
        .collect();
    assert!(!extra.is_empty(), "the log has events after checkpoint 3");
    let events = middle.join("events.ndjson");
    let mut text = std::fs::read_to_string(&events).unwrap();
    for l in &extra {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(&events, text).unwrap();
    let mut manifest = last(&middle);
    manifest.event_count += extra.len() as u64;
    std::fs::write(
        middle.join("manifest.json"),
        serde_json::to_string(&manifest).unwrap(),
    )
    .unwrap();

    let report = verify_bundle(&f, &middle);
    let Some(Failure::BundleMalformed { file, reason, .. }) = &report.failure else {
        panic!("expected a malformed bundle: {report}");
    };
    assert_eq!(file, "events.ndjson");
    assert!(
        reason.contains("after the bundle's last checkpoint"),
        "{reason}"
    );
    // And an export cannot make such a bundle: --from must be before --to.
    let dir = f.path("empty").to_str().unwrap().to_owned();
    let url = f.db.app_url();
    let key = f.public_key_path();
    let argv = [
        "ledger-audit",
        "export",
        "--database-url",
        &url,
        "--public-key",
        &key,
        "--out",
        &dir,
        "--from",
        "3",
        "--to",
        "3",
    ];
    let refused = ledger_audit::run(ledger_audit::Cli::parse_from(argv), &mut Vec::new()).await;
    let message = format!("{:#}", refused.unwrap_err());
    assert!(message.contains("is not before --to"), "{message}");
}

#[tokio::test]
async fn verify_checks_rows_a_long_transaction_elsewhere_hides_from_readers() {
    // Holds a transaction open: a private cluster, since the readers' fence is cluster-wide.
    let cluster = pg_harness::Cluster::private().unwrap();
    let (store, db) = crate::support::store_on(&cluster, 4).await;
    for v in 1..=3 {
        append(&store, "team-h", v).await;
    }
    let owner = db.owner_pool().await.unwrap();
    let mut holder = owner.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *holder)
        .await
        .unwrap();
    append(&store, "team-h", 4).await;
    assert!(
        store
            .read_all_after(token_of(&store, "team-h", 3).await, 10)
            .await
            .unwrap()
            .is_empty(),
        "readers wait behind the older open transaction"
    );
    owner.execute(DISABLE_TRIGGERS).await.unwrap();
    owner
        .execute(
            r#"UPDATE events SET metadata = '{"actor":"mallory"}' WHERE stream_id = 'team-h' AND stream_version = 4"#,
        )
        .await
        .unwrap();
    owner.execute(ENABLE_TRIGGERS).await.unwrap();
    let key = Keyring::single(NotaryKey::generate().unwrap().public());
    let report = audit::verify(
        store.pool(),
        &VerifyOptions {
            keys: &key,
            anchor: None,
            progress: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        failure(&report),
        &Failure::ContentAltered {
            stream_id: "team-h".to_owned(),
            version: 4,
            token: token_of(&store, "team-h", 4).await,
        },
        "verification must not be hidden by the fence"
    );
    holder.rollback().await.unwrap();
}

async fn token_of(store: &EventStore, stream: &str, version: u64) -> Token {
    store
        .read_stream(stream)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.stream_version == version)
        .unwrap()
        .token
}

// Key rotation (ADR 0008): key A signed checkpoints 1–4 (the fixture); key B takes over, given A as
// retired, and continues A's chain. Auditors verify with both keys, oldest first.

impl Fixture {
    /// A notary under `key` given the `retired` public keys (oldest first), every 4 events.
    async fn notarize_as(
        &self,
        key: &Arc<NotaryKey>,
        retired: Vec<PublicKey>,
    ) -> Result<Option<Checkpoint>, notary::NotaryError> {
        let config = NotaryConfig {
            every_events: 4,
            ..NotaryConfig::default()
        };
        Notary::new(self.store.clone(), key.clone(), config)
            .with_retired_keys(retired)
            .run_once()
            .await
    }

    async fn verify_keys(&self, keys: Vec<PublicKey>) -> Report {
        let keys = Keyring::new(keys).unwrap();
        audit::verify(
            self.store.pool(),
            &VerifyOptions {
                keys: &keys,
                anchor: None,
                progress: None,
            },
        )
        .await
        .unwrap()
    }
}

/// The fixture, then team-d 1–3 signed by a new key B (checkpoint 5) whose notary was given A as
/// retired; B's public key is written to `b.pub`.
async fn rotated() -> (Fixture, Arc<NotaryKey>) {
    let f = Fixture::new().await;
    for v in 1..=3 {
        append(&f.store, "team-d", v).await;
    }
    let b = Arc::new(NotaryKey::generate().unwrap());
    let newest = f
        .notarize_as(&b, vec![f.key.public()])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (newest.sequence, newest.event_count, newest.key_id.as_str()),
        (5, 18, b.key_id())
    );
    std::fs::write(f.path("b.pub"), b.public().to_pem().unwrap()).unwrap();
    (f, b)
}

#[tokio::test]
async fn a_rotated_key_continues_the_chain_and_verifies_only_with_every_key_oldest_first() {
    let (f, b) = rotated().await;
    let (a_id, b_id) = (f.key.key_id().to_owned(), b.key_id().to_owned());

    let report = f.verify_keys(vec![f.key.public(), b.public()]).await;
    assert_eq!(report.failure, None, "{report}");
    assert_eq!((report.events, report.checkpoints_verified), (18, 5));

    // Without the retired key, A's checkpoints name a key the auditor was not given.
    assert_eq!(
        failure(&f.verify_keys(vec![b.public()]).await),
        &Failure::UnknownKey {
            sequence: 1,
            key_id: a_id.clone(),
            known_key_ids: b_id.clone(),
        }
    );
    // Given in the wrong order, B's checkpoint reads as a retired key signing after its successor.
    assert_eq!(
        failure(&f.verify_keys(vec![b.public(), f.key.public()]).await),
        &Failure::RetiredKeySigned {
            sequence: 5,
            key_id: b_id.clone(),
            after_key_id: a_id.clone(),
        }
    );

    // The command line: --public-key once per key, oldest first (A's comes from `cli_verify`).
    let b_path = f.path("b.pub").to_str().unwrap().to_owned();
    let (code, text) = f.cli_verify(&["--public-key", &b_path]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(text.contains(&format!("{a_id}, {b_id}")), "{text}");
    let (code, text) = cli(&[
        "verify",
        "--database-url",
        f.db.app_url().as_str(),
        "--public-key",
        &b_path,
    ])
    .await;
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(text.contains(&format!("unknown key {a_id}")), "{text}");
}

#[tokio::test]
async fn a_retired_key_signing_after_its_rotation_is_named_and_no_notary_continues_it() {
    let (f, b) = rotated().await;
    append(&f.store, "team-d", 4).await;

    // The old notary, not told of the rotation, does not sign over B's checkpoint.
    let err = f
        .notarize_as(&f.key, Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("checkpoint 5") && err.contains("not continuing"),
        "{err}"
    );

    // Whoever still holds the retired key A signs checkpoint 6 by hand, over the right digest.
    let cp5 = notary::store::latest(f.store.pool())
        .await
        .unwrap()
        .unwrap();
    // The one event after it, once below the global-order fence (another test's open transaction
    // may hold that back).
    let mut log = f.store.subscribe(cp5.token);
    let after = within(DEADLINE, "the event after checkpoint 5", log.next())
        .await
        .unwrap();
    let digest = notary::fold(&cp5.digest, after.token, &after.hash);
    let cp6 = f
        .key
        .sign(notary::format::Unsigned {
            sequence: 6,
            prev_hash: cp5.hash,
            token: after.token,
            event_count: cp5.event_count + 1,
            digest,
            signed_at_micros: cp5.signed_at.timestamp_micros() + 1,
            key_id: f.key.key_id().to_owned(),
        })
        .unwrap();
    assert!(notary::store::insert(f.store.pool(), &cp6).await.unwrap());

    assert_eq!(
        failure(&f.verify_keys(vec![f.key.public(), b.public()]).await),
        &Failure::RetiredKeySigned {
            sequence: 6,
            key_id: f.key.key_id().to_owned(),
            after_key_id: b.key_id().to_owned(),
        }
    );
    // Neither B (told A is retired) nor A (told, falsely, that B is) signs on top of it.
    append(&f.store, "team-d", 5).await;
    for (key, retired) in [(&b, f.key.public()), (&f.key, b.public())] {
        let err = f
            .notarize_as(key, vec![retired])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("retired key") && err.contains("after its rotation"),
            "{err}"
        );
    }
    assert_eq!(
        notary::store::latest(f.store.pool())
            .await
            .unwrap()
            .map(|cp| cp.sequence),
        Some(6),
        "nothing signed on top"
    );
}

#[tokio::test]
async fn a_bundle_of_a_rotated_chain_carries_every_key_and_verifies_offline() {
    let (f, b) = rotated().await;
    let (a_path, b_path) = (
        f.public_key_path(),
        f.path("b.pub").to_str().unwrap().to_owned(),
    );
    let url = f.db.app_url();

    // Only the retired key: the last checkpoint's key is missing, nothing is written.
    let refused = f.path("refused").to_str().unwrap().to_owned();
    let args = ["export", "--database-url", url.as_str(), "--public-key"];
    let err = ledger_audit::run(
        ledger_audit::Cli::parse_from(std::iter::once("ledger-audit").chain(args).chain([
            a_path.as_str(),
            "--out",
            refused.as_str(),
        ])),
        &mut Vec::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("not among the public keys given"), "{err}");

    let dir = export_with_keys(&f, "rotated", &[&a_path, &b_path], &[]).await;
    let dir = dir.to_str().unwrap().to_owned();
    let bundled = audit::bundle::bundled_keys(Path::new(&dir)).unwrap();
    assert_eq!(
        bundled,
        Keyring::rotated(&[f.key.public()], b.public()).unwrap()
    );
    let report = audit::bundle::verify(
        Path::new(&dir),
        &VerifyOptions {
            keys: &bundled,
            anchor: None,
            progress: None,
        },
    )
    .unwrap();
    assert_eq!(report.failure, None, "{report}");
    assert_eq!(report.checkpoints_verified, 5);
    // Without --public-key the bundle's keys are used, in their order.
    let (code, text) = cli(&["verify", "--bundle", &dir]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");

    // A bundle starting after checkpoint 2 checks that start under A, checkpoint 5 under B.
    let tail = export_with_keys(&f, "tail", &[&a_path, &b_path], &["--from", "2"]).await;
    let tail = tail.to_str().unwrap().to_owned();
    let (code, text) = cli(&[
        "verify",
        "--bundle",
        &tail,
        "--public-key",
        &a_path,
        "--public-key",
        &b_path,
    ])
    .await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(
        text.contains("events verified:      10 in 4 streams"),
        "{text}"
    );
    let (code, text) = cli(&["verify", "--bundle", &tail, "--public-key", &b_path]).await;
    assert_eq!(code, ExitCode::from(1), "{text}");
}
