//! # domain — the rules of the volunteer campaigns, and nothing else
//!
//! Policy of this crate:
//! - **Pure.** No I/O, no async, no clock, no randomness, no sqlx/tonic/axum. Everything a decision needs
//!   (the receipt time, facts from other streams, configuration) is passed in by the caller.
//! - **decide / evolve.** Each aggregate implements [`aggregate::Aggregate`]: `decide` turns a command and the
//!   current state into events or a [`error::DomainError`]; `evolve` folds one event into the state and
//!   never fails (events are facts that already happened).
//! - **Events are forever.** Every event has an explicit type string and schema version
//!   ([`event::DomainEvent`]) that never change in place; a new shape is a new schema version with an
//!   upcaster from the old one.
//! - **Personal data never enters this crate in plaintext inside an event.** Commands carry personal data
//!   already sealed by the caller ([`ids::Sealed`]); the domain only sees facts it must judge (e.g. the date
//!   a person turns 18).
//! - Rule ids from `DOMAIN.md` (A1…A23, B1…B10) appear in doc comments, errors and test names.

pub mod aggregate;
pub mod error;
pub mod event;
pub mod ids;
pub mod rules;

pub use aggregate::{Aggregate, Decision};
pub use error::{DomainError, ErrorKind, RuleId};
pub use event::{DomainEvent, EventCodecError};

pub mod activity;
pub mod campaign;
pub mod certificate;
pub mod disclosure;
pub mod evaluation;
pub mod host_unit;
pub mod identity;
pub mod jiangsu;
pub mod region;
pub mod summary;
pub mod supervision;
pub mod team;
pub mod typical_case;
pub mod volunteer;
