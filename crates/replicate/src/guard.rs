//! The deletion guard: how many of a destination bucket's objects one run
//! may delete before it refuses.

use std::fmt;
use std::str::FromStr;

/// The most deletions allowed in one destination bucket: a count, or a
/// percentage of the objects the bucket holds before the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxDelete {
    Count(u64),
    Percent(u8),
}

impl Default for MaxDelete {
    fn default() -> Self {
        MaxDelete::Percent(10)
    }
}

impl MaxDelete {
    /// The most deletions allowed in a bucket holding `objects` (rounded down:
    /// 10% of 5 objects allows none).
    pub fn limit(self, objects: u64) -> u64 {
        match self {
            MaxDelete::Count(n) => n,
            MaxDelete::Percent(p) => objects.saturating_mul(u64::from(p)) / 100,
        }
    }

    /// Whether deleting `deletes` of `objects` stays within the limit.
    pub fn allows(self, deletes: u64, objects: u64) -> bool {
        deletes <= self.limit(objects)
    }
}

impl FromStr for MaxDelete {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("`{s}`: expected a number of objects (25) or a percentage of the destination's objects (10%)");
        match s.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= 100 => Ok(MaxDelete::Percent(p)),
                Ok(_) => Err(format!("`{s}`: a percentage is at most 100%")),
                Err(_) => Err(bad()),
            },
            None => s.trim().parse::<u64>().map(MaxDelete::Count).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for MaxDelete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxDelete::Count(n) => write!(f, "{n}"),
            MaxDelete::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_percentages() {
        assert_eq!("25".parse(), Ok(MaxDelete::Count(25)));
        assert_eq!("10%".parse(), Ok(MaxDelete::Percent(10)));
        assert_eq!(" 0% ".parse(), Ok(MaxDelete::Percent(0)));
        for bad in ["", "%", "-1", "ten", "101%", "1.5%", "10 %x"] {
            assert!(bad.parse::<MaxDelete>().is_err(), "{bad:?}");
        }
        assert!("101%".parse::<MaxDelete>().unwrap_err().contains("at most 100%"));
    }

    #[test]
    fn limits_round_down() {
        let ten = MaxDelete::default();
        assert_eq!(ten.limit(5), 0);
        assert_eq!(ten.limit(100), 10);
        assert!(ten.allows(10, 100) && !ten.allows(11, 100));
        assert!(!ten.allows(1, 9));
        assert!(ten.allows(0, 0));
        assert!(MaxDelete::Count(3).allows(3, 3));
        assert_eq!(MaxDelete::Percent(100).limit(u64::MAX), u64::MAX / 100);
        assert_eq!(MaxDelete::Count(7).to_string(), "7");
    }
}
