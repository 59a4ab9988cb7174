//! The schema check: a dataset's columns against a contract (names, logical
//! types, required-ness) and against the schema the previous comparable batch
//! recorded in history (drift). Types are compared as logical types, so a
//! string read as Arrow `Utf8View` in one run and `Utf8` in another, or a
//! timestamp in another unit, is the same type. Pure.

use arrow::datatypes::{DataType, Fields};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use std::sync::LazyLock;

use regex::Regex;

use ade_api::v1alpha1::{LOGICAL_TYPE_PATTERN, SchemaCheck, SchemaMode};

/// One column of a dataset's schema, as recorded in history and reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaField {
    pub name: String,
    /// The logical type ([`logical_type`]).
    #[serde(rename = "type")]
    pub type_: String,
    pub nullable: bool,
}

/// The dataset's columns, in order.
pub fn fields_of(fields: &Fields) -> Vec<SchemaField> {
    fields
        .iter()
        .map(|f| SchemaField {
            name: f.name().clone(),
            type_: logical_type(f.data_type()),
            nullable: f.is_nullable(),
        })
        .collect()
}

/// The logical type of an Arrow type: what a schema contract names.
pub fn logical_type(data_type: &DataType) -> String {
    use DataType::*;
    let name = match data_type {
        Null => "null",
        Boolean => "boolean",
        Int8 => "int8",
        Int16 => "int16",
        Int32 => "int32",
        Int64 => "int64",
        UInt8 => "uint8",
        UInt16 => "uint16",
        UInt32 => "uint32",
        UInt64 => "uint64",
        Float16 => "float16",
        Float32 => "float32",
        Float64 => "float64",
        Decimal32(p, s) | Decimal64(p, s) => return format!("decimal({p},{s})"),
        Decimal128(p, s) | Decimal256(p, s) => return format!("decimal({p},{s})"),
        Utf8 | LargeUtf8 | Utf8View => "string",
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => "binary",
        Date32 | Date64 => "date",
        Timestamp(_, None) => "timestamp",
        Timestamp(_, Some(_)) => "timestamptz",
        Time32(_) | Time64(_) => "time",
        Duration(_) => "duration",
        Interval(_) => "interval",
        List(_) | LargeList(_) | ListView(_) | LargeListView(_) | FixedSizeList(..) => "list",
        Struct(_) => "struct",
        Map(..) => "map",
        Dictionary(_, value) => return logical_type(value),
        RunEndEncoded(_, value) => return logical_type(value.data_type()),
        Union(..) => "union",
    };
    name.to_owned()
}

/// Whether `name` is a logical type a contract may name: the CRD's pattern,
/// with a decimal's precision and scale within Arrow's bounds.
pub fn is_logical_type(name: &str) -> bool {
    static PATTERN: LazyLock<Regex> = LazyLock::new(|| Regex::new(LOGICAL_TYPE_PATTERN).expect("a valid pattern"));
    if !PATTERN.is_match(name) {
        return false;
    }
    match name.strip_prefix("decimal(").and_then(|rest| rest.strip_suffix(')')) {
        Some(ps) => ps
            .split_once(',')
            .is_some_and(|(p, s)| p.parse::<u8>().is_ok() && s.parse::<i8>().is_ok()),
        None => true,
    }
}

/// What a schema check found.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaVerdict {
    /// Contract violations and drift, one line each, naming the column.
    pub problems: Vec<String>,
    /// Whether drift was compared (false: asked for, but no previous schema in history).
    pub drift_compared: bool,
    pub observed: Value,
    pub expected: Value,
}

/// The previous comparable batch's schema, for drift.
#[derive(Clone, Copy, Debug)]
pub struct Previous<'a> {
    pub batch_id: &'a str,
    pub fields: &'a [SchemaField],
}

/// Checks `actual` against the contract in `check` and, when it asks for drift,
/// against `previous`. `declares_nullability`: the format says which columns
/// are required (Parquet does; CSV and JSON do not).
pub fn evaluate(
    check: &SchemaCheck,
    actual: &[SchemaField],
    previous: Option<Previous<'_>>,
    declares_nullability: bool,
) -> SchemaVerdict {
    let mut problems = Vec::new();
    let find = |name: &str| actual.iter().find(|f| f.name == name);
    let mut missing = Vec::new();
    let mut retyped = Vec::new();
    for want in &check.columns {
        let Some(got) = find(&want.name) else {
            if check.mode != SchemaMode::Subset {
                problems.push(format!("column {:?} is missing", want.name));
                missing.push(want.name.clone());
            }
            continue;
        };
        if let Some(t) = &want.type_
            && *t != got.type_
        {
            problems.push(format!("column {:?} is {}, expected {t}", want.name, got.type_));
            retyped.push(json!({"column": want.name, "type": got.type_, "expected": t}));
        }
        if want.nullable == Some(false) && declares_nullability && got.nullable {
            problems.push(format!("column {:?} is nullable, expected required", want.name));
        }
    }
    let unexpected: Vec<&str> = if check.mode == SchemaMode::Superset || check.columns.is_empty() {
        Vec::new()
    } else {
        actual
            .iter()
            .filter(|f| !check.columns.iter().any(|c| c.name == f.name))
            .map(|f| f.name.as_str())
            .collect()
    };
    let mode = match check.mode {
        SchemaMode::Exact => "exact",
        SchemaMode::Superset => "superset",
        SchemaMode::Subset => "subset",
    };
    for name in &unexpected {
        problems.push(format!("column {name:?} is not in the contract ({mode} mode)"));
    }
    let mut drift = Value::Null;
    let drift_compared = check.drift_from.is_some() && previous.is_some();
    if let (Some(_), Some(prev)) = (check.drift_from, previous) {
        let added: Vec<&str> = actual
            .iter()
            .filter(|f| !prev.fields.iter().any(|p| p.name == f.name))
            .map(|f| f.name.as_str())
            .collect();
        let removed: Vec<&str> = prev
            .fields
            .iter()
            .filter(|p| !actual.iter().any(|f| f.name == p.name))
            .map(|p| p.name.as_str())
            .collect();
        let changed: Vec<(&str, &str, &str)> = actual
            .iter()
            .filter_map(|f| {
                let p = prev.fields.iter().find(|p| p.name == f.name)?;
                (p.type_ != f.type_).then_some((f.name.as_str(), p.type_.as_str(), f.type_.as_str()))
            })
            .collect();
        let batch = prev.batch_id;
        problems.extend(
            added
                .iter()
                .map(|c| format!("column {c:?} was added since batch {batch}")),
        );
        problems.extend(
            removed
                .iter()
                .map(|c| format!("column {c:?} was removed since batch {batch}")),
        );
        problems.extend(
            changed
                .iter()
                .map(|(c, from, to)| format!("column {c:?} changed type from {from} to {to} since batch {batch}")),
        );
        let retyped: Vec<Value> = changed
            .iter()
            .map(|(c, from, to)| json!({"column": c, "from": from, "to": to}))
            .collect();
        drift = json!({"previousBatch": batch, "added": added, "removed": removed, "retyped": retyped});
    }
    SchemaVerdict {
        observed: json!({
            "columns": actual.iter().map(|f| json!({"name": f.name, "type": f.type_, "nullable": f.nullable})).collect::<Vec<_>>(),
            "missing": missing,
            "unexpected": unexpected,
            "retyped": retyped,
            "drift": drift,
        }),
        expected: json!({
            "mode": check.mode,
            "columns": check.columns,
            "driftFrom": check.drift_from,
        }),
        problems,
        drift_compared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, TimeUnit};

    fn field(name: &str, type_: &str, nullable: bool) -> SchemaField {
        SchemaField {
            name: name.into(),
            type_: type_.into(),
            nullable,
        }
    }

    fn check(value: Value) -> SchemaCheck {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn logical_types_ignore_layouts_and_units() {
        let cases = [
            (DataType::Utf8View, "string"),
            (DataType::LargeUtf8, "string"),
            (
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                "string",
            ),
            (DataType::Timestamp(TimeUnit::Nanosecond, None), "timestamp"),
            (
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                "timestamptz",
            ),
            (DataType::Decimal128(12, 2), "decimal(12,2)"),
            (DataType::Date32, "date"),
            (
                DataType::List(std::sync::Arc::new(Field::new("item", DataType::Int64, true))),
                "list",
            ),
        ];
        for (data_type, want) in cases {
            let got = logical_type(&data_type);
            assert_eq!(got, want, "{data_type}");
            assert!(is_logical_type(&got), "{got}");
        }
        assert!(!is_logical_type("varchar") && !is_logical_type("decimal(x,2)"));
        assert!(!is_logical_type("decimal(999,2)"), "precision beyond Arrow's");
    }

    #[test]
    fn contract_modes_nullability_and_drift() {
        let actual = [
            field("id", "int64", false),
            field("amount", "float64", true),
            field("note", "string", true),
        ];
        let contract = json!([{"name": "id", "type": "int64", "nullable": false}, {"name": "amount", "type": "decimal(12,2)"}, {"name": "day", "type": "date"}]);
        // (spec, declares nullability, problems)
        let cases: Vec<(Value, bool, Vec<&str>)> = vec![
            (
                json!({"columns": contract, "mode": "exact"}),
                true,
                vec![
                    "column \"amount\" is float64, expected decimal(12,2)",
                    "column \"day\" is missing",
                    "column \"note\" is not in the contract (exact mode)",
                ],
            ),
            (
                json!({"columns": contract, "mode": "superset"}),
                true,
                vec![
                    "column \"amount\" is float64, expected decimal(12,2)",
                    "column \"day\" is missing",
                ],
            ),
            (
                json!({"columns": contract, "mode": "subset"}),
                true,
                vec![
                    "column \"amount\" is float64, expected decimal(12,2)",
                    "column \"note\" is not in the contract (subset mode)",
                ],
            ),
            (
                json!({"columns": [{"name": "amount", "nullable": false}], "mode": "superset"}),
                true,
                vec!["column \"amount\" is nullable, expected required"],
            ),
            (
                json!({"columns": [{"name": "amount", "nullable": false}], "mode": "superset"}),
                false,
                vec![],
            ),
        ];
        for (spec, declares, want) in cases {
            let v = evaluate(&check(spec.clone()), &actual, None, declares);
            assert_eq!(v.problems, want, "{spec}");
        }

        let before = [
            field("id", "int32", false),
            field("amount", "float64", true),
            field("gone", "string", true),
        ];
        let previous = Previous {
            batch_id: "2026-11-29",
            fields: &before,
        };
        let drift = check(json!({"driftFrom": "previous"}));
        let v = evaluate(&drift, &actual, Some(previous), true);
        assert!(v.drift_compared);
        assert_eq!(
            v.problems,
            [
                "column \"note\" was added since batch 2026-11-29",
                "column \"gone\" was removed since batch 2026-11-29",
                "column \"id\" changed type from int32 to int64 since batch 2026-11-29",
            ]
        );
        assert_eq!(v.observed["drift"]["added"], json!(["note"]));
        let first = evaluate(&drift, &actual, None, true);
        assert!(!first.drift_compared && first.problems.is_empty());
    }
}
