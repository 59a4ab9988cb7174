//! Object bodies (pure): Parquet or JSON lines for data, JSON lines for dead
//! letters.
//!
//! Parquet schema, inferred per object from its records: three columns the
//! consumer adds — `_ade_shard_id` (string), `_ade_sequence_number`
//! (string), `_ade_arrival_time` (timestamp ms, UTC) — then one nullable
//! column per top-level field, sorted by name, typed by the values seen:
//! all booleans → boolean; all integers → int64; integers and floats →
//! float64; all strings → string; anything else (objects, arrays, mixed
//! types) → string holding the value's JSON text. Absent and null are null.

use std::{collections::BTreeMap, sync::Arc};

use arrow::{
    array::{
        ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMillisecondArray,
    },
    datatypes::{DataType, Field, Schema, TimeUnit},
};
use parquet::{
    arrow::ArrowWriter,
    basic::{Compression, ZstdLevel},
    file::properties::WriterProperties,
};
use serde_json::{Value, json};

use super::{DataRecord, DeadLetter};

/// An object body could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("encoding an object: {0}")]
pub struct EncodeError(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Json,
}

fn ty_of(v: &Value) -> Ty {
    match v {
        Value::Null => Ty::Null,
        Value::Bool(_) => Ty::Bool,
        Value::Number(n) if n.is_i64() => Ty::Int,
        Value::Number(_) => Ty::Float,
        Value::String(_) => Ty::Str,
        Value::Array(_) | Value::Object(_) => Ty::Json,
    }
}

fn merge(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (Ty::Null, x) | (x, Ty::Null) => x,
        (x, y) if x == y => x,
        (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
        _ => Ty::Json,
    }
}

/// Column types of `records` (see the module docs).
fn infer(records: &[&DataRecord]) -> BTreeMap<String, Ty> {
    let mut types: BTreeMap<String, Ty> = BTreeMap::new();
    for r in records {
        for (k, v) in &r.fields {
            match types.get_mut(k.as_str()) {
                Some(t) => *t = merge(*t, ty_of(v)),
                None => {
                    types.insert(k.clone(), ty_of(v));
                }
            }
        }
    }
    types
}

fn column(records: &[&DataRecord], name: &str, ty: Ty) -> (DataType, ArrayRef) {
    let values = records.iter().map(|r| r.fields.get(name).filter(|v| !v.is_null()));
    match ty {
        Ty::Bool => {
            let mut b = BooleanBuilder::with_capacity(records.len());
            values.for_each(|v| b.append_option(v.and_then(Value::as_bool)));
            (DataType::Boolean, Arc::new(b.finish()))
        }
        Ty::Int => {
            let mut b = Int64Builder::with_capacity(records.len());
            values.for_each(|v| b.append_option(v.and_then(Value::as_i64)));
            (DataType::Int64, Arc::new(b.finish()))
        }
        Ty::Float => {
            let mut b = Float64Builder::with_capacity(records.len());
            values.for_each(|v| b.append_option(v.and_then(Value::as_f64)));
            (DataType::Float64, Arc::new(b.finish()))
        }
        Ty::Str => {
            let mut b = StringBuilder::with_capacity(records.len(), records.len() * 16);
            values.for_each(|v| b.append_option(v.and_then(Value::as_str)));
            (DataType::Utf8, Arc::new(b.finish()))
        }
        Ty::Null | Ty::Json => {
            let mut b = StringBuilder::with_capacity(records.len(), records.len() * 16);
            values.for_each(|v| b.append_option(v.map(Value::to_string)));
            (DataType::Utf8, Arc::new(b.finish()))
        }
    }
}

/// The Arrow batch of `records` (see the module docs for the schema).
pub fn record_batch(shard: &str, records: &[&DataRecord]) -> Result<RecordBatch, EncodeError> {
    let utc: Arc<str> = Arc::from("UTC");
    let mut fields = vec![
        Field::new("_ade_shard_id", DataType::Utf8, false),
        Field::new("_ade_sequence_number", DataType::Utf8, false),
        Field::new(
            "_ade_arrival_time",
            DataType::Timestamp(TimeUnit::Millisecond, Some(utc.clone())),
            false,
        ),
    ];
    let mut shard_col = StringBuilder::with_capacity(records.len(), records.len() * shard.len());
    let mut seq_col = StringBuilder::with_capacity(records.len(), records.len() * 56);
    for r in records {
        shard_col.append_value(shard);
        seq_col.append_value(&r.sequence);
    }
    let arrival = TimestampMillisecondArray::from_iter_values(records.iter().map(|r| r.arrival_ms)).with_timezone(utc);
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(shard_col.finish()),
        Arc::new(seq_col.finish()),
        Arc::new(arrival),
    ];
    for (name, ty) in infer(records) {
        let (data_type, array) = column(records, &name, ty);
        fields.push(Field::new(name, data_type, true));
        columns.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| EncodeError(e.to_string()))
}

/// Parquet bytes (zstd level 1) of `records`.
pub fn parquet(shard: &str, records: &[&DataRecord]) -> Result<Vec<u8>, EncodeError> {
    let batch = record_batch(shard, records)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).map_err(|e| EncodeError(e.to_string()))?,
        ))
        .build();
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).map_err(|e| EncodeError(e.to_string()))?;
    writer.write(&batch).map_err(|e| EncodeError(e.to_string()))?;
    writer.close().map_err(|e| EncodeError(e.to_string()))?;
    Ok(out)
}

fn arrival_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// JSON lines of `records`: each object with the three `_ade_` fields added
/// (keys are written sorted).
pub fn json_lines(shard: &str, records: &[&DataRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let mut object = serde_json::Map::with_capacity(r.fields.len() + 3);
        object.insert("_ade_shard_id".into(), shard.into());
        object.insert("_ade_sequence_number".into(), r.sequence.clone().into());
        object.insert("_ade_arrival_time".into(), arrival_text(r.arrival_ms).into());
        object.extend(r.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        // A map of JSON values always serialises.
        out.extend(serde_json::to_vec(&Value::Object(object)).unwrap_or_default());
        out.push(b'\n');
    }
    out
}

/// JSON lines of dead letters: shard, sequence number, arrival time, reason,
/// payload digest (and whether it is keyed) and length; never the payload.
pub fn dead_letters(shard: &str, letters: &[&DeadLetter]) -> Vec<u8> {
    let mut out = Vec::new();
    for d in letters {
        let line = json!({
            "shardId": shard,
            "sequenceNumber": d.sequence,
            "arrivalTime": arrival_text(d.arrival_ms),
            "reason": d.reason,
            "payloadDigest": d.payload_digest,
            "digestKeyed": d.digest_keyed,
            "payloadLength": d.payload_length,
        });
        out.extend(serde_json::to_vec(&line).unwrap_or_default());
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    fn rec(seq: &str, fields: Value) -> DataRecord {
        DataRecord {
            sequence: seq.into(),
            arrival_ms: 1_795_600_000_000,
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn infers_types_and_round_trips_through_parquet() {
        let records = [
            rec(
                "1",
                json!({"id": 1, "amount": 2, "ok": true, "name": "a", "tags": ["x"], "mixed": 1}),
            ),
            rec(
                "2",
                json!({"id": 2, "amount": 2.5, "ok": null, "mixed": "s", "late": "z"}),
            ),
        ];
        let refs: Vec<&DataRecord> = records.iter().collect();
        let bytes = parquet("shardId-1", &refs).expect("parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .expect("reader")
            .build()
            .expect("build");
        let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
        let batch = &batches[0];
        let schema = batch.schema();
        let types: Vec<(&str, &DataType)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type()))
            .collect();
        assert_eq!(
            types[3..].iter().map(|t| t.0).collect::<Vec<_>>(),
            ["amount", "id", "late", "mixed", "name", "ok", "tags"]
        );
        assert_eq!(types[3].1, &DataType::Float64);
        assert_eq!(types[4].1, &DataType::Int64);
        assert_eq!(types[6].1, &DataType::Utf8);
        assert_eq!(types[8].1, &DataType::Boolean);
        let mixed = batch.column(6).as_string::<i32>();
        assert_eq!((mixed.value(0), mixed.value(1)), ("1", "\"s\""));
        let late = batch.column(5);
        assert!(late.is_null(0) && !late.is_null(1));
        assert_eq!(batch.column(1).as_string::<i32>().value(1), "2");
    }

    #[test]
    fn json_lines_and_dead_letters() {
        let records = [rec("7", json!({"a": 1}))];
        let refs: Vec<&DataRecord> = records.iter().collect();
        let text = String::from_utf8(json_lines("s", &refs)).expect("utf8");
        let line: Value = serde_json::from_str(text.trim()).expect("json");
        assert_eq!(line["_ade_sequence_number"], "7");
        assert_eq!(line["a"], 1);
        let d = DeadLetter {
            sequence: "8".into(),
            arrival_ms: 0,
            reason: "not JSON".into(),
            payload_digest: "ab".into(),
            digest_keyed: true,
            payload_length: 3,
        };
        let text = String::from_utf8(dead_letters("s", &[&d])).expect("utf8");
        let line: Value = serde_json::from_str(text.trim()).expect("json");
        assert_eq!(line["payloadLength"], 3);
        assert_eq!(line["reason"], "not JSON");
    }
}
