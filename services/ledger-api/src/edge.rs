//! The per-request edge of the REST routes: one layer that opens the request span and counts commands.
//!
//! Policy of this module:
//! - **One layer, not two.** Each layer of an axum route is cloned and boxed per request; the request
//!   span and the command counter share one hand-written tower service ([`RestEdge`]) with one boxed
//!   future, instead of two `from_fn` middlewares.
//! - **The span** is a child of the caller's W3C `traceparent`, named by the route template (never the
//!   path as sent), with the response status; a 5xx marks it as an error (`docs/adr/0009`).
//! - **The counter** counts each `POST` under `/api/v1` by route template and outcome
//!   (`ledger_commands_total`, [`crate::metrics`]); an unknown route is `POST unknown`, never its raw path.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use telemetry::context::Transport;
use tracing::Instrument as _;

use crate::metrics::CommandCounters;

/// The layer of [`RestEdge`] (`Router::layer`, applied to the `/api/v1` routes).
#[derive(Clone)]
pub struct RestEdgeLayer {
    commands: CommandCounters,
}

impl RestEdgeLayer {
    pub fn new(commands: CommandCounters) -> Self {
        Self { commands }
    }
}

impl<S> tower::Layer<S> for RestEdgeLayer {
    type Service = RestEdge<S>;

    fn layer(&self, inner: S) -> RestEdge<S> {
        RestEdge {
            inner,
            commands: self.commands.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Clone)]
pub struct RestEdge<S> {
    inner: S,
    commands: CommandCounters,
}

impl<S> tower::Service<Request> for RestEdge<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let operation = match route {
            Some(path) => format!("{} {path}", request.method()),
            None => format!("{} unmatched", request.method()),
        };
        let command = (request.method() == Method::POST
            && request.uri().path().starts_with("/api/v1/"))
        .then(|| match route {
            Some(path) => format!("POST {path}"),
            None => "POST unknown".to_owned(),
        });
        let span = telemetry::context::server_span(Transport::Http, &operation, request.headers());
        let future = self.inner.call(request).instrument(span.clone());
        let commands = self.commands.clone();
        Box::pin(async move {
            let Ok(response) = future.await;
            let status = response.status();
            span.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
            if let Some(command) = command {
                commands.record("rest", command, crate::metrics::http_outcome(status));
            }
            Ok(response)
        })
    }
}
