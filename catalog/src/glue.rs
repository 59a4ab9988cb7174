//! The Glue calls behind [`crate::register`] and [`crate::remove`]. The SDK's
//! types stay in this module.

use aws_sdk_glue::{
    Client,
    error::{DisplayErrorContext, ProvideErrorMetadata},
    types::{PartitionInput, StorageDescriptor},
};

use crate::{CatalogError, ErrorKind, Partition, Registered, ordered_values};

/// See [`crate::register`].
pub(crate) async fn register(client: &Client, p: &Partition) -> Result<Registered, CatalogError> {
    let Some((keys, storage)) = table(client, p).await? else {
        return Err(missing(p, None));
    };
    let values = ordered_values(&p.table_name(), &keys, &p.values)?;
    let input = partition_input(storage, values.clone(), &p.location);
    let created = client
        .batch_create_partition()
        .database_name(&p.database)
        .table_name(&p.table)
        .partition_input_list(input.clone())
        .send()
        .await
        .map_err(|e| failed(&e, "registering a partition of", p))?;
    let Some(refused) = created.errors.unwrap_or_default().into_iter().next() else {
        return Ok(Registered::Created);
    };
    let detail = refused
        .error_detail
        .unwrap_or_else(|| aws_sdk_glue::types::ErrorDetail::builder().build());
    if detail.error_code.as_deref() != Some("AlreadyExistsException") {
        return Err(classify(
            detail.error_code.as_deref(),
            detail.error_message.as_deref(),
            "no detail",
            "registering a partition of",
            p,
        ));
    }
    client
        .update_partition()
        .database_name(&p.database)
        .table_name(&p.table)
        .set_partition_value_list(Some(values))
        .partition_input(input)
        .send()
        .await
        .map_err(|e| failed(&e, "updating a partition of", p))?;
    Ok(Registered::Updated)
}

/// See [`crate::remove`]. A missing table has no partition to remove.
pub(crate) async fn remove(client: &Client, p: &Partition) -> Result<bool, CatalogError> {
    let Some((keys, _)) = table(client, p).await? else {
        return Ok(false);
    };
    let values = ordered_values(&p.table_name(), &keys, &p.values)?;
    match client
        .delete_partition()
        .database_name(&p.database)
        .table_name(&p.table)
        .set_partition_values(Some(values))
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("EntityNotFoundException") => Ok(false),
        Err(e) => Err(failed(&e, "removing a partition of", p)),
    }
}

/// The table's partition key names and storage descriptor; None when the
/// database or the table does not exist.
async fn table(
    client: &Client,
    p: &Partition,
) -> Result<Option<(Vec<String>, Option<StorageDescriptor>)>, CatalogError> {
    let answer = match client
        .get_table()
        .database_name(&p.database)
        .name(&p.table)
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(e) if e.code() == Some("EntityNotFoundException") => return Ok(None),
        Err(e) => return Err(failed(&e, "reading", p)),
    };
    Ok(answer.table.map(|t| {
        let keys = t
            .partition_keys
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name)
            .collect();
        (keys, t.storage_descriptor)
    }))
}

/// The partition's input: the table's storage descriptor (columns, formats,
/// SerDe) at the partition's own location.
fn partition_input(table: Option<StorageDescriptor>, values: Vec<String>, location: &str) -> PartitionInput {
    let mut storage = table.unwrap_or_else(|| StorageDescriptor::builder().build());
    storage.location = Some(location.to_owned());
    PartitionInput::builder()
        .set_values(Some(values))
        .storage_descriptor(storage)
        .build()
}

fn missing(p: &Partition, said: Option<&str>) -> CatalogError {
    let said = said.map(|s| format!(" (AWS answered {s})")).unwrap_or_default();
    CatalogError {
        kind: ErrorKind::TableNotFound,
        message: format!(
            "the Glue table {} does not exist in {}{said}: create the database and the table, or name existing ones in catalog.database and catalog.table",
            p.table_name(),
            p.region
        ),
    }
}

fn failed<E>(e: &E, doing: &str, p: &Partition) -> CatalogError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(e.code(), e.message(), DisplayErrorContext(e), doing, p)
}

fn classify(
    code: Option<&str>,
    message: Option<&str>,
    context: impl std::fmt::Display,
    doing: &str,
    p: &Partition,
) -> CatalogError {
    let said = match (code, message) {
        (Some(code), Some(message)) => format!("AWS answered {code}: {message}"),
        (Some(code), None) => format!("AWS answered {code}"),
        _ => format!("AWS could not be reached: {context}"),
    };
    let kind = match code {
        Some("EntityNotFoundException") => return missing(p, Some(&said)),
        Some("AccessDeniedException") => ErrorKind::AccessDenied,
        _ => ErrorKind::Transient,
    };
    CatalogError {
        kind,
        message: format!("{doing} the Glue table {} in {}: {said}", p.table_name(), p.region),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_takes_the_tables_storage_at_its_own_location() {
        let table = StorageDescriptor::builder()
            .location("s3://lake/orders/")
            .input_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
            .columns(
                aws_sdk_glue::types::Column::builder()
                    .name("id")
                    .r#type("bigint")
                    .build()
                    .expect("named"),
            )
            .build();
        let input = partition_input(
            Some(table),
            vec!["2026-11-25T13".into()],
            "s3://lake/orders/batch=2026-11-25T13/",
        );
        let storage = input.storage_descriptor.expect("storage");
        assert_eq!(
            storage.location.as_deref(),
            Some("s3://lake/orders/batch=2026-11-25T13/")
        );
        assert_eq!(storage.columns.unwrap_or_default().len(), 1, "the table's columns");
        assert!(storage.input_format.is_some(), "the table's format");
        assert_eq!(input.values.unwrap_or_default(), ["2026-11-25T13"]);
        let bare = partition_input(None, vec!["x".into()], "s3://lake/x/");
        assert_eq!(
            bare.storage_descriptor.and_then(|s| s.location).as_deref(),
            Some("s3://lake/x/")
        );
    }

    #[test]
    fn errors_say_what_to_fix_and_whether_to_retry() {
        let p = Partition {
            region: "eu-west-1".into(),
            database: "lake".into(),
            table: "orders".into(),
            values: Default::default(),
            location: "s3://lake/orders/".into(),
        };
        let e = classify(
            Some("EntityNotFoundException"),
            Some("Table orders not found"),
            "",
            "reading",
            &p,
        );
        assert_eq!(e.kind, ErrorKind::TableNotFound);
        assert!(
            e.message.contains("lake.orders does not exist in eu-west-1"),
            "{}",
            e.message
        );
        let e = classify(Some("AccessDeniedException"), None, "", "reading", &p);
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        let e = classify(None, None, "connection refused", "reading", &p);
        assert!(e.kind.is_transient());
        assert!(
            e.message.contains("could not be reached: connection refused"),
            "{}",
            e.message
        );
    }
}
