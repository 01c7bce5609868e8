//! Set-based writes for projectors: consecutive operations of one kind become one multi-row statement.
//!
//! Policy of this module:
//! - A projector that writes set-based first **decodes** its events into operations (plain values, no
//!   I/O), then **writes** them run by run: a run is a maximal stretch of consecutive operations of one
//!   kind, written by one statement over `unnest($1::…[], $2::…[], …)` — one round trip per run instead
//!   of one per event.
//! - **Same result as one by one.** A multi-row statement must leave the tables as its operations executed
//!   in order would. That holds for inserts of distinct rows and for updates of distinct rows, not for two
//!   operations on one row (an `UPDATE … FROM unnest(…)` applies only one of them; an `INSERT … ON
//!   CONFLICT DO UPDATE` refuses to touch a row twice). So a run also ends before an operation whose
//!   **key** (the row it touches) is already in the run: it starts the next run.
//! - A projector's per-event [`apply`](crate::runtime::Projector::apply) writes through the same code
//!   (runs of one operation), so the set-based and the one-by-one path share every statement.
//! - When a run fails, the runtime rolls the whole batch's writes back and applies it event by event
//!   (`runtime`), so a statement need not tell which operation failed.

use std::collections::HashSet;
use std::hash::Hash;

/// Split `ops` into maximal runs of consecutive operations of one `kind` in which no `key` repeats
/// (an operation without a key never ends a run by its key).
pub fn runs<T, K, Q>(ops: &[T], kind: impl Fn(&T) -> K, key: impl Fn(&T) -> Option<Q>) -> Vec<&[T]>
where
    K: PartialEq,
    Q: Eq + Hash,
{
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen: HashSet<Q> = HashSet::new();
    for (i, op) in ops.iter().enumerate() {
        let same_kind = i > start && ops.get(start).is_some_and(|first| kind(first) == kind(op));
        let k = key(op);
        let repeats = k.as_ref().is_some_and(|k| seen.contains(k));
        if i > start && (!same_kind || repeats) {
            if let Some(run) = ops.get(start..i) {
                out.push(run);
            }
            start = i;
            seen.clear();
        }
        if let Some(k) = k {
            seen.insert(k);
        }
    }
    if let Some(run) = ops.get(start..).filter(|r| !r.is_empty()) {
        out.push(run);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Op {
        Insert(u8),
        Close(u8),
    }

    fn kind(op: &Op) -> u8 {
        match op {
            Op::Insert(_) => 0,
            Op::Close(_) => 1,
        }
    }

    fn key(op: &Op) -> Option<u8> {
        match op {
            Op::Insert(_) => None,
            Op::Close(k) => Some(*k),
        }
    }

    #[test]
    fn a_run_is_consecutive_operations_of_one_kind() {
        let ops = [Op::Insert(1), Op::Insert(2), Op::Close(1), Op::Insert(3)];
        let runs = runs(&ops, kind, key);
        assert_eq!(
            runs,
            vec![&ops[0..2], &ops[2..3], &ops[3..4]],
            "kinds change between runs"
        );
    }

    #[test]
    fn a_run_ends_before_an_operation_on_a_row_it_already_touches() {
        let ops = [Op::Close(1), Op::Close(2), Op::Close(1), Op::Close(3)];
        let runs = runs(&ops, kind, key);
        assert_eq!(runs, vec![&ops[0..2], &ops[2..4]]);
    }

    #[test]
    fn operations_without_a_key_never_split_a_run() {
        let ops = [Op::Insert(1), Op::Insert(1), Op::Insert(1)];
        assert_eq!(runs(&ops, kind, key), vec![&ops[..]]);
        assert!(runs::<Op, u8, u8>(&[], kind, key).is_empty());
    }
}
