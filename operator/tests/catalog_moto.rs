//! Issue 19: batches in the Glue Data Catalog through the real AWS SDK, with
//! moto's Glue behind it. The operator's `AwsCatalog` (the `ade_catalog`
//! calls `ade-stream` makes too) registers a partition with the table's
//! storage descriptor, a rerun updates the same partition instead of adding
//! one, a quarantined batch is removed, and a missing table or wrong keys say
//! what to fix.

use ade_catalog::{Catalog, ErrorKind, Partition, Registered};
use ade_moto::Moto;
use ade_operator::catalog::AwsCatalog;
use aws_sdk_glue::types::{Column, DatabaseInput, StorageDescriptor, TableInput};

async fn glue(moto: &Moto) -> aws_sdk_glue::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_glue::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    aws_sdk_glue::Client::new(&sdk)
}

fn column(name: &str, kind: &str) -> Column {
    Column::builder()
        .name(name)
        .r#type(kind)
        .build()
        .expect("a named column")
}

/// Database `lake`, table `orders` partitioned by `batch`, Parquet with two columns.
async fn create_table(client: &aws_sdk_glue::Client) {
    client
        .create_database()
        .database_input(DatabaseInput::builder().name("lake").build().expect("named"))
        .send()
        .await
        .expect("database");
    let storage = StorageDescriptor::builder()
        .columns(column("id", "bigint"))
        .columns(column("amount", "double"))
        .location("s3://lake/orders/")
        .input_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
        .output_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
        .build();
    client
        .create_table()
        .database_name("lake")
        .table_input(
            TableInput::builder()
                .name("orders")
                .partition_keys(column("batch", "string"))
                .storage_descriptor(storage)
                .build()
                .expect("named"),
        )
        .send()
        .await
        .expect("table");
}

fn batch(table: &str, id: &str, location: &str) -> Partition {
    Partition {
        region: "us-east-1".into(),
        database: "lake".into(),
        table: table.into(),
        values: [("batch".to_owned(), id.to_owned())].into(),
        location: location.into(),
    }
}

/// Every partition of `lake.orders`: values and location.
async fn partitions(client: &aws_sdk_glue::Client) -> Vec<(Vec<String>, String, usize)> {
    let answer = client
        .get_partitions()
        .database_name("lake")
        .table_name("orders")
        .send()
        .await
        .expect("partitions");
    answer
        .partitions
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let storage = p
                .storage_descriptor
                .unwrap_or_else(|| StorageDescriptor::builder().build());
            (
                p.values.unwrap_or_default(),
                storage.location.unwrap_or_default(),
                storage.columns.unwrap_or_default().len(),
            )
        })
        .collect()
}

#[tokio::test]
async fn batches_are_registered_once_updated_by_a_rerun_and_removed() {
    let moto = Moto::start();
    let client = glue(&moto).await;
    let catalog = AwsCatalog::with_static_credentials(Some(moto.endpoint()), "test", "test");

    let missing = catalog
        .register(&batch(
            "orders",
            "2026-11-25T13",
            "s3://lake/orders/batch=2026-11-25T13/",
        ))
        .await
        .expect_err("no table yet");
    assert_eq!(missing.kind, ErrorKind::TableNotFound, "{missing}");
    assert!(missing.message.contains("lake.orders"), "{missing}");
    assert_eq!(missing.kind.reason(), "CatalogTableNotFound");

    create_table(&client).await;
    let first = batch("orders", "2026-11-25T13", "s3://lake/orders/batch=2026-11-25T13/");
    assert_eq!(catalog.register(&first).await, Ok(Registered::Created));
    assert_eq!(
        partitions(&client).await,
        [(vec!["2026-11-25T13".to_owned()], first.location.clone(), 2)],
        "the batch's location with the table's columns"
    );

    // A retried call and a rerun land on the same partition.
    assert_eq!(catalog.register(&first).await, Ok(Registered::Updated));
    let moved = batch("orders", "2026-11-25T13", "s3://lake/orders/v2/batch=2026-11-25T13/");
    assert_eq!(catalog.register(&moved).await, Ok(Registered::Updated));
    assert_eq!(
        partitions(&client).await,
        [(vec!["2026-11-25T13".to_owned()], moved.location.clone(), 2)],
        "one partition, at the rerun's location"
    );

    let mut wrong = batch("orders", "2026-11-25T14", "s3://lake/orders/batch=2026-11-25T14/");
    wrong.values.insert("hour".into(), "14".into());
    let mismatch = catalog.register(&wrong).await.expect_err("no key hour");
    assert_eq!(mismatch.kind, ErrorKind::KeysMismatch, "{mismatch}");
    assert!(mismatch.message.contains("[batch]"), "{mismatch}");

    assert_eq!(catalog.remove(&first).await, Ok(true), "quarantined: taken out");
    assert!(partitions(&client).await.is_empty());
    assert_eq!(catalog.remove(&first).await, Ok(false), "nothing left to remove");
    assert_eq!(
        catalog.remove(&batch("missing", "x", "s3://lake/missing/")).await,
        Ok(false),
        "a missing table holds no partition"
    );
}
