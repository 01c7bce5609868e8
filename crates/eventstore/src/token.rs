//! Positions in the global order.
//!
//! Events are delivered in `(tx_id, position)` order, so a later event can have a smaller `position`:
//! a resume point is always the pair, never a bare position. Clients see it as an opaque string.

use std::fmt;
use std::str::FromStr;

/// A point in the global order: the `(tx_id, position)` of the last event seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Token {
    /// The appending transaction's `xid8`.
    pub tx_id: u64,
    /// The event's `position` (identity column).
    pub position: i64,
}

impl Token {
    /// Before the first event.
    pub const START: Token = Token {
        tx_id: 0,
        position: 0,
    };
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.tx_id, self.position)
    }
}

/// A token string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a position token (expected the opaque string a write or an event carried)")]
pub struct BadToken(pub String);

impl FromStr for Token {
    type Err = BadToken;
    fn from_str(s: &str) -> Result<Self, BadToken> {
        let bad = || BadToken(s.chars().take(64).collect());
        let (tx, pos) = s.split_once('.').ok_or_else(bad)?;
        let tx_id: u64 = tx.parse().map_err(|_| bad())?;
        let position: i64 = pos.parse().map_err(|_| bad())?;
        if position < 0 || i64::try_from(tx_id).is_err() {
            return Err(bad());
        }
        Ok(Token { tx_id, position })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_orders_by_tx_id_before_position() {
        let late_commit_small_position = Token {
            tx_id: 10,
            position: 5,
        };
        let early_commit_large_position = Token {
            tx_id: 9,
            position: 7,
        };
        assert!(early_commit_large_position < late_commit_small_position);
    }

    #[test]
    fn token_text_round_trips_and_rejects_garbage() {
        let t = Token {
            tx_id: 771,
            position: 42,
        };
        assert_eq!(t.to_string().parse::<Token>().unwrap(), t);
        for bad in ["", "42", "a.b", "1.-3", "1.2.3", "18446744073709551615.1"] {
            assert!(bad.parse::<Token>().is_err(), "{bad:?} parsed");
        }
    }
}
