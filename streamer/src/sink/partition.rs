//! Partition paths from the `partitionBy` template (pure): `{{date}}`
//! (`YYYY-MM-DD`), `{{hour}}` (`HH`), `{{minute}}` (`mm`), all in UTC from the
//! record's approximate arrival time, and `{{shard}}` (the shard id).

use jiff::{Timestamp, tz::TimeZone};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Date,
    Hour,
    Minute,
    Shard,
}

/// A parsed partition template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTemplate {
    pieces: Vec<Piece>,
}

impl PartitionTemplate {
    /// Parses `text`; an empty template means no partition directories.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("{{{{ in {text:?} is never closed"))?;
            pieces.push(match after[..close].trim() {
                "date" => Piece::Date,
                "hour" => Piece::Hour,
                "minute" => Piece::Minute,
                "shard" => Piece::Shard,
                other => {
                    return Err(format!(
                        "unknown variable {{{{{other}}}}}; known: date, hour, minute, shard"
                    ));
                }
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self { pieces })
    }

    /// The partition path (no leading or trailing `/`) of a record that
    /// arrived at `arrival` (milliseconds since the epoch) on `shard`.
    pub fn render(&self, arrival_ms: i64, shard: &str) -> String {
        let ts = Timestamp::from_millisecond(arrival_ms).unwrap_or(Timestamp::UNIX_EPOCH);
        let dt = ts.to_zoned(TimeZone::UTC).datetime();
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Date => out.push_str(&format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day())),
                Piece::Hour => out.push_str(&format!("{:02}", dt.hour())),
                Piece::Minute => out.push_str(&format!("{:02}", dt.minute())),
                Piece::Shard => out.push_str(shard),
            }
        }
        out.trim_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let ms = "2026-11-26T08:05:09.123Z"
            .parse::<Timestamp>()
            .expect("ts")
            .as_millisecond();
        let cases = [
            ("dt={{date}}/hour={{hour}}", "dt=2026-11-26/hour=08"),
            ("{{ date }}/{{minute}}/{{shard}}/", "2026-11-26/05/shardId-1"),
            ("", ""),
            ("static", "static"),
        ];
        for (template, want) in cases {
            let t = PartitionTemplate::parse(template).expect(template);
            assert_eq!(t.render(ms, "shardId-1"), want);
        }
        assert!(PartitionTemplate::parse("{{day}}").is_err());
        assert!(PartitionTemplate::parse("{{date").is_err());
    }
}
