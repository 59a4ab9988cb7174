//! Against moto on 127.0.0.1: the dataset, results and history on S3, and an SNS
//! alert delivered to an HTTP subscriber.

mod support;

use ade_moto::Moto;
use ade_validator::store::{Location, StoreConfig};
use serde_json::{Value, json};
use support::{HttpRecorder, ade_validate, orders_batch};

#[test]
fn s3_dataset_results_history_and_sns_alert() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let recorder = HttpRecorder::start("{}");
    let topic_arn = rt.block_on(async {
        let http = reqwest::Client::new();
        for bucket in ["lake", "quality"] {
            let r = http.put(format!("{endpoint}/{bucket}")).send().await.unwrap();
            assert!(r.status().is_success(), "create bucket {bucket}: {}", r.status());
        }
        // The dataset: two files in a partition folder.
        let mut bytes = Vec::new();
        let batch = orders_batch(500);
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let lake = s3(&endpoint, "lake");
        for part in ["part-0.parquet", "part-1.parquet"] {
            at(&lake, &format!("orders/batch=b1/{part}"))
                .put(bytes.clone())
                .await
                .unwrap();
        }
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let topic = sns
            .create_topic()
            .name("quality")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("http")
            .endpoint(format!("{}/sns", recorder.url))
            .send()
            .await
            .unwrap();
        topic
    });
    let spec = json!({
        "dataset": {"uri": "s3://lake/orders/batch={{batch.id}}/", "format": "parquet"},
        "trigger": {"after": {"etlJobRef": {"name": "orders"}}},
        "checks": [
            {"name": "has-rows", "rowCount": {"min": 1}},
            {"name": "status-known", "column": "status", "inSet": {"values": ["new", "paid", "shipped"]}}
        ],
        "publish": {"s3": {"uri": "s3://quality/results/"}},
        "alerts": {"sns": {"topicArn": topic_arn}, "notifyOn": "failure"}
    });
    let (code, stdout, stderr) = ade_validate(
        &[
            "--suite-spec",
            &spec.to_string(),
            "--suite-name",
            "orders",
            "--batch-id",
            "b1",
            "--dataset",
            "s3://lake/orders/batch=b1/",
            "--history",
            "s3://quality/history",
            "--s3-endpoint",
            &endpoint,
        ],
        &env,
    );
    assert_eq!(code, 1, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["profile"]["rowCount"], 1000);
    assert_eq!(doc["dataset"]["files"], 2);
    assert_eq!(
        doc["published"]["resultsUri"],
        "s3://quality/results/suite=orders/batch=b1/result.json"
    );
    assert_eq!(doc["published"]["alerts"], json!(["sns"]));
    rt.block_on(async {
        let quality = s3(&endpoint, "quality");
        let stored = at(&quality, "results/suite=orders/batch=b1/result.json")
            .get()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&stored).unwrap(), doc);
        let record = at(&quality, "history/suite=orders/batch=b1/metrics.json")
            .get()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&record).unwrap()["outcome"], "failed");
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let notification = loop {
        let found = recorder
            .requests
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.body.contains("\"Notification\""))
            .cloned();
        if let Some(r) = found {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no SNS notification reached the subscriber"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let body: Value = serde_json::from_str(&notification.body).unwrap();
    let message: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
    assert_eq!(
        (message["suite"].clone(), message["outcome"].clone()),
        (json!("orders"), json!("failed"))
    );
    assert!(body["Subject"].as_str().unwrap().contains("FAILED"));
}

/// An S3 client for the test itself, with explicit static credentials.
fn s3(endpoint: &str, bucket: &str) -> Location {
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .build()
        .expect("S3 client");
    let mut loc = Location::parse(&format!("s3://{bucket}/x"), &StoreConfig::default()).expect("location");
    loc.store = std::sync::Arc::new(store);
    loc
}

fn at(loc: &Location, key: &str) -> Location {
    Location {
        path: object_store::path::Path::from(key),
        uri: key.to_owned(),
        ..loc.clone()
    }
}
