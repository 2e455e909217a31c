//! Bar charts as inline SVG, drawn by [plotters](https://docs.rs/plotters) on its SVG backend.
//!
//! Every chart has a title, both axis descriptions, category names on one axis, a value scale on
//! the other and each bar's value written beside it (the text the query returned, so the page
//! shows exactly the query's numbers). The `<svg>` keeps its `viewBox` and takes the width of its
//! container, so a chart scales to any screen.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Drawing a chart failed (plotters' error, e.g. a range it cannot lay out).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart {title:?}: {source}")]
pub struct ChartError {
    /// The chart's title.
    pub title: String,
    /// plotters' error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Bars that stand up from the category axis, or lie along it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    /// Categories along the bottom (hours, weekdays).
    Vertical,
    /// Categories down the left side, first at the top (rankings with long names).
    Horizontal,
}

/// One series of bars: one value per category.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry (shown when a chart has more than one series).
    pub name: String,
    /// Fill colour.
    pub color: RGBColor,
    /// Per category: the bar's length and the label written at its end.
    pub values: Vec<(u64, String)>,
}

/// A bar chart.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// Shown above the chart.
    pub title: String,
    /// Describes the category axis.
    pub category_axis: String,
    /// Describes the value axis.
    pub value_axis: String,
    /// Category names, in the order the query returned them.
    pub categories: Vec<String>,
    /// One or more series; bars of several series stand side by side within a category.
    pub series: Vec<Series>,
    /// Which way the bars go.
    pub orientation: Orientation,
    /// The `viewBox` width and height.
    pub size: (u32, u32),
}

/// Colours of the charts (the Tableau 10 palette, readable on white).
pub const PALETTE: [RGBColor; 4] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
];

const FONT: &str = "sans-serif";
/// plotters' SVG backend writes `font-size` as the given size / 1.24: these give 19px titles and
/// 14px text in the `viewBox`.
const TITLE_SIZE: f64 = 23.5;
const TEXT_SIZE: f64 = 17.5;
const TEXT: RGBColor = RGBColor(0x33, 0x33, 0x33);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
/// Longest category name shown whole; longer ones end in `…`.
const MAX_LABEL_CHARS: usize = 34;
/// Width of one category's band on the category axis (integer units, so plotters formats the
/// axis through our label formatter); its bars fill the middle 80%.
const BAND: i32 = 100;

impl BarChart {
    /// The chart as one `<svg>` element that fills its container's width.
    pub fn to_svg(&self) -> Result<String, ChartError> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size).into_drawing_area();
            self.draw(&root).map_err(|source| ChartError {
                title: self.title.clone(),
                source,
            })?;
        }
        Ok(responsive(&svg, self.size, &self.title))
    }

    fn draw(
        &self,
        root: &DrawingArea<SVGBackend<'_>, Shift>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        root.fill(&WHITE)?;
        let n = self.categories.len().max(1);
        let names: Vec<String> = self.categories.iter().map(|c| shorten(c)).collect();
        let max = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().map(|(v, _)| *v))
            .max()
            .unwrap_or(0)
            .max(1);
        let n_i32 = n as i32;
        let centers: Vec<i32> = (0..n_i32).map(|i| i * BAND + BAND / 2).collect();
        let categories = (0..n_i32 * BAND).with_key_points(centers);
        let widest = names.iter().map(|c| c.chars().count()).max().unwrap_or(1);
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(
                &self.title,
                (FONT, TITLE_SIZE)
                    .into_font()
                    .style(FontStyle::Bold)
                    .color(&TEXT),
            )
            .margin(14);
        let k = self.series.len().max(1) as i32;
        let bar = BAND * 8 / 10 / k;
        let text_style = TextStyle::from((FONT, TEXT_SIZE).into_font()).color(&TEXT);
        match self.orientation {
            Orientation::Vertical => {
                // Room above the tallest bar for its label.
                let top = max + max / 8 + 1;
                let mut chart = builder
                    .x_label_area_size(52)
                    .y_label_area_size(70)
                    .build_cartesian_2d(categories, 0u64..top)?;
                let category_at = |x: &i32| category(&names, *x);
                chart
                    .configure_mesh()
                    .disable_x_mesh()
                    .light_line_style(TRANSPARENT)
                    .bold_line_style(GRID)
                    .x_labels(n)
                    .y_labels(8)
                    .x_label_formatter(&category_at)
                    .x_desc(&self.category_axis)
                    .y_desc(&self.value_axis)
                    .label_style(text_style.clone())
                    .axis_desc_style(text_style.clone())
                    .draw()?;
                for (j, s) in self.series.iter().enumerate() {
                    let x0 = |i: usize| i as i32 * BAND + BAND / 10 + j as i32 * bar;
                    chart
                        .draw_series(s.values.iter().enumerate().map(|(i, (v, _))| {
                            Rectangle::new([(x0(i), 0), (x0(i) + bar, *v)], s.color.filled())
                        }))?
                        .label(&s.name)
                        .legend(move |(x, y)| {
                            Rectangle::new([(x, y - 6), (x + 12, y + 6)], s.color.filled())
                        });
                    let above = text_style.pos(Pos::new(HPos::Center, VPos::Bottom));
                    chart.draw_series(s.values.iter().enumerate().map(|(i, (v, label))| {
                        EmptyElement::at((x0(i) + bar / 2, *v))
                            + Text::new(label.clone(), (0, -3), above.clone())
                    }))?;
                }
                if self.series.len() > 1 {
                    chart
                        .configure_series_labels()
                        .position(SeriesLabelPosition::UpperRight)
                        .background_style(WHITE)
                        .border_style(GRID)
                        .label_font(text_style.clone())
                        .draw()?;
                }
            }
            Orientation::Horizontal => {
                // Room right of the longest bar for its label.
                let top = max + max * 3 / 10 + 1;
                let mut chart = builder
                    .x_label_area_size(52)
                    .y_label_area_size((widest as u32 * 8 + 30).clamp(60, 300))
                    .build_cartesian_2d(0u64..top, categories)?;
                // The first category is drawn at the top.
                let row = |i: usize| (n - 1 - i) as i32 * BAND;
                let category_at = |y: &i32| category(&names, n_i32 * BAND - *y);
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .light_line_style(TRANSPARENT)
                    .bold_line_style(GRID)
                    .y_labels(n)
                    .x_labels(6)
                    .y_label_formatter(&category_at)
                    .x_desc(&self.value_axis)
                    .y_desc(&self.category_axis)
                    .label_style(text_style.clone())
                    .axis_desc_style(text_style.clone())
                    .draw()?;
                for (j, s) in self.series.iter().enumerate() {
                    let y0 = |i: usize| row(i) + BAND / 10 + j as i32 * bar;
                    chart.draw_series(s.values.iter().enumerate().map(|(i, (v, _))| {
                        Rectangle::new([(0, y0(i)), (*v, y0(i) + bar)], s.color.filled())
                    }))?;
                    let after = text_style.pos(Pos::new(HPos::Left, VPos::Center));
                    chart.draw_series(s.values.iter().enumerate().map(|(i, (v, label))| {
                        EmptyElement::at((*v, y0(i) + bar / 2))
                            + Text::new(label.clone(), (5, 0), after.clone())
                    }))?;
                }
            }
        }
        root.present()?;
        Ok(())
    }
}

/// The name of the category whose band holds `at` (key points sit at band centres).
fn category(names: &[String], at: i32) -> String {
    usize::try_from(at.div_euclid(BAND))
        .ok()
        .and_then(|i| names.get(i).cloned())
        .unwrap_or_default()
}

/// `name`, cut to [`MAX_LABEL_CHARS`] characters with `…` when longer.
fn shorten(name: &str) -> String {
    match name.char_indices().nth(MAX_LABEL_CHARS) {
        Some((end, _)) => format!("{}…", name[..end].trim_end()),
        None => name.to_owned(),
    }
}

/// plotters writes `<svg width="W" height="H" viewBox="0 0 W H" …>`: keep the `viewBox`, take the
/// container's width (the height follows the aspect ratio), and name the chart for screen readers.
fn responsive(svg: &str, (w, h): (u32, u32), title: &str) -> String {
    let fixed = format!("<svg width=\"{w}\" height=\"{h}\" ");
    let title = crate::report::html::escape(title);
    let fluid = format!("<svg width=\"100%\" role=\"img\" aria-label=\"{title}\" ");
    svg.replacen(&fixed, &fluid, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(orientation: Orientation, series: Vec<Series>) -> String {
        BarChart {
            title: "Plays <by> day".into(),
            category_axis: "day".into(),
            value_axis: "plays".into(),
            categories: vec!["Sunday".into(), "Monday".into()],
            series,
            orientation,
            size: (600, 360),
        }
        .to_svg()
        .unwrap()
    }

    fn series(name: &str, values: &[u64]) -> Series {
        Series {
            name: name.into(),
            color: PALETTE[0],
            values: values.iter().map(|v| (*v, format!("{v}!"))).collect(),
        }
    }

    #[test]
    fn bars_carry_their_labels_and_the_svg_scales() {
        for o in [Orientation::Vertical, Orientation::Horizontal] {
            let svg = chart(o, vec![series("plays", &[396, 1014])]);
            let head = "<svg width=\"100%\" role=\"img\" aria-label=\"Plays &lt;by&gt; day\" \
                        viewBox=\"0 0 600 360\"";
            assert!(svg.starts_with(head), "{o:?}: {}", &svg[..120]);
            for text in [
                "396!",
                "1014!",
                "Sunday",
                "Monday",
                "plays",
                "day",
                "Plays &lt;by&gt; day",
            ] {
                assert!(
                    svg.contains(&format!(">\n{text}\n</text>")),
                    "{o:?}: {text} missing"
                );
            }
        }
        let grouped = chart(
            Orientation::Vertical,
            vec![series("F", &[40, 15]), series("M", &[35, 7])],
        );
        for text in ["40!", "15!", "35!", "7!", "F", "M"] {
            assert!(
                grouped.contains(&format!(">\n{text}\n</text>")),
                "{text} missing"
            );
        }
    }

    #[test]
    fn long_names_are_shortened() {
        assert_eq!(shorten("short"), "short");
        let long = "Sacramento--Roseville--Arden-Arcade, CA and beyond";
        assert_eq!(shorten(long), "Sacramento--Roseville--Arden-Arcad…");
    }
}
