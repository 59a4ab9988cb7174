//! The day as an SVG chart: cost so far (top) and clusters alive (bottom)
//! per strategy, against the hour of the day. Plain SVG text, no drawing crate.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::{report::Outcome, scenario::Storm};

const WIDTH: f64 = 960.0;
const PANEL: f64 = 230.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 60.0;
const GAP: f64 = 60.0;
const COLOURS: [&str; 6] = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"];

/// The chart's title for the scenario at `path`: its file name, so the
/// chart does not depend on where it was run from.
pub fn title(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    format!("{name}: cost so far and clusters alive over the simulated day")
}

/// The chart of `outcomes` over the day starting at `start`, titled
/// `title`, with the spot `storms` shaded.
pub fn svg(title: &str, start: Timestamp, outcomes: &[Outcome], storms: &[Storm]) -> String {
    let hours = |t: Timestamp| t.duration_since(start).as_secs_f64() / 3600.0;
    let x_max = outcomes
        .iter()
        .flat_map(|o| o.timeline.last())
        .map(|p| hours(p.at))
        .fold(24.0, f64::max)
        .ceil();
    let cost_max = nice(
        outcomes
            .iter()
            .flat_map(|o| &o.timeline)
            .map(|p| p.usd)
            .fold(0.0, f64::max),
    );
    let live_max = nice(
        outcomes
            .iter()
            .flat_map(|o| &o.timeline)
            .map(|p| p.live as f64)
            .fold(0.0, f64::max),
    );
    let height = TOP + 2.0 * PANEL + GAP + 70.0;
    let x = |h: f64| LEFT + (WIDTH - LEFT - RIGHT) * h / x_max;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{LEFT}" y="22" font-size="15">{}</text>"#, escape(title));
    for (panel, (label, max)) in [("cost so far, USD", cost_max), ("clusters alive", live_max)]
        .into_iter()
        .enumerate()
    {
        let top = TOP + panel as f64 * (PANEL + GAP);
        let y = |v: f64| top + PANEL - PANEL * v / max;
        for storm in storms {
            let (from, to) = (x(hours(storm.from)), x(hours(storm.to)));
            let _ = writeln!(
                s,
                r##"<rect x="{from:.1}" y="{top}" width="{:.1}" height="{PANEL}" fill="#fbe3e3"/><text x="{:.1}" y="{}" text-anchor="middle" fill="#b03030">spot storm</text>"##,
                to - from,
                (from + to) / 2.0,
                top + 14.0
            );
        }
        axes(&mut s, top, label, max, x_max, &x);
        for (i, o) in outcomes.iter().enumerate() {
            let mut d = String::new();
            let mut last_y = None;
            for p in &o.timeline {
                let v = if panel == 0 { p.usd } else { p.live as f64 };
                let (px, py) = (x(hours(p.at)), y(v));
                match last_y {
                    None => {
                        let _ = write!(d, "M{px:.1},{py:.1}");
                    }
                    // clusters alive as steps, cost as a line
                    Some(ly) if panel == 1 => {
                        let _ = write!(d, " L{px:.1},{ly:.1} L{px:.1},{py:.1}");
                    }
                    Some(_) => {
                        let _ = write!(d, " L{px:.1},{py:.1}");
                    }
                }
                last_y = Some(py);
            }
            let colour = COLOURS[i % COLOURS.len()];
            let _ = writeln!(s, r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.8"/>"#);
        }
    }
    let legend_y = TOP + 2.0 * PANEL + GAP + 45.0;
    for (i, o) in outcomes.iter().enumerate() {
        let lx = LEFT + (i % 3) as f64 * 290.0;
        let ly = legend_y + (i / 3) as f64 * 18.0;
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
            escape(&o.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn axes(s: &mut String, top: f64, label: &str, max: f64, x_max: f64, x: &impl Fn(f64) -> f64) {
    let bottom = top + PANEL;
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="#333"/><line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>"##,
        WIDTH - RIGHT
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{}" font-weight="bold">{label}</text>"#,
        top - 8.0
    );
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let y = bottom - PANEL * f64::from(k) / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            tick(v)
        );
    }
    let step = if x_max > 30.0 { 6.0 } else { 3.0 };
    let mut h = 0.0;
    while h <= x_max {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{bottom}" x2="{0:.1}" y2="{1}" stroke="#333"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3:02}:00</text>"##,
            x(h),
            bottom + 4.0,
            bottom + 18.0,
            h as u32 % 24
        );
        h += step;
    }
}

/// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
fn nice(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * p)
}

fn tick(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_bounds() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(3.2), 5.0);
        assert_eq!(nice(17.0), 20.0);
        assert_eq!(nice(100.0), 100.0);
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(escape("a<b & c"), "a&lt;b &amp; c");
    }
}
