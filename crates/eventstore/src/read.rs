//! Reading the log: one stream in version order, or everything in the gap-free global order.

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::error::StoreError;
use crate::model::RecordedEvent;
use crate::sql;
use crate::store::EventStore;
use crate::token::Token;

pub(crate) fn hash32(row: &PgRow, column: &str, position: i64) -> Result<[u8; 32], StoreError> {
    let v: Vec<u8> = row.try_get(column)?;
    v.try_into().map_err(|v: Vec<u8>| StoreError::Corrupt {
        position,
        reason: format!("{column} has {} bytes, not 32", v.len()),
    })
}

pub(crate) fn event_from_row(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.try_get("position")?;
    let tx: String = row.try_get("tx_text")?;
    let tx_id = tx.parse().map_err(|_| StoreError::Corrupt {
        position,
        reason: format!("tx_id {tx:?}"),
    })?;
    let version: i64 = row.try_get("stream_version")?;
    let schema_version: i32 = row.try_get("schema_version")?;
    Ok(RecordedEvent {
        token: Token { tx_id, position },
        stream_id: row.try_get("stream_id")?,
        stream_version: u64::try_from(version).map_err(|_| StoreError::Corrupt {
            position,
            reason: format!("stream_version {version}"),
        })?,
        event_type: row.try_get("event_type")?,
        schema_version: u32::try_from(schema_version).map_err(|_| StoreError::Corrupt {
            position,
            reason: format!("schema_version {schema_version}"),
        })?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        occurred_at: row.try_get("occurred_at")?,
        recorded_at: row.try_get("recorded_at")?,
        prev_hash: hash32(row, "prev_hash", position)?,
        hash: hash32(row, "hash", position)?,
    })
}

impl EventStore {
    /// Every event of one stream, in version order (empty if the stream does not exist).
    #[tracing::instrument(name = "eventstore.read_stream", skip_all, fields(stream_id))]
    pub async fn read_stream(&self, stream_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_stream_after(stream_id, 0).await
    }

    /// The events of one stream after `after_version`, in version order.
    pub async fn read_stream_after(
        &self,
        stream_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut out = Vec::new();
        let mut after = i64::try_from(after_version).unwrap_or(i64::MAX);
        loop {
            let rows = sqlx::query(sql::READ_STREAM)
                .bind(stream_id)
                .bind(after)
                .bind(self.config().page_size)
                .fetch_all(self.pool())
                .await?;
            let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= self.config().page_size;
            for r in &rows {
                let e = event_from_row(r)?;
                after = i64::try_from(e.stream_version).unwrap_or(i64::MAX);
                out.push(e);
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// Every event of several streams in one round trip, grouped by stream in version order.
    pub async fn read_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<RecordedEvent>>, StoreError> {
        let mut out: std::collections::HashMap<String, Vec<RecordedEvent>> =
            std::collections::HashMap::new();
        if stream_ids.is_empty() {
            return Ok(out);
        }
        let rows = sqlx::query(sql::READ_STREAMS)
            .bind(stream_ids)
            .fetch_all(self.pool())
            .await?;
        for r in &rows {
            let e = event_from_row(r)?;
            out.entry(e.stream_id.clone()).or_default().push(e);
        }
        Ok(out)
    }

    /// Up to `limit` events after `token` in the global order `(tx_id, position)`, only from transactions
    /// below the fence (none of which can still commit). An empty page means "caught up to the fence",
    /// not "nothing more will ever come".
    #[tracing::instrument(name = "eventstore.read_all", skip_all, fields(after = %after))]
    pub async fn read_all_after(
        &self,
        after: Token,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(sql::READ_ALL)
            .bind(after.tx_id.to_string())
            .bind(after.position)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let events = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(last) = events.last() {
            self.observe_committed(last.token);
        }
        Ok(events)
    }

    /// The current fence: the oldest transaction id still running anywhere in the cluster. Events of
    /// transactions at or above it are not delivered yet. Exposed for lag metrics.
    pub async fn fence(&self) -> Result<u64, StoreError> {
        let row = sqlx::query(sql::FENCE).fetch_one(self.pool()).await?;
        let s: String = row.try_get("fence")?;
        s.parse().map_err(|_| StoreError::Corrupt {
            position: 0,
            reason: format!("fence {s:?}"),
        })
    }
}
