//! Type inference for text columns: the narrowest type every non-null value parses
//! as. Checks stop for a candidate as soon as one value rules it out, so a column
//! of real text costs a byte or two per value. Pure.

/// Candidate types still possible for a text column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeInference {
    integer: bool,
    float: bool,
    boolean: bool,
    timestamp: bool,
    seen: bool,
}

impl Default for TypeInference {
    fn default() -> Self {
        Self {
            integer: true,
            float: true,
            boolean: true,
            timestamp: true,
            seen: false,
        }
    }
}

impl TypeInference {
    /// Whether any candidate besides text is left (callers may skip [`Self::observe`] otherwise).
    #[inline]
    pub fn open(&self) -> bool {
        self.integer || self.float || self.boolean || self.timestamp
    }

    /// Looks at one non-null value.
    pub fn observe(&mut self, s: &str) {
        self.seen = true;
        let t = s.trim();
        if self.integer && t.parse::<i64>().is_err() {
            self.integer = false;
        }
        if self.float && !(looks_numeric(t) && t.parse::<f64>().is_ok()) {
            self.float = false;
        }
        if self.boolean && !matches!(t.to_ascii_lowercase().as_str(), "true" | "false") {
            self.boolean = false;
        }
        if self.timestamp && !is_timestamp(t) {
            self.timestamp = false;
        }
    }

    /// Merges candidates seen by another partition.
    pub fn merge(&mut self, other: &Self) {
        self.integer &= other.integer;
        self.float &= other.float;
        self.boolean &= other.boolean;
        self.timestamp &= other.timestamp;
        self.seen |= other.seen;
    }

    /// `integer`, `float`, `boolean`, `timestamp`, `string`, or `unknown` when no value was seen.
    pub fn inferred(&self) -> &'static str {
        if !self.seen {
            "unknown"
        } else if self.integer {
            "integer"
        } else if self.float {
            "float"
        } else if self.boolean {
            "boolean"
        } else if self.timestamp {
            "timestamp"
        } else {
            "string"
        }
    }
}

fn looks_numeric(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    s.parse::<jiff::Timestamp>().is_ok()
        || s.parse::<jiff::civil::DateTime>().is_ok()
        || s.parse::<jiff::civil::Date>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: [(&[&str], &str); 8] = [
            (&[], "unknown"),
            (&["1", "-2", " 30 "], "integer"),
            (&["1", "2.5", "1e3"], "float"),
            (&["true", "FALSE"], "boolean"),
            (&["2026-11-25", "2026-11-25T13:00:00Z"], "timestamp"),
            (&["2026-11-25 13:00:00"], "timestamp"),
            (&["1", "x"], "string"),
            (&["nan", "inf"], "string"),
        ];
        for (values, want) in cases {
            let mut t = TypeInference::default();
            values.iter().for_each(|v| t.observe(v));
            assert_eq!(t.inferred(), want, "{values:?}");
        }
    }

    #[test]
    fn merge_narrows() {
        let (mut a, mut b) = (TypeInference::default(), TypeInference::default());
        a.observe("1");
        b.observe("1.5");
        a.merge(&b);
        assert_eq!(a.inferred(), "float");
    }
}
