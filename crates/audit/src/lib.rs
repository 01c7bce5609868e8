//! # audit — what an auditor runs to prove the history was never altered
//!
//! (Being built: see `docs/adr/0008-notary-checkpoints.md`.)
