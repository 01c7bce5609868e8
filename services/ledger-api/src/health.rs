//! Liveness and readiness.
//!
//! `/livez` answers as long as the process serves HTTP. `/readyz` answers 200 only when the database
//! answers and every migration this binary embeds has been applied (a rolling deploy must not send
//! traffic to a binary ahead of its schema); otherwise 503 with the reason.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use sqlx::PgPool;

const APPLIED_MIGRATIONS: &str = "SELECT version FROM _sqlx_migrations WHERE success";

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .with_state(pool)
}

async fn livez() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "live" }))
}

async fn readyz(State(pool): State<PgPool>) -> impl IntoResponse {
    let applied = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_scalar::<_, i64>(APPLIED_MIGRATIONS).fetch_all(&pool),
    )
    .await;
    let not_ready = |reason: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "not ready", "reason": reason })),
        )
    };
    match applied {
        Err(_) => not_ready("the database did not answer within 2 s"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            not_ready("the database is unreachable or the schema is missing")
        }
        Ok(Ok(versions)) => {
            let applied: BTreeSet<i64> = versions.into_iter().collect();
            let missing = schema::MIGRATOR
                .iter()
                .filter(|m| !applied.contains(&m.version))
                .count();
            if missing == 0 {
                (
                    StatusCode::OK,
                    Json(serde_json::json!({ "status": "ready" })),
                )
            } else {
                not_ready("migrations are pending")
            }
        }
    }
}
