//! The report's charts, drawn by plotters' SVG backend: time in minutes from the start of the
//! experiment's window (shaded), stop-alarm transitions as vertical lines, one line per series.

use super::metrics::Transition;
use super::series::Series;
use super::verdict::Window;
use plotters::prelude::*;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 260;

/// One line of a chart.
pub struct Line<'a> {
    pub label: &'a str,
    pub series: &'a Series,
    pub color: RGBColor,
}

/// The series' colours: faults, errors, p50, p99.
pub const FAULTS: RGBColor = RGBColor(214, 96, 77);
pub const ERRORS: RGBColor = RGBColor(67, 147, 195);
pub const P50: RGBColor = RGBColor(120, 120, 120);
pub const P99: RGBColor = RGBColor(118, 42, 131);
const WINDOW: RGBColor = RGBColor(253, 219, 199);
const ALARM: RGBColor = RGBColor(178, 24, 43);

fn minutes(window: &Window, at: chrono::DateTime<chrono::Utc>) -> f64 {
    (at - window.from).num_seconds() as f64 / 60.0
}

/// An SVG chart titled `title` of `lines` over the report's span, with the experiment's window
/// shaded and `transitions` marked; `unit` names the y axis.
pub fn svg(
    title: &str,
    unit: &str,
    window: &Window,
    lines: &[Line<'_>],
    transitions: &[Transition],
) -> Result<String, String> {
    let mut out = String::new();
    {
        let x0 = minutes(window, window.start);
        // At least ten seconds wide.
        let x1 = minutes(window, window.end).max(x0 + 1.0 / 6.0);
        let top = lines
            .iter()
            .flat_map(|l| l.series.points.iter().map(|(_, v)| *v))
            .fold(0.0f64, f64::max);
        let y1 = if top > 0.0 { top * 1.15 } else { 1.0 };
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        let fail = |e: &dyn std::fmt::Display| format!("chart {title}: {e}");
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, 0.0..y1)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_desc("minutes from the experiment's start")
            .y_desc(unit)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| fail(&e))?;
        let (from, to) = (0.0, minutes(window, window.to));
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(from, 0.0), (to, y1)],
                WINDOW.mix(0.6).filled(),
            )))
            .map_err(|e| fail(&e))?
            .label("experiment window")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], WINDOW.filled()));
        for transition in transitions {
            let at = minutes(window, transition.at);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(at, 0.0), (at, y1)],
                    ALARM.stroke_width(2),
                )))
                .map_err(|e| fail(&e))?;
        }
        for line in lines {
            let color = line.color;
            chart
                .draw_series(LineSeries::new(
                    line.series
                        .points
                        .iter()
                        .map(|(at, v)| (minutes(window, *at), *v)),
                    color.stroke_width(2),
                ))
                .map_err(|e| fail(&e))?
                .label(line.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
            // Each datapoint marked: sparse counts read as points, not as a flat line.
            chart
                .draw_series(
                    line.series
                        .points
                        .iter()
                        .map(|(at, v)| Circle::new((minutes(window, *at), *v), 3, color.filled())),
                )
                .map_err(|e| fail(&e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap_or_default()
    }

    #[test]
    fn the_window_is_shaded_and_alarm_transitions_marked() {
        let window = Window {
            start: at(-15),
            from: at(0),
            to: at(10),
            end: at(25),
        };
        let faults = Series::with(vec![(at(1), 5.0), (at(2), 7.0)]);
        let svg = svg(
            "Faults",
            "count",
            &window,
            &[Line {
                label: "faults injected",
                series: &faults,
                color: FAULTS,
            }],
            &[Transition {
                at: at(4),
                alarm: "orders-5xx".into(),
                summary: "Alarm updated from OK to ALARM".into(),
            }],
        )
        .expect("an SVG");
        assert!(svg.starts_with("<svg"));
        // The window's fill, the alarm's line, the series' colour and its legend.
        assert!(svg.contains("#FDDBC7"), "shaded window");
        assert!(svg.contains("#B2182B"), "alarm transition");
        assert!(svg.contains("#D6604D"), "the series");
        assert!(svg.contains("faults injected") && svg.contains("experiment window"));
    }
}
