//! What the schema cannot check in an EtlJob: cron syntax, the time zone, the
//! window size and the template variables used by the task.
//!
//! Pure.

use crate::{
    api::v1alpha1::{ClusterPool, DATASET_TEMPLATE_VARIABLES, EtlJobSpec, Provider, TASK_TEMPLATE_VARIABLES, Task},
    controllers::status::Problem,
    providers::task_kind,
    schedule::{self, Cadence},
    template,
};

/// The cadence of a job: its schedule, time zone and window.
pub fn cadence_of(spec: &EtlJobSpec) -> Result<Cadence, String> {
    let cron = spec
        .schedule
        .as_deref()
        .map(str::parse::<schedule::Cron>)
        .transpose()
        .map_err(|e| format!("spec.schedule: {e}"))?;
    let tz = schedule::time_zone(&spec.time_zone)?;
    let (size, delay) = match &spec.window {
        Some(w) => (
            Some(w.size.to_std().map_err(|e| e.to_string())?),
            w.delay.to_std().map_err(|e| e.to_string())?,
        ),
        None => (None, std::time::Duration::ZERO),
    };
    Ok(Cadence::new(cron, tz, size, delay))
}

/// Every problem with `spec` on `pool` (when the pool is known), in spec order.
pub fn problems_with_pool(spec: &EtlJobSpec, pool: Option<&ClusterPool>) -> Vec<Problem> {
    let mut out = problems(spec);
    if spec.backfill.is_some() && spec.schedule.is_none() && spec.window.is_none() {
        out.push(Problem::new(
            "InvalidBackfill",
            "spec.backfill: a backfill needs the shape of a batch: set spec.schedule or spec.window.size",
        ));
    }
    if let Some(pool) = pool
        && matches!(pool.spec.provider, Provider::Kubernetes | Provider::Eks)
        && matches!(task_kind(&spec.task), "hive" | "trino")
    {
        out.push(Problem::new(
            "TaskNotSupported",
            format!(
                "spec.task: a {} task needs an emr pool; ClusterPool {} runs Kubernetes Jobs (use a container or sparkSubmit task)",
                task_kind(&spec.task),
                spec.pool_ref.name
            ),
        ));
    }
    out
}

/// Every problem with `spec` alone, in spec order.
pub fn problems(spec: &EtlJobSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(expr) = &spec.schedule
        && let Err(e) = expr.parse::<schedule::Cron>()
    {
        out.push(Problem::new("InvalidSchedule", format!("spec.schedule: {e}")));
    }
    if let Err(e) = schedule::time_zone(&spec.time_zone) {
        out.push(Problem::new("InvalidTimeZone", format!("spec.timeZone: {e}")));
    }
    if let Some(window) = &spec.window
        && !window.size.to_std().is_ok_and(|d| !d.is_zero())
    {
        out.push(Problem::new(
            "InvalidWindow",
            format!("spec.window.size: {:?} must be longer than zero", window.size.0),
        ));
    }
    for (field, text) in template_fields(&spec.task) {
        if let Err(e) = template::check(&field, text, TASK_TEMPLATE_VARIABLES) {
            out.push(Problem::new("InvalidTemplate", e.to_string()));
        }
    }
    for (field, text) in output_fields(spec) {
        if let Err(e) = template::check(&field, text, DATASET_TEMPLATE_VARIABLES) {
            out.push(Problem::new("InvalidTemplate", e.to_string()));
        }
    }
    out
}

/// The outputs' URIs and catalog partition values, with their paths in the spec.
fn output_fields(spec: &EtlJobSpec) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    for (i, output) in spec.outputs.iter().enumerate() {
        out.push((format!("spec.outputs[{i}].uri"), &output.uri));
        out.extend(
            output
                .catalog
                .iter()
                .flat_map(|c| &c.partition)
                .map(|(k, v)| (format!("spec.outputs[{i}].catalog.partition.{k}"), v.as_str())),
        );
    }
    out
}

/// Every task field that may hold template variables, with its path in the spec.
pub fn template_fields(task: &Task) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    let base = "spec.task";
    if let Some(spark) = &task.spark_submit {
        out.push((
            format!("{base}.sparkSubmit.mainApplicationFile"),
            &spark.main_application_file,
        ));
        out.extend(
            spark
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("{base}.sparkSubmit.args[{i}]"), a.as_str())),
        );
        out.extend(
            spark
                .conf
                .iter()
                .map(|(k, v)| (format!("{base}.sparkSubmit.conf[{k}]"), v.as_str())),
        );
    }
    if let Some(hive) = &task.hive {
        out.push((format!("{base}.hive.script"), &hive.script));
        out.extend(
            hive.variables
                .iter()
                .map(|(k, v)| (format!("{base}.hive.variables[{k}]"), v.as_str())),
        );
    }
    if let Some(trino) = &task.trino {
        out.push((format!("{base}.trino.query"), &trino.query));
    }
    if let Some(container) = &task.container {
        out.extend(
            container
                .command
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("{base}.container.command[{i}]"), a.as_str())),
        );
        out.extend(
            container
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("{base}.container.args[{i}]"), a.as_str())),
        );
        out.extend(container.env.iter().filter_map(|e| {
            e.value
                .as_deref()
                .map(|v| (format!("{base}.container.env[{}]", e.name), v))
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> EtlJobSpec {
        serde_saphyr::from_str(yaml).expect("valid spec yaml")
    }

    const BASE: &str = "poolRef: {name: p}\ntask: {container: {image: busybox, args: ['--batch={{batch.id}}']}}\n";

    #[test]
    fn valid_specs_have_no_problems() {
        assert_eq!(problems(&spec(BASE)), []);
        assert_eq!(
            problems(&spec(&format!(
                "{BASE}schedule: '0 * * * *'\ntimeZone: Europe/Berlin\nwindow: {{size: 1h}}\n"
            ))),
            []
        );
        assert_eq!(
            problems(&spec(&format!(
                "{BASE}outputs: [{{name: orders, uri: 's3://lake/orders/batch={{{{batch.id}}}}/', catalog: {{database: lake, table: orders, partition: {{batch: '{{{{batch.id}}}}'}}}}}}]\n"
            ))),
            []
        );
    }

    #[test]
    fn each_problem_has_its_reason_and_names_the_field() {
        let cases = [
            ("schedule: '0 * * *'\n", "InvalidSchedule", "spec.schedule"),
            ("schedule: '0 25 * * *'\n", "InvalidSchedule", "hour field"),
            ("timeZone: Mars/Olympus\n", "InvalidTimeZone", "Mars/Olympus"),
            ("window: {size: 0s}\n", "InvalidWindow", "spec.window.size"),
            (
                "outputs: [{name: orders, uri: 's3://lake/orders/hour={{run.attempt}}/'}]\n",
                "InvalidTemplate",
                "spec.outputs[0].uri: unknown template variable {{run.attempt}}",
            ),
            (
                "outputs: [{name: orders, uri: 's3://lake/o/', catalog: {database: lake, table: orders, partition: {batch: '{{date}}'}}}]\n",
                "InvalidTemplate",
                "spec.outputs[0].catalog.partition.batch",
            ),
        ];
        for (extra, reason, text) in cases {
            let got = problems(&spec(&format!("{BASE}{extra}")));
            assert_eq!(got.len(), 1, "{extra}: {got:?}");
            assert_eq!(got[0].reason, reason, "{extra}");
            assert!(got[0].message.contains(text), "{extra}: {}", got[0].message);
        }
    }

    #[test]
    fn unknown_template_variables_are_reported_per_field() {
        let got = problems(&spec(
            "poolRef: {name: p}\ntask: {container: {image: x, args: ['{{batch.id}}', '{{batch.day}}'], env: [{name: OUT, value: 's3://b/{{job}}'}]}}\n",
        ));
        let messages: Vec<_> = got.iter().map(|p| (p.reason, p.message.as_str())).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0]
                .1
                .starts_with("spec.task.container.args[1]: unknown template variable {{batch.day}}"),
            "{messages:?}"
        );
        assert!(
            messages[1].1.starts_with("spec.task.container.env[OUT]"),
            "{messages:?}"
        );
    }
}
