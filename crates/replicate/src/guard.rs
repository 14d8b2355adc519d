//! The change guard: how many of a destination bucket's objects one run
//! may replace (with other content) or delete before it refuses.

use std::fmt;
use std::str::FromStr;

/// The most objects one destination bucket may have replaced or deleted in
/// one run: a count, or a percentage of the objects it holds before the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxChange {
    /// At most this many objects (`25`).
    Count(u64),
    /// At most this percentage of the bucket's objects, rounded down
    /// (`10%`; parsing refuses more than 100).
    Percent(u8),
}

impl Default for MaxChange {
    fn default() -> Self {
        MaxChange::Percent(10)
    }
}

impl MaxChange {
    /// The most changes allowed in a bucket holding `objects` (rounded down:
    /// 10% of 5 objects allows none).
    pub fn limit(self, objects: u64) -> u64 {
        match self {
            MaxChange::Count(n) => n,
            MaxChange::Percent(p) => objects.saturating_mul(u64::from(p)) / 100,
        }
    }

    /// Whether changing `changes` of `objects` stays within the limit.
    pub fn allows(self, changes: u64, objects: u64) -> bool {
        changes <= self.limit(objects)
    }
}

impl FromStr for MaxChange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("`{s}`: expected a number of objects (25) or a percentage of the destination's objects (10%)");
        match s.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= 100 => Ok(MaxChange::Percent(p)),
                Ok(_) => Err(format!("`{s}`: a percentage is at most 100%")),
                Err(_) => Err(bad()),
            },
            None => s.trim().parse::<u64>().map(MaxChange::Count).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for MaxChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxChange::Count(n) => write!(f, "{n}"),
            MaxChange::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_percentages() {
        assert_eq!("25".parse(), Ok(MaxChange::Count(25)));
        assert_eq!("10%".parse(), Ok(MaxChange::Percent(10)));
        assert_eq!(" 0% ".parse(), Ok(MaxChange::Percent(0)));
        for bad in ["", "%", "-1", "ten", "101%", "1.5%", "10 %x"] {
            assert!(bad.parse::<MaxChange>().is_err(), "{bad:?}");
        }
        assert!("101%".parse::<MaxChange>().unwrap_err().contains("at most 100%"));
    }

    #[test]
    fn limits_round_down() {
        let ten = MaxChange::default();
        assert_eq!(ten.limit(5), 0);
        assert_eq!(ten.limit(100), 10);
        assert!(ten.allows(10, 100) && !ten.allows(11, 100));
        assert!(!ten.allows(1, 9));
        assert!(ten.allows(0, 0));
        assert!(MaxChange::Count(3).allows(3, 3));
        assert_eq!(MaxChange::Percent(100).limit(u64::MAX), u64::MAX / 100);
        assert_eq!(MaxChange::Count(7).to_string(), "7");
    }
}
