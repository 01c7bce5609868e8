//! The demo dataset loads through the production pipeline and is idempotent.

use app::demo::{DEMO_CAMPAIGN, load};
use app::{Role, VolunteerView};
use domain::ids::VolunteerId;

use crate::support::{count_events, ctx, ledger};

#[tokio::test]
async fn the_demo_loads_the_shaoxing_campaign_and_a_second_load_writes_nothing() {
    let t = ledger(DEMO_CAMPAIGN).await;
    let first = load(&t.ledger).await.unwrap();
    assert_eq!(first.replayed, 0);
    let events = count_events(t.ledger.store()).await;
    assert!(
        events >= first.written as i64,
        "{events} events for {first:?}"
    );
    let people: i64 = sqlx::query_scalar("SELECT count(*) FROM claims WHERE scope = 'person'")
        .fetch_one(t.ledger.store().pool())
        .await
        .unwrap();
    assert_eq!(people, 30, "five volunteers in each of the six counties");
    let accepted: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_id = 'summary-330602-2024' AND event_type = 'SummaryAccepted'")
        .fetch_one(t.ledger.store().pool())
        .await
        .unwrap();
    assert_eq!(accepted, 1);
    assert_eq!(
        t.ledger
            .store()
            .verify_range(eventstore::Token::START)
            .await
            .unwrap()
            .first_mismatch,
        None
    );

    let second = load(&t.ledger).await.unwrap();
    assert_eq!((second.written, second.replayed), (0, first.written));
    assert_eq!(count_events(t.ledger.store()).await, events);

    // The synthetic people are readable (masked) by the county's staff.
    let volunteers: Vec<String> = sqlx::query_scalar("SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'volunteer-%' ORDER BY 1 LIMIT 1")
        .fetch_all(t.ledger.store().pool())
        .await
        .unwrap();
    let id = VolunteerId::parse("v", volunteers[0].trim_start_matches("volunteer-")).unwrap();
    let view: VolunteerView = t
        .ledger
        .volunteer_view(&ctx(Role::CityCdc, &["330600"], &[]).actor, id)
        .await
        .unwrap();
    assert!(view.masked_name.unwrap().starts_with('示'));
}
