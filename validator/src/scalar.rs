//! A single typed value (a column's min, max or frequent value) and the column
//! kinds the profiler distinguishes. Pure.

use arrow::datatypes::DataType;
use serde::{Serialize, Serializer};

/// What the profiler does with a column, from its Arrow type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ColumnKind {
    /// Signed or unsigned integers up to 64 bits (u64 is read as float).
    Integer,
    /// Floats and decimals.
    Float,
    /// UTF-8 strings, in any Arrow layout.
    Text,
    /// Timestamps and dates.
    Temporal,
    /// Booleans.
    Boolean,
    /// Anything else (lists, structs, binary): rows and nulls only.
    Other,
}

impl ColumnKind {
    /// The kind of a column of this Arrow type.
    pub fn of(data_type: &DataType) -> Self {
        use DataType::*;
        match data_type {
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => Self::Integer,
            UInt64 | Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => {
                Self::Float
            }
            Utf8 | LargeUtf8 | Utf8View => Self::Text,
            Dictionary(_, value) if Self::of(value) == Self::Text => Self::Text,
            Timestamp(..) | Date32 | Date64 => Self::Temporal,
            Boolean => Self::Boolean,
            _ => Self::Other,
        }
    }

    /// Integers and floats: the kinds with a mean and quantiles.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Float)
    }
}

/// One value. Timestamps are microseconds since the Unix epoch (UTC).
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub enum Scalar {
    Int(i64),
    Float(f64),
    Text(String),
    Time(i64),
    Bool(bool),
}

impl Scalar {
    /// The value as a number, for history metrics: timestamps as epoch seconds; text and booleans have none.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(v) => Some(*v as f64),
            Self::Float(v) => Some(*v),
            Self::Time(us) => Some(*us as f64 / 1e6),
            Self::Text(_) | Self::Bool(_) => None,
        }
    }

    /// False only for a NaN or infinite float.
    pub fn is_finite(&self) -> bool {
        match self {
            Self::Float(v) => v.is_finite(),
            _ => true,
        }
    }

    /// The smaller of two optional values of the same variant.
    pub fn min_of(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b < a { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// The larger of two optional values of the same variant.
    pub fn max_of(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b > a { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// RFC 3339 text of a timestamp in microseconds.
    pub fn format_time(us: i64) -> String {
        jiff::Timestamp::from_microsecond(us).map_or_else(|_| us.to_string(), |t| t.to_string())
    }
}

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Int(v) => s.serialize_i64(*v),
            // Parquet writes a zero minimum as -0.0; show it as 0.
            Self::Float(v) if *v == 0.0 => s.serialize_f64(0.0),
            Self::Float(v) if v.is_finite() => s.serialize_f64(*v),
            Self::Float(v) => s.serialize_str(&v.to_string()),
            Self::Text(v) => s.serialize_str(v),
            Self::Time(us) => s.serialize_str(&Self::format_time(*us)),
            Self::Bool(v) => s.serialize_bool(*v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::TimeUnit;

    #[test]
    fn kinds() {
        let cases = [
            (DataType::Int32, ColumnKind::Integer),
            (DataType::UInt64, ColumnKind::Float),
            (DataType::Decimal128(10, 2), ColumnKind::Float),
            (DataType::Utf8View, ColumnKind::Text),
            (
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                ColumnKind::Text,
            ),
            (DataType::Timestamp(TimeUnit::Nanosecond, None), ColumnKind::Temporal),
            (DataType::Date32, ColumnKind::Temporal),
            (DataType::Boolean, ColumnKind::Boolean),
            (DataType::Binary, ColumnKind::Other),
        ];
        for (dt, kind) in cases {
            assert_eq!(ColumnKind::of(&dt), kind, "{dt}");
        }
    }

    #[test]
    fn json_and_numbers() {
        let cases = [
            (Scalar::Int(3), "3", Some(3.0)),
            (Scalar::Float(1.5), "1.5", Some(1.5)),
            (Scalar::Text("a".into()), "\"a\"", None),
            (
                Scalar::Time(1_700_000_000_000_000),
                "\"2023-11-14T22:13:20Z\"",
                Some(1.7e9),
            ),
            (Scalar::Bool(true), "true", None),
        ];
        for (v, json, num) in cases {
            assert_eq!(serde_json::to_string(&v).unwrap(), json);
            assert_eq!(v.as_f64(), num);
        }
        assert_eq!(
            Scalar::min_of(Some(Scalar::Int(2)), Some(Scalar::Int(1))),
            Some(Scalar::Int(1))
        );
        assert_eq!(Scalar::max_of(None, Some(Scalar::Int(1))), Some(Scalar::Int(1)));
    }
}
