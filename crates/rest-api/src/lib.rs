//! # rest-api — the REST adapter for the front end
//!
//! Policy of this crate:
//! - **A thin adapter.** Resource-oriented JSON under `/api/v1`: creates are `POST /api/v1/<collection>`,
//!   transitions `POST /api/v1/<collection>/{id}/<action>`, reads `GET`. Each handler authenticates
//!   ([`extract::Caller`]), converts its DTO into a domain command with field-named errors, and calls
//!   `app::Ledger`. No business rule and no authorisation decision lives here (`app::policy` decides).
//! - **Writes** need `Idempotency-Key` and answer `{token, stream_id, version, replayed}`; reads may pass
//!   a write's token as `min_token` (read-your-writes, bounded wait, then 503).
//! - **Errors** are `application/problem+json`, mapped once ([`error::status_of`]); bad input is always a
//!   4xx naming the field, never a 5xx.
//! - **Lists** are cursor-paginated: `{items, next_cursor, has_more}`.
//! - **OpenAPI 3.1** is generated from the handlers (utoipa), served at `/openapi.json` with a vendored
//!   Swagger UI at `/swagger-ui` (no CDN). [`document`] adds to every operation what is common to all of
//!   them (problem responses, bearer security, the write headers), so handlers only declare their own.
//! - CORS origins come from [`RestConfig::cors_origins`]; the body limit from
//!   [`RestConfig::max_body_bytes`].

use std::sync::Arc;

use access::Authenticator;
use app::reads::Coverage;
use app::{Ledger, ReadModels};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use chrono::NaiveDate;
use domain::ids::RegionCode;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub mod dto;
pub mod error;
pub mod extract;
mod rendered;
mod routes;

/// What the REST adapter serves from: one shared allocation, so the clones a request makes of it
/// (one per layer of the route) are a reference count each.
#[derive(Clone)]
pub struct RestState {
    inner: Arc<Shared>,
}

struct Shared {
    parts: RestParts,
    /// Coverage bodies rendered once per kept answer.
    coverage_bodies: rendered::Rendered<(RegionCode, NaiveDate), Coverage>,
}

impl RestState {
    pub fn new(parts: RestParts) -> Self {
        Self {
            inner: Arc::new(Shared {
                parts,
                coverage_bodies: rendered::Rendered::new(app::reads::COVERAGE_ANSWERS),
            }),
        }
    }

    pub(crate) fn coverage_bodies(&self) -> &rendered::Rendered<(RegionCode, NaiveDate), Coverage> {
        &self.inner.coverage_bodies
    }
}

impl std::ops::Deref for RestState {
    type Target = RestParts;

    fn deref(&self) -> &RestParts {
        &self.inner.parts
    }
}

/// What [`RestState`] is made of.
pub struct RestParts {
    pub ledger: Ledger,
    pub reads: ReadModels,
    /// The auditors' queries and the notary's public key.
    pub audit: app::Audit,
    pub auth: Arc<Authenticator>,
    pub config: RestConfig,
}

/// Transport settings of the REST adapter.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Origins allowed by CORS (exact `scheme://host[:port]`); empty = no cross-origin access.
    pub cors_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Page size of the lists when the client gives no `limit` (1 to 1000).
    pub default_page_size: usize,
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            max_body_bytes: 256 * 1024,
            default_page_size: 100,
        }
    }
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT of the identity provider (development: printed by the run command)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Volunteer Ledger REST API",
        description = "Commands and queries of the volunteer-campaign ledger for the front end. Errors are \
                       application/problem+json; every write needs an Idempotency-Key header."
    ),
    modifiers(&Security),
    security(("bearer" = [])),
    components(schemas(error::Problem, error::ProblemCode)),
    tags(
        (name = "regions", description = "GB/T 2260 regions and resident populations (A1)"),
        (name = "campaigns", description = "Campaigns and their rule sets (A14)"),
        (name = "host-units", description = "Host units (依托单位) and designated managers (A10)"),
        (name = "teams", description = "Teams (A9, B3, A21)"),
        (name = "volunteers", description = "Volunteers, memberships, trainings, qualifications (A7, A8, A11, B7)"),
        (name = "activities", description = "Activities (A7, A12, A13, A17)"),
        (name = "summaries", description = "Annual summaries (A15, A16)"),
        (name = "certificates", description = "Service certificates issued from recorded activities"),
        (name = "cases", description = "Typical cases (A18)"),
        (name = "evaluations", description = "The city CDC's yearly evaluation of a county (A17)"),
        (name = "findings", description = "Supervision findings of civil affairs (A20)"),
        (name = "dispatches", description = "Emergency dispatches of teams and reserves (B3, B4, B7)"),
        (name = "deployments", description = "Second-grid-member deployments (B5)"),
        (name = "medicine-boxes", description = "Shared medicine boxes: donations and dispensings (B8, B9)"),
        (name = "needs", description = "Community needs taken by teams (B10)"),
        (name = "events", description = "The event log: one stream, or the whole log by cursor"),
        (name = "reports", description = "Read models with read-your-writes: coverage (A1/A2), compliance (A3–A6), activity frequency (A13/A17), summary board (A16)"),
        (name = "audit", description = "Auditors and supervisors: audit history (A20), the notary's signed checkpoints and verification status, its public key"),
    )
)]
struct ApiDoc;

/// Problem responses every operation can answer, and the ones only writes can.
const READ_PROBLEMS: [(&str, &str); 6] = [
    (
        "400",
        "Bad input: a parameter is malformed (the problem names it)",
    ),
    ("401", "Missing, expired or invalid bearer token"),
    ("403", "The caller's role or scope does not allow this"),
    ("404", "The resource does not exist"),
    ("500", "Internal error (no details are returned)"),
    (
        "503",
        "The database or a read model is not available (yet); retry",
    ),
];
const WRITE_PROBLEMS: [(&str, &str); 4] = [
    (
        "409",
        "Concurrent change, duplicate, or an Idempotency-Key reused for another request",
    ),
    ("413", "The request body is too large"),
    ("415", "The request body is not JSON"),
    (
        "422",
        "Well-formed, but a business rule forbids it (the problem names the rule)",
    ),
];

fn add_problems(op: &mut Operation, write: bool) {
    let problems = READ_PROBLEMS.iter().chain(if write {
        WRITE_PROBLEMS.iter()
    } else {
        [].iter()
    });
    for (status, description) in problems {
        op.responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(*description)
                        .content(
                            error::PROBLEM_JSON,
                            Content::new(Some(Ref::from_schema_name("Problem"))),
                        )
                        .build(),
                )
            });
    }
    if write {
        let params = op.parameters.get_or_insert_with(Vec::new);
        for p in extract::WriteHeaders::into_params(|| Some(ParameterIn::Header)) {
            params.push(RefOr::T(p));
        }
    }
}

/// Add to every operation what all of them share: problem responses and the write headers.
pub fn document(api: &mut utoipa::openapi::OpenApi) {
    for item in api.paths.paths.values_mut() {
        if let Some(op) = item.get.as_mut() {
            add_problems(op, false);
        }
        if let Some(op) = item.post.as_mut() {
            add_problems(op, true);
        }
    }
}

/// The OpenAPI document of the `/api/v1` routes (what `/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_parts().1
}

fn api_parts() -> (axum::Router<RestState>, utoipa::openapi::OpenApi) {
    let (router, mut api) =
        routes::all(OpenApiRouter::with_openapi(ApiDoc::openapi())).split_for_parts();
    document(&mut api);
    (router, api)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-correlation-id"),
            HeaderName::from_static("x-causation-id"),
        ])
        .expose_headers([axum::http::header::WWW_AUTHENTICATE])
}

/// The `/api/v1` routes, `/openapi.json` and the Swagger UI (health routes are the binary's).
pub fn router(state: RestState) -> axum::Router {
    let max_body = state.config.max_body_bytes;
    let cors = cors(&state.config.cors_origins);
    let (api_routes, api) = api_parts();
    api_routes
        .merge(SwaggerUi::new("/swagger-ui").url("/openapi.json", api))
        .fallback(error::unknown_route)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(error::problem_responses))
        .layer(cors)
        .with_state(state)
}
