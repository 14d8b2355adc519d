//! Hybrid logical clock stamps: wall-clock milliseconds, a counter for
//! events in the same millisecond (or while the wall clock is behind one
//! already seen), and the node id as the final tie-break. A node observes
//! every stamp it applies, so anything it publishes afterwards is stamped
//! later than what it saw: a clock that is behind can neither reorder nor
//! lose changes.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Deserializer, Serialize};

/// One change's stamp; stamps of all nodes are totally ordered.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Milliseconds since 1970 (the largest wall clock seen so far).
    pub ms: u64,
    /// Events within that millisecond.
    pub n: u32,
    /// The node that made the change (one shared copy per node name: a
    /// state holds two stamps per path).
    #[serde(deserialize_with = "interned_name")]
    pub node: Arc<str>,
}

/// The shared copy of a node name. The names kept are bounded; past that
/// (names from a hostile bucket), a name gets a copy of its own.
pub fn interned(name: &str) -> Arc<str> {
    static NAMES: Mutex<BTreeSet<Arc<str>>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = names.get(name) {
        return Arc::clone(found);
    }
    let made: Arc<str> = Arc::from(name);
    if names.len() < 1024 {
        names.insert(Arc::clone(&made));
    }
    made
}

fn interned_name<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
    let name = std::borrow::Cow::<str>::deserialize(d)?;
    Ok(interned(&name))
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:013}.{:05}.{}", self.ms, self.n, self.node)
    }
}

/// A node's clock: the largest (ms, n) it has issued or observed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Milliseconds part of the last stamp.
    pub ms: u64,
    /// Counter part of the last stamp.
    pub n: u32,
}

impl Clock {
    /// A new stamp for `node`, later than every stamp issued or observed.
    pub fn tick(&mut self, now_ms: u64, node: &str) -> Stamp {
        if now_ms > self.ms {
            self.ms = now_ms;
            self.n = 0;
        } else if self.n == u32::MAX {
            // The counter is full: the next millisecond, still later.
            self.ms = self.ms.saturating_add(1);
            self.n = 0;
        } else {
            self.n += 1;
        }
        Stamp {
            ms: self.ms,
            n: self.n,
            node: interned(node),
        }
    }

    /// Moves the clock past a stamp from another node.
    pub fn observe(&mut self, stamp: &Stamp) {
        if (stamp.ms, stamp.n) > (self.ms, self.n) {
            self.ms = stamp.ms;
            self.n = stamp.n;
        }
    }
}

/// A stamp further than this ahead of this machine's clock is refused
/// (a node whose clock is days fast, or a hostile batch): taken in, it
/// would drag every later stamp with it.
pub const MAX_AHEAD_MS: u64 = 24 * 3600 * 1000;

/// True when `stamp` is further ahead of `now_ms` than [`MAX_AHEAD_MS`].
pub fn too_far_ahead(stamp: &Stamp, now_ms: u64) -> bool {
    stamp.ms > now_ms.saturating_add(MAX_AHEAD_MS)
}

/// Milliseconds since 1970 by this machine's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_behind_still_stamps_after_what_it_saw() {
        let mut fast = Clock::default();
        let seen = fast.tick(10_000, "b");
        let mut slow = Clock::default();
        slow.observe(&seen);
        let next = slow.tick(5_000, "a");
        assert!(next > seen, "{next} after {seen}");
        assert!(slow.tick(5_000, "a") > next);
        // The node id breaks a tie.
        let a = Stamp {
            ms: 1,
            n: 0,
            node: "a".into(),
        };
        let b = Stamp {
            ms: 1,
            n: 0,
            node: "b".into(),
        };
        assert!(a < b);
    }

    #[test]
    fn a_full_counter_moves_to_the_next_millisecond() {
        let mut clock = Clock { ms: 7, n: u32::MAX - 1 };
        let one = clock.tick(7, "a");
        let two = clock.tick(7, "a");
        let three = clock.tick(7, "a");
        assert!(one < two && two < three, "{one} {two} {three}");
        assert_eq!((one.n, (two.ms, two.n)), (u32::MAX, (8, 0)));
    }

    #[test]
    fn a_stamp_days_ahead_is_too_far() {
        let stamp = |ms| Stamp {
            ms,
            n: 0,
            node: "a".into(),
        };
        assert!(!too_far_ahead(&stamp(1_000 + MAX_AHEAD_MS), 1_000));
        assert!(too_far_ahead(&stamp(1_001 + MAX_AHEAD_MS), 1_000));
        assert!(too_far_ahead(&stamp(u64::MAX), 5));
    }
}
