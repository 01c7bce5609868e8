//! Live subscriptions across processes: woken by the debounced notifier, not only by polling.

use std::time::Duration;

use eventstore::{EventStore, ExpectedVersion, StoreConfig, Token};
use tokio::sync::watch;

use crate::support::{event, request, store, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_processs_append_wakes_a_live_subscription_through_the_notifier_long_before_the_poll()
 {
    let (writer, db) = store().await;
    // The "other process": its own pool and its own in-process wake-up, polling only once a minute.
    let reader = EventStore::new(
        db.app_pool(4).await.unwrap(),
        StoreConfig {
            poll_interval: Duration::from_secs(60),
            ..StoreConfig::default()
        },
    );
    let (stop, stopped) = watch::channel(false);
    for store in [writer.clone(), reader.clone()] {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            store
                .run_notifier(Duration::from_millis(5), async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        });
    }
    // Both notifiers are listening before anything is appended.
    within(Duration::from_secs(10), "both notifiers to LISTEN", async {
        loop {
            let listening: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%vledger_events%'",
            )
            .fetch_one(writer.pool())
            .await
            .unwrap();
            if listening >= 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;

    let mut subscription = reader.subscribe(Token::START);
    let delivered = tokio::spawn(async move { subscription.next().await });
    let appended = writer
        .append(&request(
            "team-n",
            ExpectedVersion::NoStream,
            vec![event("TeamRegistered", "{}")],
            "n1",
        ))
        .await
        .unwrap();
    let got = within(
        Duration::from_secs(5),
        "the notification to wake the other process",
        delivered,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got.token, appended.result.last_token());
    let _ = stop.send(true);
}
