//! # app — the application layer
//!
//! Policy of this crate:
//! - Every command goes through one pipeline ([`pipeline`]): load the aggregate and
//!   the facts it needs from other streams → authorise against the one policy table ([`policy`]) →
//!   decide (pure domain) → one atomic append that also records the idempotency key; a retry gets the
//!   first answer. A rejected command writes nothing.
//! - Personal data is sealed with the person's data key here, before the domain sees the command; the
//!   domain and the log only ever hold ciphertext. Erasure destroys the key.
//! - One transport-neutral error ([`error::AppError`] with [`error::ErrorCode`]); adapters map it once.
//! - No transport types (tonic/axum) and no SQL here: storage goes through `eventstore` and
//!   `person-vault`.

pub mod actor;
pub mod answers;
pub mod audit;
mod commands;
pub mod demo;
pub mod disclosure;
pub mod error;
pub mod evaluation;
pub mod events;
pub mod ledger;
mod personal;
pub mod pipeline;
pub mod policy;
pub mod queries;
pub mod reads;
pub mod records;

pub use actor::{Actor, Role};
pub use audit::Audit;
pub use commands::certificate::CERTIFICATE_NUMBER_CLAIM;
pub use commands::volunteer::{
    PERSON_CLAIM, RecordQualificationInput, RegisterVolunteerInput, VolunteerInput,
};
pub use error::{AppError, ErrorCode};
pub use events::{EventEnvelope, EventFeed, EventFilter, EventPage};
pub use ledger::{CommandContext, Ledger, LedgerConfig};
pub use pipeline::CommandOutcome;
pub use policy::{CommandKind, Subject};
pub use queries::VolunteerView;
pub use reads::ReadModels;
