//! `EventService`: one stream, or a live subscription to the log.
//!
//! Policy: the app layer decides what the caller may see (scope per event, `ReadEvents` grants for
//! partners) and keeps personal fields sealed; this adapter only turns envelopes into the one `Event`
//! message. A subscription runs in its own task that ends as soon as the client goes away; its order is
//! the app layer's gap-free global order, so a client that resumes from the token of the last event it
//! received sees every event exactly once. A database outage ends the stream with `UNAVAILABLE`
//! (resume from the last token).

use std::pin::Pin;

use app::{AppError, EventEnvelope, EventFilter};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::context;
use crate::convert::{at, to_timestamp};
use crate::error;
use crate::pb;
use crate::pb::event_service_server::EventService;

api!(EventApi);

/// Events buffered per subscriber before the feed waits for the client.
const BUFFER: usize = 64;
/// At most this many filter values, each of at most [`MAX_FILTER_CHARS`].
const MAX_FILTERS: usize = 100;
const MAX_FILTER_CHARS: usize = 100;

fn event(e: EventEnvelope) -> pb::Event {
    pb::Event {
        token: e.token.to_string(),
        stream_id: e.stream_id,
        category: e.category,
        stream_version: e.stream_version,
        event_type: e.event_type,
        schema_version: e.schema_version,
        payload_json: e.payload,
        metadata_json: e.metadata,
        occurred_at: Some(to_timestamp(e.occurred_at)),
        recorded_at: Some(to_timestamp(e.recorded_at)),
    }
}

fn filter_values(field: &str, values: Vec<String>) -> Result<Vec<String>, AppError> {
    if values.len() > MAX_FILTERS {
        return Err(AppError::invalid(
            field,
            format!("at most {MAX_FILTERS} values"),
        ));
    }
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() || v.chars().count() > MAX_FILTER_CHARS {
            return Err(AppError::invalid(
                at(field, i),
                format!("must be 1 to {MAX_FILTER_CHARS} characters"),
            ));
        }
    }
    Ok(values)
}

pub(crate) type EventStream =
    Pin<Box<dyn Stream<Item = Result<pb::SubscribeEventsResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl EventService for EventApi {
    async fn read_stream(
        &self,
        request: Request<pb::ReadStreamRequest>,
    ) -> Result<Response<pb::ReadStreamResponse>, Status> {
        rpc!("EventService/ReadStream", {
            let actor = context::actor(&self.state, request.metadata())?;
            let events = self
                .state
                .ledger
                .stream_events(&actor, &request.get_ref().stream_id)
                .await?;
            Ok(pb::ReadStreamResponse {
                events: events.into_iter().map(event).collect(),
            })
        })
    }

    type SubscribeEventsStream = EventStream;

    async fn subscribe_events(
        &self,
        request: Request<pb::SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        rpc!("EventService/SubscribeEvents", {
            let actor = context::actor(&self.state, request.metadata())?;
            let r = request.into_inner();
            let after = app::events::parse_token("from_token", &r.from_token)?;
            let filter = EventFilter {
                categories: filter_values("categories", r.categories)?,
                event_types: filter_values("event_types", r.event_types)?,
            };
            let mut feed = self.state.ledger.subscribe_events(&actor, after, filter)?;
            let (tx, rx) = tokio::sync::mpsc::channel(BUFFER);
            tokio::spawn(async move {
                loop {
                    let next = tokio::select! {
                        next = feed.next() => next,
                        () = tx.closed() => break,
                    };
                    let item = match next {
                        Ok(e) => Ok(pb::SubscribeEventsResponse {
                            event: Some(event(e)),
                        }),
                        Err(e) => {
                            error::log("EventService/SubscribeEvents", &e);
                            Err(error::status(&e))
                        }
                    };
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        break;
                    }
                }
            });
            let stream: EventStream = Box::pin(ReceiverStream::new(rx));
            Ok(stream)
        })
    }
}
