//! A report as one self-contained HTML page (inline CSS and SVG: no network, no script), as
//! Markdown for pull requests and tickets, or as JSON for scripts. The three say the same: the
//! window, the stop alarms, and per function its verdicts and its before/during/after figures.

use super::chart::{self, Line};
use super::verdict::{Figures, Verdict};
use super::{FunctionReport, Report};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn number(value: Option<f64>, decimals: usize, unit: &str) -> String {
    value.map_or_else(
        || "no data".to_string(),
        |v| format!("{v:.decimals$}{unit}"),
    )
}

/// The figures' cells, in column order.
fn cells(f: &Figures) -> [String; 6] {
    [
        f.phase.name().to_string(),
        number(f.invocations, 0, ""),
        number(f.errors, 0, ""),
        number(f.error_rate, 2, " %"),
        number(f.p99_ms, 0, " ms"),
        number(f.faults, 0, ""),
    ]
}

const HEADERS: [&str; 6] = [
    "phase",
    "invocations",
    "errors",
    "error rate",
    "p99",
    "faults injected",
];

fn title(report: &Report) -> String {
    match &report.experiment {
        Some(name) => format!("Rehearsal report: {name}"),
        None => "Rehearsal report".to_string(),
    }
}

fn window_line(report: &Report) -> String {
    let w = &report.window;
    let span = |d: chrono::Duration| {
        humantime::format_duration(std::time::Duration::from_secs(
            u64::try_from(d.num_seconds()).unwrap_or(0),
        ))
        .to_string()
    };
    format!(
        "Window {} to {} (UTC), with {} before and {} after; one point per {} s.",
        w.from.format("%Y-%m-%d %H:%M:%S"),
        w.to.format("%Y-%m-%d %H:%M:%S"),
        span(w.from - w.start),
        span(w.end - w.to),
        report.period_seconds
    )
}

fn alarm_lines(report: &Report) -> Vec<String> {
    let alarms = &report.alarms;
    if alarms.names.is_empty() {
        return vec!["No stop alarms.".to_string()];
    }
    let mut lines = vec![format!("Stop alarms: {}.", alarms.names.join(", "))];
    if let Some(reason) = &alarms.missing {
        lines.push(format!("Alarm history: no data ({reason})."));
    } else if alarms.transitions.is_empty() {
        lines.push("No alarm changed state in the span.".to_string());
    }
    for t in &alarms.transitions {
        lines.push(format!(
            "{} {}: {}",
            t.at.format("%H:%M:%S"),
            t.alarm,
            t.summary
        ));
    }
    lines
}

fn function_html(report: &Report, f: &FunctionReport) -> String {
    let mut html = format!(
        "<section class=\"function\" id=\"fn-{0}\">\n<h2>{0}</h2>\n",
        escape(&f.name)
    );
    html.push_str("<ul class=\"verdicts\">\n");
    if f.verdicts.is_empty() {
        html.push_str(
            "<li class=\"none\">no objectives given (--slo-error-rate, --slo-p99)</li>\n",
        );
    }
    for v in &f.verdicts {
        let class = match v {
            Verdict::Met { .. } => "met",
            Verdict::Missed { .. } => "missed",
            Verdict::NoData { .. } => "nodata",
        };
        html.push_str(&format!(
            "<li class=\"{class}\">{}: {}</li>\n",
            escape(v.objective()),
            escape(&v.said())
        ));
    }
    html.push_str("</ul>\n");
    let transitions = &report.alarms.transitions;
    let charts = [
        (
            "Faults injected and errors",
            "count per period",
            vec![
                Line {
                    label: "faults injected",
                    series: &f.faults,
                    color: chart::FAULTS,
                },
                Line {
                    label: "errors",
                    series: &f.errors,
                    color: chart::ERRORS,
                },
            ],
        ),
        (
            "Duration",
            "ms",
            vec![
                Line {
                    label: "p50",
                    series: &f.p50,
                    color: chart::P50,
                },
                Line {
                    label: "p99",
                    series: &f.p99,
                    color: chart::P99,
                },
            ],
        ),
    ];
    for (title, unit, lines) in charts {
        let missing: Vec<String> = lines
            .iter()
            .filter_map(|l| {
                l.series
                    .missing
                    .as_ref()
                    .map(|why| format!("{}: no data ({why})", l.label))
            })
            .collect();
        match chart::svg(title, unit, &report.window, &lines, transitions) {
            Ok(svg) => html.push_str(&format!("<figure>{svg}</figure>\n")),
            Err(err) => html.push_str(&format!("<p class=\"nodata\">{}</p>\n", escape(&err))),
        }
        for line in missing {
            html.push_str(&format!("<p class=\"nodata\">{}</p>\n", escape(&line)));
        }
    }
    html.push_str("<table>\n<tr>");
    for header in HEADERS {
        html.push_str(&format!("<th>{header}</th>"));
    }
    html.push_str("</tr>\n");
    for figures in &f.figures {
        html.push_str(&format!("<tr class=\"{}\">", figures.phase.name()));
        for cell in cells(figures) {
            html.push_str(&format!("<td>{}</td>", escape(&cell)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n</section>\n");
    html
}

const STYLE: &str = "body{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}\
th:first-child,td:first-child{text-align:left}tr.during{background:#fde8dc}\
ul.verdicts{list-style:none;padding:0}ul.verdicts li{display:inline-block;margin:2px 6px 2px 0;\
padding:3px 8px;border-radius:4px}li.met{background:#d9f0d3}li.missed{background:#f4a582}\
li.nodata,li.none{background:#e0e0e0}p.nodata{color:#666;font-size:.9em}figure{margin:0}";

/// The HTML page.
pub fn html(report: &Report) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{0}</h1>\n<p class=\"window\">{1}</p>\n",
        escape(&title(report)),
        escape(&window_line(report))
    );
    html.push_str("<section class=\"alarms\">\n");
    for line in alarm_lines(report) {
        html.push_str(&format!("<p>{}</p>\n", escape(&line)));
    }
    html.push_str("</section>\n");
    if report.functions.is_empty() {
        html.push_str("<p class=\"nodata\">No functions were named.</p>\n");
    }
    for function in &report.functions {
        html.push_str(&function_html(report, function));
    }
    html.push_str(&format!(
        "<footer><p class=\"nodata\">Written by faultline's deployer at {} UTC.</p></footer>\n</body>\n</html>\n",
        report.generated.format("%Y-%m-%d %H:%M:%S")
    ));
    html
}

/// The Markdown text (the charts are in the HTML page).
pub fn markdown(report: &Report) -> String {
    let mut md = format!("# {}\n\n{}\n\n", title(report), window_line(report));
    for line in alarm_lines(report) {
        md.push_str(&format!("- {line}\n"));
    }
    for f in &report.functions {
        md.push_str(&format!("\n## {}\n\n", f.name));
        if f.verdicts.is_empty() {
            md.push_str("No objectives given.\n");
        }
        for v in &f.verdicts {
            md.push_str(&format!("- {}: **{}**\n", v.objective(), v.said()));
        }
        md.push_str(&format!(
            "\n| {} |\n|{}\n",
            HEADERS.join(" | "),
            "---|".repeat(HEADERS.len())
        ));
        for figures in &f.figures {
            md.push_str(&format!("| {} |\n", cells(figures).join(" | ")));
        }
        for (label, series) in [
            ("errors", &f.errors),
            ("p99", &f.p99),
            ("faults", &f.faults),
        ] {
            if let Some(why) = &series.missing {
                md.push_str(&format!("\n{label}: no data ({why})\n"));
            }
        }
    }
    md
}

/// The JSON document.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}
