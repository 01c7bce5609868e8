//! Cross-crate tests against a real Postgres (see `pg-harness` for how the cluster is chosen).
//! One binary, one module per area.

mod eventstore_append;
mod eventstore_integrity;
mod eventstore_order;
mod support;
