//! A column's frequent values as the metrics history keeps them: the summary's
//! top values with their counts and its error bound, in the binary form of
//! [`crate::sketch::codec`] (kind 3), so later runs can merge past batches'
//! summaries (e.g. "the most common values over the last 7 batches"). Pure.

use serde::{Deserialize, Serialize};

use crate::scalar::Scalar;
use crate::sketch::codec::{self, CodecError};

/// Top values of a batch, most frequent first; each count may be low by up to `max_error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopState {
    pub max_error: u64,
    pub items: Vec<(Scalar, u64)>,
}

impl From<TopState> for String {
    fn from(s: TopState) -> Self {
        codec::encode(codec::KIND_FREQUENT, |out| {
            out.extend_from_slice(&s.max_error.to_le_bytes());
            out.push(s.items.first().map_or(0, |i| codec::scalar_type(&i.0)));
            out.extend_from_slice(&(s.items.len() as u32).to_le_bytes());
            for (value, count) in &s.items {
                out.extend_from_slice(&count.to_le_bytes());
                codec::write_scalar(out, value);
            }
        })
    }
}

impl TryFrom<String> for TopState {
    type Error = CodecError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let mut r = codec::decode(&text, codec::KIND_FREQUENT)?;
        let max_error = r.u64()?;
        let value_type = r.u8()?;
        let n = r.count(9)?;
        let items = (0..n)
            .map(|_| Ok((r.u64()?, r.scalar(value_type)?)))
            .map(|item: Result<(u64, Scalar), CodecError>| item.map(|(c, v)| (v, c)))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Self { max_error, items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_values_round_trip() {
        for items in [
            vec![(Scalar::Text("paid".into()), 40), (Scalar::Text("é".into()), 2)],
            vec![(Scalar::Int(-7), 3)],
            vec![],
        ] {
            let state = TopState { max_error: 1, items };
            let json = serde_json::to_value(&state).unwrap();
            assert_eq!(serde_json::from_value::<TopState>(json).unwrap(), state);
        }
    }
}
