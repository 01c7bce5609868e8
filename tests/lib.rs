//! Support crate for the cross-crate tests in `it/`; the tests themselves live there.
