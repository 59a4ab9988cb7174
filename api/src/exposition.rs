//! The two text formats ADE's `/metrics` endpoints speak. The metrics are
//! encoded as OpenMetrics (what Prometheus asks for first); a scraper that
//! does not list OpenMetrics in its `Accept` header (`promtool check
//! metrics`, curl, older agents) gets the classic Prometheus text format
//! 0.0.4, in which a counter's family is named with its `_total` suffix and
//! there is no `# EOF`.
//!
//! Pure.

use std::collections::BTreeSet;

/// Content type of OpenMetrics 1.0.0 text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Content type of the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content type to answer a scrape with, from its `Accept` header.
pub fn content_type(accept: Option<&str>) -> &'static str {
    let openmetrics = accept.is_some_and(|a| {
        a.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
    });
    if openmetrics { OPENMETRICS } else { PROMETHEUS_TEXT }
}

/// `openmetrics` (as `prometheus-client` encodes it) in the content type
/// chosen by [`content_type`].
pub fn render(openmetrics: String, content_type: &str) -> String {
    if content_type == OPENMETRICS {
        openmetrics
    } else {
        prometheus_text(&openmetrics)
    }
}

/// The answer to a scrape whose `Accept` header is `accept`, from the
/// OpenMetrics encoding of the metrics: status code, content type and body.
pub fn respond(accept: Option<&str>, encoded: Result<String, std::fmt::Error>) -> (u16, &'static str, String) {
    match encoded {
        Ok(text) => {
            let content_type = content_type(accept);
            (200, content_type, render(text, content_type))
        }
        Err(_) => (500, "text/plain", "metrics could not be encoded".to_owned()),
    }
}

/// OpenMetrics text as Prometheus text 0.0.4: counter families take their
/// samples' `_total` name, `unknown` becomes `untyped`, and the `# UNIT` and
/// `# EOF` lines, which 0.0.4 does not have, are left out.
fn prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let tail = if *prefix == "# TYPE " && tail == "unknown" {
                "untyped"
            } else {
                tail
            };
            let name = if counters.contains(&name) && !name.ends_with("_total") {
                format!("{name}_total")
            } else {
                name.to_owned()
            };
            Some(format!("{prefix}{name} {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The names of the samples in exposition `text` (`ade_leader`,
/// `ade_reconciliations_total`, `ade_run_duration_seconds_bucket`…).
pub fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_owned())
        .collect()
}

/// The families declared by a `# TYPE` line in `text` that have no sample:
/// a metric left out of an example encoding.
pub fn families_without_samples(text: &str) -> Vec<String> {
    let samples = sample_names(text);
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .filter(|family| {
            !["", "_total", "_bucket", "_sum", "_count", "_created", "_info"]
                .iter()
                .any(|suffix| samples.contains(&format!("{family}{suffix}")))
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENMETRICS_TEXT: &str = "# HELP ade_reconciliations Reconciliations started.\n\
        # TYPE ade_reconciliations counter\n\
        ade_reconciliations_total{controller=\"etl-job\"} 1\n\
        # HELP ade_leader 1 while this replica holds the leader Lease.\n\
        # TYPE ade_leader gauge\n\
        ade_leader 1\n\
        # HELP ade_odd Something.\n\
        # TYPE ade_odd unknown\n\
        # UNIT ade_odd seconds\n\
        ade_odd 2\n\
        # EOF\n";

    #[test]
    fn counters_take_their_total_name_and_eof_goes() {
        let text = render(OPENMETRICS_TEXT.to_owned(), PROMETHEUS_TEXT);
        assert_eq!(
            text,
            "# HELP ade_reconciliations_total Reconciliations started.\n\
             # TYPE ade_reconciliations_total counter\n\
             ade_reconciliations_total{controller=\"etl-job\"} 1\n\
             # HELP ade_leader 1 while this replica holds the leader Lease.\n\
             # TYPE ade_leader gauge\n\
             ade_leader 1\n\
             # HELP ade_odd Something.\n\
             # TYPE ade_odd untyped\n\
             ade_odd 2\n"
        );
    }

    #[test]
    fn sample_names_and_families_left_empty() {
        let names: Vec<String> = sample_names(OPENMETRICS_TEXT).into_iter().collect();
        assert_eq!(names, ["ade_leader", "ade_odd", "ade_reconciliations_total"]);
        let empty = "# TYPE ade_a gauge\nade_a 1\n# TYPE ade_b counter\n# TYPE ade_a_rate gauge\n# EOF\n";
        assert_eq!(families_without_samples(empty), ["ade_b", "ade_a_rate"]);
        let prefixed = "# TYPE ade_x gauge\n# TYPE ade_x_per_second gauge\nade_x_per_second 1\n";
        assert_eq!(
            families_without_samples(prefixed),
            ["ade_x"],
            "not hidden by a longer name"
        );
    }

    #[test]
    fn openmetrics_is_left_as_encoded() {
        assert_eq!(render(OPENMETRICS_TEXT.to_owned(), OPENMETRICS), OPENMETRICS_TEXT);
    }

    #[test]
    fn negotiation_follows_the_accept_header() {
        // What Prometheus 3 sends.
        let prometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                          application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;\
                          escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(content_type(Some(prometheus)), OPENMETRICS);
        assert_eq!(content_type(Some("*/*")), PROMETHEUS_TEXT);
        assert_eq!(content_type(None), PROMETHEUS_TEXT);
        assert_eq!(content_type(Some("application/openmetrics-text; q=0")), PROMETHEUS_TEXT);
        let (code, ct, body) = respond(None, Ok(OPENMETRICS_TEXT.to_owned()));
        assert_eq!((code, ct), (200, PROMETHEUS_TEXT));
        assert!(!body.contains("# EOF"), "{body}");
        assert_eq!(respond(None, Err(std::fmt::Error)).0, 500);
    }
}
