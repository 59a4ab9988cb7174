//! The AWS emulator of the e2e suite is `ade_moto::Moto` (tools/moto). Tests
//! reach it through the real AWS clients: the operator's and `ade-validate`'s
//! Rust SDKs, and boto3 from moto's own virtualenv for the test's own S3 setup
//! and assertions ([`S3`]).

use std::process::Command;

pub use ade_moto::{InterruptionEvent, Moto};

/// S3 through boto3 from moto's virtualenv, for a test's own setup and checks.
pub trait S3 {
    /// Runs a Python `script` with boto3 against this server (`s3` is a ready
    /// client); returns its stdout, panicking with its stderr on failure.
    fn boto3(&self, script: &str) -> String;

    /// Creates `bucket` (if needed) and puts `objects` (key, body) in it.
    fn put(&self, bucket: &str, objects: &[(&str, &str)]) {
        let objects = serde_json::to_string(objects).expect("objects as JSON");
        self.boto3(&format!(
            "try:\n    s3.create_bucket(Bucket={bucket:?})\nexcept s3.exceptions.BucketAlreadyOwnedByYou:\n    pass\n\
             for key, body in json.loads({objects:?}):\n    s3.put_object(Bucket={bucket:?}, Key=key, Body=body.encode())\n"
        ));
    }

    /// The keys under `prefix` in `bucket`.
    fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self.boto3(&format!(
            "r = s3.list_objects_v2(Bucket={bucket:?}, Prefix={prefix:?})\nprint(json.dumps([o['Key'] for o in r.get('Contents', [])]))\n"
        ));
        serde_json::from_str(out.trim()).expect("a JSON list of keys")
    }

    /// The body of `key` in `bucket`.
    fn get(&self, bucket: &str, key: &str) -> String {
        self.boto3(&format!(
            "sys.stdout.write(s3.get_object(Bucket={bucket:?}, Key={key:?})['Body'].read().decode())\n"
        ))
    }
}

/// The Glue Data Catalog through boto3, for a test's own setup and checks.
pub trait Glue: S3 {
    /// Creates database `database` (unless it exists) and table `table` in
    /// it, partitioned by the string columns `keys`, Parquet under `location`.
    fn create_glue_table(&self, database: &str, table: &str, keys: &[&str], location: &str) {
        let keys = serde_json::to_string(keys).expect("keys as JSON");
        self.boto3(&format!(
            "glue = boto3.client('glue')\ntry:\n    glue.create_database(DatabaseInput={{'Name': {database:?}}})\n\
             except glue.exceptions.AlreadyExistsException:\n    pass\n\
             glue.create_table(DatabaseName={database:?}, TableInput={{'Name': {table:?}, \
             'PartitionKeys': [{{'Name': k, 'Type': 'string'}} for k in json.loads({keys:?})], \
             'StorageDescriptor': {{'Location': {location:?}, 'Columns': [{{'Name': 'id', 'Type': 'bigint'}}], \
             'InputFormat': 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'}}}})\n"
        ));
    }

    /// Every partition of `database.table` as `GetPartitions` lists it:
    /// values (in key order) and location, sorted.
    fn glue_partitions(&self, database: &str, table: &str) -> Vec<(Vec<String>, String)> {
        let out = self.boto3(&format!(
            "glue = boto3.client('glue')\n\
             r = glue.get_partitions(DatabaseName={database:?}, TableName={table:?})\n\
             print(json.dumps(sorted([[p['Values'], p['StorageDescriptor'].get('Location', '')] for p in r['Partitions']])))\n"
        ));
        serde_json::from_str(out.trim()).expect("a JSON list of partitions")
    }
}

impl Glue for Moto {}

impl S3 for Moto {
    fn boto3(&self, script: &str) -> String {
        let prelude = "import boto3, json, sys\ns3 = boto3.client('s3')\n";
        let out = Command::new(Moto::python(self))
            .args(["-c", &format!("{prelude}{script}")])
            .envs(self.env())
            .output()
            .expect("running python from moto's virtualenv");
        assert!(
            out.status.success(),
            "python against moto failed:\n{}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
