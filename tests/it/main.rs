//! Cross-crate tests against a real Postgres (see `pg-harness` for how the cluster is chosen).
//! One binary, one module per area.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test setup and helpers: a failed step must fail the test loudly, with its location"
)]

mod api_cross;
mod api_grpc;
mod api_metrics;
mod api_reports;
mod api_rest;
mod api_service;
mod api_support;
mod app_activities;
mod app_areas;
mod app_summaries;
mod app_volunteers;
mod audit_api;
mod audit_erasure;
mod audit_replay;
mod audit_verify;
mod demo;
mod disclosure;
mod eventstore_append;
mod eventstore_integrity;
mod eventstore_order;
mod eventstore_subscribe;
mod notary_runner;
mod parked;
mod projections;
mod projector_process;
mod read_models;
mod rebuild;
mod records;
mod resilience;
mod support;
mod telemetry;
mod two_processes;
