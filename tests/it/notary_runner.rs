//! The notary (#6): signed checkpoints every N events, covering the whole log in the global order, one
//! active notary at a time, fenced by the checkpoint sequence, resuming from the newest checkpoint, and
//! refusing to sign over a row that does not match its hash.

use std::sync::Arc;
use std::time::Duration;

use eventstore::{EventStore, ExpectedVersion, Token};
use notary::{
    Checkpoint, GENESIS_DIGEST, Notary, NotaryConfig, NotaryKey, fold, store as checkpoints,
};

use crate::support::{event, head, request, store, within};

const DEADLINE: Duration = Duration::from_secs(30);

fn config(every_events: u64) -> NotaryConfig {
    NotaryConfig {
        every_events,
        every: Duration::from_millis(50),
        page_size: 4,
        lease_retry: Duration::from_millis(20),
        error_backoff: Duration::from_millis(20),
        idle_check: Duration::from_millis(200),
    }
}

async fn append_n(store: &EventStore, stream: &str, n: u64) {
    let from = store.current_version(stream).await.unwrap();
    for v in from..from + n {
        let expected = if v == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(v)
        };
        store
            .append(&request(
                stream,
                expected,
                vec![event("TeamAmended", &format!(r#"{{"n":{v}}}"#))],
                &format!("{stream}-{v}"),
            ))
            .await
            .unwrap();
    }
}

/// The global digest recomputed independently of the notary: every event in the global order.
async fn recomputed_digest(store: &EventStore, until: Token) -> ([u8; 32], u64) {
    let mut digest = GENESIS_DIGEST;
    let mut count = 0;
    let mut after = Token::START;
    loop {
        let page = store.read_all_after(after, 100).await.unwrap();
        if page.is_empty() {
            return (digest, count);
        }
        for e in page {
            if e.token > until {
                return (digest, count);
            }
            digest = fold(&digest, e.token, &e.hash);
            count += 1;
            after = e.token;
        }
    }
}

async fn all_checkpoints(store: &EventStore) -> Vec<Checkpoint> {
    checkpoints::list(store.pool(), 0, 1000).await.unwrap()
}

#[tokio::test]
async fn notary_signs_a_checkpoint_every_n_events_and_one_for_the_tail() {
    let (store, _db) = store().await;
    append_n(&store, "team-a", 4).await;
    append_n(&store, "team-b", 3).await;
    let key = Arc::new(NotaryKey::generate().unwrap());
    let notary = Notary::new(store.clone(), key.clone(), config(3));
    let newest = notary.run_once().await.unwrap().unwrap();

    let cps = all_checkpoints(&store).await;
    assert_eq!(
        cps.iter().map(|c| c.event_count).collect::<Vec<_>>(),
        vec![3, 6, 7],
        "every 3 events, then the tail"
    );
    assert_eq!(newest, cps[2]);
    assert_eq!(newest.token, head(&store).await);
    let mut prev = [0u8; 32];
    for (i, cp) in cps.iter().enumerate() {
        assert_eq!(cp.sequence, i as u64 + 1);
        assert_eq!(cp.prev_hash, prev, "checkpoint {} is chained", cp.sequence);
        assert!(
            key.public().verify(cp),
            "checkpoint {} verifies",
            cp.sequence
        );
        let (digest, count) = recomputed_digest(&store, cp.token).await;
        assert_eq!((cp.digest, cp.event_count), (digest, count));
        prev = cp.hash;
    }
    assert_eq!(
        checkpoints::count_after(store.pool(), newest.token)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_restarted_notary_continues_the_chain_from_the_newest_checkpoint() {
    let (store, _db) = store().await;
    let key = Arc::new(NotaryKey::generate().unwrap());
    append_n(&store, "team-r", 5).await;
    let first = Notary::new(store.clone(), key.clone(), config(100))
        .run_once()
        .await
        .unwrap()
        .unwrap();
    append_n(&store, "team-r", 2).await;
    assert_eq!(
        checkpoints::count_after(store.pool(), first.token)
            .await
            .unwrap(),
        2,
        "two events are not covered yet"
    );
    let second = Notary::new(store.clone(), key.clone(), config(100))
        .run_once()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.sequence, 2);
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(second.event_count, 7);
    assert_eq!(
        (second.digest, second.event_count),
        recomputed_digest(&store, second.token).await
    );
    // Nothing new: no new checkpoint.
    let again = Notary::new(store.clone(), key, config(100))
        .run_once()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, second);
}

#[tokio::test]
async fn only_one_notary_leads_and_the_other_takes_over_when_it_stops() {
    let (store, _db) = store().await;
    let key = Arc::new(NotaryKey::generate().unwrap());
    let a = Arc::new(Notary::new(store.clone(), key.clone(), config(2)));
    let b = Arc::new(Notary::new(store.clone(), key.clone(), config(2)));
    let (stop_a, rx_a) = tokio::sync::watch::channel(false);
    let (stop_b, rx_b) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let task_a = tokio::spawn({
        let a = a.clone();
        async move { a.run(stopped(rx_a)).await }
    });
    let mut pa = a.progress();
    within(DEADLINE, "a leads", pa.wait_for(|p| p.leader))
        .await
        .unwrap();
    let task_b = tokio::spawn({
        let b = b.clone();
        async move { b.run(stopped(rx_b)).await }
    });
    append_n(&store, "team-l", 4).await;
    within(
        DEADLINE,
        "a covers 4 events",
        pa.wait_for(|p| p.latest.as_ref().is_some_and(|c| c.event_count == 4)),
    )
    .await
    .unwrap();
    assert!(!b.progress().borrow().leader, "b stands by");
    assert_eq!(b.progress().borrow().written_here, 0);

    stop_a.send(true).unwrap();
    task_a.await.unwrap();
    append_n(&store, "team-l", 2).await;
    let mut pb = b.progress();
    within(
        DEADLINE,
        "b takes over and covers 6 events",
        pb.wait_for(|p| p.leader && p.latest.as_ref().is_some_and(|c| c.event_count == 6)),
    )
    .await
    .unwrap();
    stop_b.send(true).unwrap();
    task_b.await.unwrap();
    let cps = all_checkpoints(&store).await;
    assert_eq!(
        cps.iter().map(|c| c.sequence).collect::<Vec<_>>(),
        (1..=cps.len() as u64).collect::<Vec<_>>(),
        "one chain, no sequence written twice"
    );
    assert_eq!(cps.last().unwrap().event_count, 6);
}

#[tokio::test]
async fn a_stale_notary_cannot_write_a_sequence_that_is_taken() {
    let (store, _db) = store().await;
    let key = NotaryKey::generate().unwrap();
    append_n(&store, "team-f", 2).await;
    let (digest, count) = recomputed_digest(&store, head(&store).await).await;
    let unsigned = |digest| notary::format::Unsigned {
        sequence: 1,
        prev_hash: [0; 32],
        token: Token {
            tx_id: 1,
            position: 1,
        },
        event_count: count,
        digest,
        signed_at_micros: 1_763_942_400_000_000,
        key_id: key.key_id().to_owned(),
    };
    assert!(
        checkpoints::insert(store.pool(), &key.sign(unsigned(digest)).unwrap())
            .await
            .unwrap()
    );
    assert!(
        !checkpoints::insert(store.pool(), &key.sign(unsigned([1; 32])).unwrap())
            .await
            .unwrap(),
        "the second writer of sequence 1 is fenced"
    );
    assert_eq!(all_checkpoints(&store).await.len(), 1);
}

#[tokio::test]
async fn the_notary_refuses_to_sign_over_a_row_that_does_not_match_its_hash() {
    let (store, db) = store().await;
    let key = Arc::new(NotaryKey::generate().unwrap());
    append_n(&store, "team-x", 3).await;
    let owner = db.owner_pool().await.unwrap();
    sqlx::raw_sql(
        "ALTER TABLE events DISABLE TRIGGER USER;
         UPDATE events SET payload = '{\"n\":99}' WHERE stream_id = 'team-x' AND stream_version = 2;
         ALTER TABLE events ENABLE TRIGGER USER;",
    )
    .execute(&owner)
    .await
    .unwrap();
    let err = Notary::new(store.clone(), key, config(100))
        .run_once()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("team-x") && text.contains("version 2"),
        "names the row: {text}"
    );
    assert!(all_checkpoints(&store).await.is_empty(), "nothing signed");
}

#[tokio::test]
async fn the_notary_writes_a_checkpoint_after_the_interval_when_fewer_than_n_events_arrive() {
    let (store, _db) = store().await;
    let key = Arc::new(NotaryKey::generate().unwrap());
    let notary = Arc::new(Notary::new(store.clone(), key, config(1000)));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn({
        let notary = notary.clone();
        let mut rx = rx;
        async move {
            notary
                .run(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
        }
    });
    append_n(&store, "team-t", 3).await;
    let mut p = notary.progress();
    within(
        DEADLINE,
        "a time-based checkpoint covers the 3 events",
        p.wait_for(|p| p.latest.as_ref().is_some_and(|c| c.event_count == 3)),
    )
    .await
    .unwrap();
    stop.send(true).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn the_notary_does_not_extend_a_chain_whose_newest_checkpoint_it_cannot_verify() {
    let (store, _db) = store().await;
    let key = Arc::new(NotaryKey::generate().unwrap());
    append_n(&store, "team-k", 2).await;
    // A checkpoint under a made-up key id (anyone with write access can compute hashes).
    let stranger = NotaryKey::generate().unwrap();
    let forged = stranger
        .sign(notary::format::Unsigned {
            sequence: 1,
            prev_hash: [0; 32],
            token: head(&store).await,
            event_count: 2,
            digest: [7; 32],
            signed_at_micros: 1_763_942_400_000_000,
            key_id: stranger.key_id().to_owned(),
        })
        .unwrap();
    assert!(checkpoints::insert(store.pool(), &forged).await.unwrap());
    append_n(&store, "team-k", 1).await;
    let err = Notary::new(store.clone(), key, config(100))
        .run_once()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("checkpoint 1") && err.contains("not continuing"),
        "{err}"
    );
    assert_eq!(
        all_checkpoints(&store).await.len(),
        1,
        "nothing signed on top"
    );
}

#[tokio::test]
async fn the_notary_stops_when_checkpoints_it_has_seen_are_deleted() {
    let (store, db) = store().await;
    let key = Arc::new(NotaryKey::generate().unwrap());
    let notary = Notary::new(store.clone(), key, config(2));
    append_n(&store, "team-z", 4).await;
    let newest = notary.run_once().await.unwrap().unwrap();
    assert_eq!(newest.sequence, 2);
    let owner = db.owner_pool().await.unwrap();
    sqlx::raw_sql(
        "ALTER TABLE notary_checkpoints DISABLE TRIGGER USER;
         DELETE FROM notary_checkpoints WHERE sequence = 2;
         ALTER TABLE notary_checkpoints ENABLE TRIGGER USER;",
    )
    .execute(&owner)
    .await
    .unwrap();
    append_n(&store, "team-z", 1).await;
    let err = notary.run_once().await.unwrap_err().to_string();
    assert!(err.contains("checkpoints were deleted"), "{err}");
    assert_eq!(
        all_checkpoints(&store)
            .await
            .iter()
            .map(|c| c.sequence)
            .collect::<Vec<_>>(),
        vec![1],
        "nothing re-signed"
    );
}
