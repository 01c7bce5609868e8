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
//! - **Longer runs by moving operations that commute** ([`grouped_runs`]), for a projector that states
//!   that its operations **commute whenever their keys differ, whatever their kinds** (no statement reads
//!   or writes a row another operation's key names; an operation without a key commutes with every
//!   operation of another kind): an operation then joins the last run of its kind further back as long
//!   as no run after that one touches its key. Applying the runs in order equals applying the operations
//!   in order — each move only swaps an operation with operations that commute with it, and within a run
//!   the key rule above still holds. A projector whose operations do not all commute that way (e.g. two
//!   kinds writing one row under different keys, a foreign key between kinds) keeps [`runs`].

use std::collections::{HashMap, HashSet};
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

/// Split `ops` into runs of one `kind` in which no `key` repeats, letting an operation join the last
/// run of its kind when no later run touches its key (and that run does not hold its key yet); otherwise
/// it starts a new run at the end. Only for operations that commute whenever their keys differ (module
/// policy): then writing the runs in order equals writing `ops` in order. Each run keeps the order of
/// `ops`.
pub fn grouped_runs<'a, T, K, Q>(
    ops: &'a [T],
    kind: impl Fn(&T) -> K,
    key: impl Fn(&T) -> Option<Q>,
) -> Vec<Vec<&'a T>>
where
    K: PartialEq,
    Q: Eq + Hash,
{
    let mut out: Vec<(K, Vec<&'a T>)> = Vec::new();
    // The last run that touched each key: an operation on that key must go after it.
    let mut touched: HashMap<Q, usize> = HashMap::new();
    for op in ops {
        let k = kind(op);
        let q = key(op);
        let after = q.as_ref().and_then(|q| touched.get(q)).copied();
        let joins = out
            .iter()
            .rposition(|(run_kind, _)| *run_kind == k)
            .filter(|i| after.is_none_or(|a| *i > a));
        let at = match joins.and_then(|i| out.get_mut(i).map(|run| (i, run))) {
            Some((i, (_, run))) => {
                run.push(op);
                i
            }
            None => {
                out.push((k, vec![op]));
                out.len() - 1
            }
        };
        if let Some(q) = q {
            touched.insert(q, at);
        }
    }
    out.into_iter().map(|(_, run)| run).collect()
}

/// Lists of varying length bound as one flat array: the list of row `i` is `(flat)[first[i]:last[i]]`
/// (one-based bounds, as Postgres slices arrays), so a run of rows that each carry a list (an activity's
/// participants) is still one `unnest(…)` statement, e.g. `($6::uuid[])[u.first:u.last]`. An empty list
/// has `last = first - 1`, which slices to `'{}'`.
#[derive(Debug)]
pub struct Lists<T> {
    pub first: Vec<i32>,
    pub last: Vec<i32>,
    pub flat: Vec<T>,
}

impl<T> Default for Lists<T> {
    fn default() -> Self {
        Self {
            first: Vec::new(),
            last: Vec::new(),
            flat: Vec::new(),
        }
    }
}

impl<T> Lists<T> {
    /// Append the next row's list. `None` when the flat array would pass `i32::MAX` elements (a bind
    /// that large could not be sent anyway).
    pub fn push(&mut self, list: impl IntoIterator<Item = T>) -> Option<()> {
        let first = i32::try_from(self.flat.len()).ok()?.checked_add(1)?;
        self.flat.extend(list);
        let last = i32::try_from(self.flat.len()).ok()?;
        self.first.push(first);
        self.last.push(last);
        Some(())
    }
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
    fn commuting_operations_of_alternating_kinds_form_one_run_per_kind() {
        // Registration and membership of volunteer after volunteer (distinct keys).
        let ops = [
            Op::Insert(1),
            Op::Close(1),
            Op::Insert(2),
            Op::Close(2),
            Op::Insert(3),
            Op::Close(3),
        ];
        let runs = grouped_runs(&ops, kind, key);
        assert_eq!(
            runs,
            vec![
                vec![&ops[0], &ops[2], &ops[4]],
                vec![&ops[1], &ops[3], &ops[5]]
            ]
        );
    }

    #[test]
    fn an_operation_never_moves_back_past_one_on_its_key() {
        let ops = [Op::Close(1), Op::Insert(5), Op::Close(2), Op::Close(1)];
        // Close(2) joins the first run past Insert(5); the second Close(1) may not share a run with the
        // first one: it starts a new run at the end.
        let runs = grouped_runs(&ops, kind, key);
        assert_eq!(
            runs,
            vec![vec![&ops[0], &ops[2]], vec![&ops[1]], vec![&ops[3]]]
        );
        // Keyed operations of two kinds on one row keep their order.
        #[derive(Debug, PartialEq)]
        enum Row {
            Put(u8, u8),
            Drop(u8),
        }
        let rows = [Row::Put(1, 1), Row::Drop(1), Row::Put(1, 2), Row::Put(2, 1)];
        let runs = grouped_runs(
            &rows,
            |r| matches!(r, Row::Put(..)),
            |r| match r {
                Row::Put(k, _) | Row::Drop(k) => Some(*k),
            },
        );
        assert_eq!(
            runs,
            vec![vec![&rows[0]], vec![&rows[1]], vec![&rows[2], &rows[3]]]
        );
    }

    /// A small table of rows `key -> value` where operations of different kinds on different keys
    /// commute (as the policy requires): grouped runs, applied run by run with each run's operations
    /// "at once" (a run must not touch a key twice), give the table that applying every operation in
    /// order gives — over many pseudo-random sequences.
    #[test]
    fn grouped_runs_leave_what_the_operations_in_order_leave() {
        #[derive(Debug, Clone, Copy)]
        enum Row {
            /// Insert if absent (first wins).
            Insert(u8, u32),
            /// Overwrite if present.
            Update(u8, u32),
            /// Remove.
            Delete(u8),
            /// Touches no keyed row (counted apart, commutes with everything).
            Note,
        }
        fn apply(table: &mut HashMap<u8, u32>, notes: &mut u32, op: &Row) {
            match *op {
                Row::Insert(k, v) => {
                    table.entry(k).or_insert(v);
                }
                Row::Update(k, v) => {
                    if let Some(x) = table.get_mut(&k) {
                        *x = v;
                    }
                }
                Row::Delete(k) => {
                    table.remove(&k);
                }
                Row::Note => *notes += 1,
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..500 {
            let len = next(40) as usize;
            let ops: Vec<Row> = (0..len)
                .map(|i| {
                    let k = next(6) as u8;
                    match next(4) {
                        0 => Row::Insert(k, i as u32),
                        1 => Row::Update(k, i as u32),
                        2 => Row::Delete(k),
                        _ => Row::Note,
                    }
                })
                .collect();
            let (mut expected, mut expected_notes) = (HashMap::new(), 0);
            for op in &ops {
                apply(&mut expected, &mut expected_notes, op);
            }
            let runs = grouped_runs(&ops, std::mem::discriminant, |op| match op {
                Row::Insert(k, _) | Row::Update(k, _) | Row::Delete(k) => Some(*k),
                Row::Note => None,
            });
            assert_eq!(runs.iter().map(Vec::len).sum::<usize>(), ops.len());
            let (mut got, mut got_notes) = (HashMap::new(), 0);
            for run in &runs {
                let keys: HashSet<u8> = run
                    .iter()
                    .filter_map(|op| match op {
                        Row::Insert(k, _) | Row::Update(k, _) | Row::Delete(k) => Some(*k),
                        Row::Note => None,
                    })
                    .collect();
                let keyed = run.iter().filter(|op| !matches!(op, Row::Note)).count();
                assert_eq!(keys.len(), keyed, "a run touches a key twice: {run:?}");
                for op in run {
                    apply(&mut got, &mut got_notes, op);
                }
            }
            assert_eq!((got, got_notes), (expected, expected_notes), "{ops:?}");
        }
    }

    #[test]
    fn operations_without_a_key_never_split_a_run() {
        let ops = [Op::Insert(1), Op::Insert(1), Op::Insert(1)];
        assert_eq!(runs(&ops, kind, key), vec![&ops[..]]);
        assert!(runs::<Op, u8, u8>(&[], kind, key).is_empty());
    }

    #[test]
    fn lists_slice_back_into_each_rows_list_with_one_based_bounds() {
        let mut lists = Lists::default();
        for list in [vec![1, 2], vec![], vec![3]] {
            assert_eq!(lists.push(list), Some(()));
        }
        assert_eq!(lists.flat, vec![1, 2, 3]);
        assert_eq!(lists.first, vec![1, 3, 3], "one-based first elements");
        assert_eq!(
            lists.last,
            vec![2, 2, 3],
            "an empty list ends before it starts"
        );
        let slice = |i: usize| {
            let (f, l) = (lists.first[i], lists.last[i]);
            if l < f {
                Vec::new()
            } else {
                lists.flat[usize::try_from(f - 1).unwrap_or(0)..usize::try_from(l).unwrap_or(0)]
                    .to_vec()
            }
        };
        assert_eq!(
            (slice(0), slice(1), slice(2)),
            (vec![1, 2], vec![], vec![3])
        );
    }
}
