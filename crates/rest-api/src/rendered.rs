//! Response bodies rendered once per kept answer.
//!
//! Policy of this module:
//! - **Keyed by the answer's identity.** The application layer keeps some answers (`app::answers`) and
//!   hands out the same `Arc` while it keeps one. A body rendered from an answer is reused only for that
//!   very `Arc` (`Arc::ptr_eq`); any other answer to the same question — a newer checkpoint, an answer
//!   computed without keeping — is rendered again and replaces it. Holding the `Arc` next to its body
//!   keeps the allocation alive, so a pointer can never be reused by a different answer while compared.
//! - **Same bytes as rendering every time.** The body is the answer's JSON as the handler would write it;
//!   only the work is saved, never a decision (authorisation and `min_token` waits happen before).
//! - **Bounded.** At capacity the map is emptied (the answers it mirrors are bounded the same way).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;

/// Bodies by question, each with the answer it was rendered from.
pub(crate) struct Rendered<K, V> {
    bodies: Mutex<HashMap<K, (Arc<V>, Bytes)>>,
    capacity: usize,
}

impl<K: Eq + Hash, V> Rendered<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bodies: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The body of `answer` to `key`: the one rendered from this same answer, or `render`'s (kept).
    pub(crate) fn body<E>(
        &self,
        key: K,
        answer: &Arc<V>,
        render: impl FnOnce(&V) -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        if let Some((kept, body)) = self.lock().get(&key)
            && Arc::ptr_eq(kept, answer)
        {
            return Ok(body.clone());
        }
        let body = render(answer)?;
        let mut bodies = self.lock();
        if bodies.len() >= self.capacity && !bodies.contains_key(&key) {
            bodies.clear();
        }
        bodies.insert(key, (answer.clone(), body.clone()));
        Ok(body)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Arc<V>, Bytes)>> {
        // Every change is one call on the map: a panic elsewhere cannot leave it half-changed.
        self.bodies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::convert::Infallible;

    use super::*;

    fn render(n: &u32) -> Result<Bytes, Infallible> {
        Ok(Bytes::from(n.to_string()))
    }

    #[test]
    fn a_body_is_reused_only_for_the_same_answer() {
        let rendered: Rendered<&str, u32> = Rendered::new(8);
        let first = Arc::new(1);
        let renders = Cell::new(0);
        let ask = |answer: &Arc<u32>| {
            rendered
                .body("330602", answer, |n| {
                    renders.set(renders.get() + 1);
                    render(n)
                })
                .unwrap()
        };
        assert_eq!(ask(&first), "1");
        assert_eq!(ask(&first.clone()), "1");
        assert_eq!(renders.get(), 1, "the same answer is rendered once");
        let equal_but_newer = Arc::new(1);
        assert_eq!(ask(&equal_but_newer), "1");
        assert_eq!(
            renders.get(),
            2,
            "another answer is rendered again, even when equal"
        );
        let changed = Arc::new(2);
        assert_eq!(ask(&changed), "2", "a changed answer gets its own body");
        assert_eq!(ask(&first), "1", "and an older one is never served for it");
        assert_eq!(renders.get(), 4);
    }

    #[test]
    fn at_capacity_the_bodies_are_dropped() {
        let rendered: Rendered<u32, u32> = Rendered::new(2);
        let answers: Vec<Arc<u32>> = (0..3).map(Arc::new).collect();
        for (k, a) in (0u32..).zip(&answers) {
            rendered.body(k, a, render).unwrap();
        }
        assert_eq!(
            rendered.lock().len(),
            1,
            "cleared when the third question came"
        );
        let mut again = false;
        rendered
            .body(0, &answers[0], |n| {
                again = true;
                render(n)
            })
            .unwrap();
        assert!(again, "a dropped body is rendered again");
    }
}
