//! `cost-sim`: what a day of workload costs on an ADE pool and on the
//! baselines, which pool settings are cheapest, and a synthetic spot price
//! trace to try it with. See docs/cost.md.

use std::{path::PathBuf, time::Instant};

use ade_cost_sim::{chart, compare, prices, recommend, scenario::Scenario, splice, summary};
use ade_operator::{api::v1alpha1::Duration as SpecDuration, config};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cost-sim",
    about = "A day of workload through ADE's own emr planner, breaker and pricing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The pool as configured against the baselines: a Markdown table, and a chart.
    Run {
        /// The scenario (YAML).
        scenario: PathBuf,
        /// Write the day's chart (SVG) here.
        #[arg(long)]
        chart: Option<PathBuf>,
        /// Replace the block between `<!-- cost-sim: NAME -->` and `<!-- cost-sim: end NAME -->` (NAME: the scenario's file name) of this Markdown file with the summary.
        #[arg(long)]
        update: Option<PathBuf>,
    },
    /// The cheapest idleTimeout, maxRunsPerCluster and minClusters whose p95 wait stays within a bound.
    Recommend {
        /// The scenario (YAML), with one pool.
        scenario: PathBuf,
        /// The longest acceptable p95 wait from ready to running, e.g. 10m.
        #[arg(long)]
        max_p95_wait: String,
        /// How many of the cheapest settings to list.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Replace the block `<!-- cost-sim: recommend NAME -->` … `<!-- cost-sim: end recommend NAME -->` of this Markdown file.
        #[arg(long)]
        update: Option<PathBuf>,
    },
    /// Writes a SYNTHETIC spot price trace (CSV) to stdout, shaped like published spot history.
    SynthPrices {
        /// Instance types, comma-separated.
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
        /// Availability zone.
        #[arg(long)]
        zone: String,
        /// First instant, RFC 3339.
        #[arg(long)]
        from: jiff::Timestamp,
        /// Hours covered.
        #[arg(long, default_value_t = 48)]
        hours: i64,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cost-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run {
            scenario,
            chart: path,
            update,
        } => {
            let started = Instant::now();
            let loaded = Scenario::load(&scenario)?;
            let outcomes = compare(&loaded)?;
            let took = started.elapsed();
            let text = summary(&scenario, &loaded, &outcomes);
            print!("{text}");
            if let Some(path) = path {
                std::fs::write(
                    &path,
                    chart::svg(&chart::title(&scenario), loaded.start, &outcomes, &loaded.storms),
                )?;
                println!("chart: {}", path.display());
            }
            if let Some(doc) = update {
                update_block(&doc, &ade_cost_sim::file_name(&scenario), &text)?;
            }
            println!("simulated in {:.2} s", took.as_secs_f64());
        }
        Command::Recommend {
            scenario,
            max_p95_wait,
            top,
            update,
        } => {
            let bound = SpecDuration(max_p95_wait).to_std()?;
            let started = Instant::now();
            let loaded = Scenario::load(&scenario)?;
            let candidates = recommend::sweep(&loaded, &recommend::Grid::default())?;
            let took = started.elapsed();
            let text = recommend::report(&scenario, &loaded, &candidates, bound, top)?;
            print!("{text}");
            if let Some(doc) = update {
                update_block(
                    &doc,
                    &format!("recommend {}", ade_cost_sim::file_name(&scenario)),
                    &text,
                )?;
            }
            println!("{} settings simulated in {:.2} s", candidates.len(), took.as_secs_f64());
        }
        Command::SynthPrices {
            types,
            zone,
            from,
            hours,
            seed,
        } => {
            let on_demand = config::parse_prices(config::DEFAULT_ON_DEMAND).map_err(anyhow::Error::msg)?;
            print!("{}", prices::synthetic(&types, &on_demand, &zone, from, hours, seed)?);
        }
    }
    Ok(())
}

/// Replaces the block `name` of the Markdown file `doc` with `text`.
fn update_block(doc: &std::path::Path, name: &str, text: &str) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(doc)?;
    let new = splice(&old, name, text).map_err(|e| anyhow::anyhow!("{}: {e}", doc.display()))?;
    std::fs::write(doc, new)?;
    println!("updated: {}", doc.display());
    Ok(())
}
