//! Request quotas: `requests` per `per_secs` seconds, written `60/minute`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A quota: at most `requests` per `per_secs` seconds (also the burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Requests allowed per period; never 0.
    pub requests: u32,
    /// The period in seconds; never 0.
    pub per_secs: u32,
}

impl Quota {
    /// Parses `N/UNIT` where UNIT is `second` (`s`, `sec`), `minute` (`m`, `min`), `hour`
    /// (`h`) or `day` (`d`), with N > 0.
    pub fn parse(text: &str) -> Result<Quota, String> {
        let (count, unit) = text
            .split_once('/')
            .ok_or_else(|| format!("quota `{text}` is not of the form N/minute"))?;
        let requests: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("quota `{text}`: `{count}` is not a positive count"))?;
        let per_secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            other => {
                return Err(format!(
                    "quota `{text}`: unknown period `{other}` (second, minute, hour or day)"
                ));
            }
        };
        Ok(Quota { requests, per_secs })
    }

    /// `requests` per minute (at least 1).
    pub fn per_minute(requests: u32) -> Quota {
        Quota {
            requests: requests.max(1),
            per_secs: 60,
        }
    }

    /// Checks a quota built from parts: both numbers positive.
    pub fn check(&self) -> Result<(), String> {
        if self.requests == 0 || self.per_secs == 0 {
            return Err(format!(
                "quota {} requests per {} s must have both numbers positive",
                self.requests, self.per_secs
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.per_secs {
            1 => write!(f, "{}/second", self.requests),
            60 => write!(f, "{}/minute", self.requests),
            3600 => write!(f, "{}/hour", self.requests),
            86_400 => write!(f, "{}/day", self.requests),
            n => write!(f, "{}/{n}s", self.requests),
        }
    }
}

impl Serialize for Quota {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quota {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Quota::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_to_the_same_quota() {
        for text in ["60/minute", "60/min", "60/m", " 60 / minute "] {
            assert_eq!(Quota::parse(text), Ok(Quota::per_minute(60)), "{text}");
        }
        assert_eq!(Quota::parse("5/s").map(|q| q.per_secs), Ok(1));
        assert_eq!(Quota::parse("5/hour").map(|q| q.per_secs), Ok(3600));
        assert_eq!(Quota::parse("5/d").map(|q| q.per_secs), Ok(86_400));
        for bad in ["0/minute", "ten/minute", "60", "60/fortnight", "-1/s"] {
            assert!(Quota::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Quota::per_minute(60).to_string(), "60/minute");
        assert!(
            Quota {
                requests: 1,
                per_secs: 0
            }
            .check()
            .is_err()
        );
    }
}
