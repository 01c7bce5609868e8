//! # projections — read models built from the log
//!
//! Policy of this crate:
//! - **Every read model can be dropped and rebuilt from the log.** Projectors read the log only through
//!   [`eventstore::EventStore::read_all_after`] / [`eventstore::EventStore::subscribe`], i.e. in the
//!   gap-free `(tx_id, position)` order below the fence; they never read `position` alone.
//! - **Exactly-once effect.** Each projector has a checkpoint `(tx_id, position)` in
//!   `projection_checkpoints`, written in the same transaction as the read-model changes of the batch
//!   that advanced it ([`runtime`]).
//! - **One active instance per projector** across processes (a session-level advisory lock on a dedicated
//!   connection), and **fenced**: every batch locks its checkpoint row and checks the value it expects, so
//!   a stale leader never applies twice.
//! - **Never silently skips.** An event a projector cannot apply is parked with its error, together with
//!   every later event of its stream; other streams continue; the parked count is exposed and the read
//!   model's answers say so.
//! - **No personal data.** Projectors never decrypt; read models hold ids, codes, dates and counts.
//! - SQL lives in constants with binds only.

mod activity_rows;
pub mod audit_history;
pub mod batch;
pub mod compliance;
pub mod coverage;
mod error;
pub mod frequency;
pub mod jiangsu;
pub mod parked;
pub mod rebuild;
pub mod replay;
pub mod runtime;
pub mod service_record;
pub mod summary_board;

pub use audit_history::{AuditHistoryProjector, History, HistoryFilter, HistoryRow, history};
pub use compliance::{
    Compliance, ComplianceProjector, HostWithoutTeam, TeamShortfall, VolunteerShortfall, compliance,
};
pub use coverage::{A1_PER_100K, Coverage, CoverageProjector, Per100k, Population, coverage};
pub use error::{ApplyError, ProjectionError, WaitError};
pub use frequency::{
    Figures, Frequency, FrequencyGrouping, FrequencyProjector, FrequencyRow, frequency,
};
pub use jiangsu::{
    Deployments, GridDeployment, JiangsuProjector, MedicineStock, MedicineStocks, NeedRow, Needs,
    OPEN_NEEDS, ReserveMember, ReserveRoster,
};
pub use runtime::{
    ApplyMode, BatchOutcome, Progress, Projector, Runner, RunnerConfig, apply_batch,
    apply_batch_with, parked_count,
};
pub use service_record::{
    HoursOf, IssuedCertificate, ServedActivity, ServiceHours, ServiceRecord,
    ServiceRecordProjector, ServiceYear, VolunteerHours,
};
pub use summary_board::{
    BoardRow, SummaryBoard, SummaryBoardProjector, Timeliness, missing_summaries, summary_board,
};
