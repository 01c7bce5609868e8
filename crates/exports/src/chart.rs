//! The SVG chart: volunteers per 100 000 residents by county, against the A1 line.
//!
//! One bar per county (green when the county passes, orange when it does not, grey without a
//! population), its value above it and its name below; a dashed red line at the threshold, labelled.
//! The scale's top is the larger of the tallest bar and 1.5 × the threshold, rounded up to a multiple of
//! 5, so the line always shows. Text is XML-escaped.

use std::fmt::Write as _;

use crate::{Evaluation, RegionRow};

const BAR: u32 = 56;
const GAP: u32 = 28;
const LEFT: u32 = 64;
const TOP: u32 = 56;
const PLOT_HEIGHT: u32 = 280;
const BOTTOM: u32 = 64;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The ratio in hundredths (`"10.12"` → 1012), from the read model's truncated text.
fn hundredths(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, "0"));
    let whole: u64 = whole.parse().ok()?;
    let frac = format!("{frac:0<2}");
    let frac: u64 = frac.get(..2)?.parse().ok()?;
    Some(whole * 100 + frac)
}

fn colour(r: &RegionRow) -> &'static str {
    match r.passes {
        Some(true) => "#2e7d32",
        Some(false) => "#ef6c00",
        None => "#9e9e9e",
    }
}

/// The chart as a standalone SVG document.
pub fn coverage_svg(e: &Evaluation) -> String {
    let threshold = u64::from(e.required_per_100k) * 100;
    let tallest = e
        .counties
        .iter()
        .filter_map(|r| r.per_100k.as_deref().and_then(hundredths))
        .max()
        .unwrap_or(0);
    let top = tallest.max(threshold * 3 / 2).max(100).div_ceil(500) * 500;
    let y =
        |v: u64| TOP + PLOT_HEIGHT - u32::try_from(v * u64::from(PLOT_HEIGHT) / top).unwrap_or(0);
    let n = u32::try_from(e.counties.len()).unwrap_or(0);
    let width = LEFT + n * (BAR + GAP) + GAP;
    let height = TOP + PLOT_HEIGHT + BOTTOM;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img">"#
    );
    let title = format!(
        "{}各县（市、区）每10万常住人口志愿者数（{}）",
        e.city_name,
        e.date.format("%Y-%m-%d")
    );
    let _ = write!(
        s,
        r#"<title>{t}</title><text x="{LEFT}" y="24" font-size="15" font-weight="bold">{t}</text>"#,
        t = escape(&title)
    );
    // Axis with ticks every fifth of the scale.
    let axis_bottom = TOP + PLOT_HEIGHT;
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{axis_bottom}" stroke="#333"/><line x1="{LEFT}" y1="{axis_bottom}" x2="{width}" y2="{axis_bottom}" stroke="#333"/>"##
    );
    for i in 0..=5u64 {
        let v = top * i / 5;
        let ty = y(v);
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#333">{}</text>"##,
            LEFT - 6,
            ty + 4,
            v / 100
        );
    }
    for (i, r) in (0u32..).zip(&e.counties) {
        let x = LEFT + GAP + i * (BAR + GAP);
        let value = r.per_100k.as_deref().and_then(hundredths).unwrap_or(0);
        let by = y(value);
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{by}" width="{BAR}" height="{}" fill="{}"><title>{}: {}</title></rect>"#,
            axis_bottom - by,
            colour(r),
            escape(&r.name),
            escape(r.per_100k.as_deref().unwrap_or("无人口数据"))
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x + BAR / 2,
            by.saturating_sub(4),
            escape(r.per_100k.as_deref().unwrap_or("—"))
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x + BAR / 2,
            axis_bottom + 18,
            escape(&r.name)
        );
    }
    let ly = y(threshold);
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{ly}" x2="{width}" y2="{ly}" stroke="#c62828" stroke-width="2" stroke-dasharray="6 4"/><text x="{}" y="{}" text-anchor="end" fill="#c62828">达标线 {}/10万</text>"##,
        width - 4,
        ly.saturating_sub(6),
        e.required_per_100k
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::evaluation;

    #[test]
    fn the_chart_has_one_bar_per_county_coloured_by_pass_and_the_threshold_line() {
        let svg = coverage_svg(&evaluation());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect ").count(), 3);
        assert_eq!(
            svg.matches("fill=\"#2e7d32\"").count(),
            2,
            "two counties pass"
        );
        assert_eq!(svg.matches("fill=\"#ef6c00\"").count(), 1, "one does not");
        assert!(svg.contains("达标线 10/10万"));
        assert!(svg.contains(">越城区<") && svg.contains(">10.12<"));
    }

    #[test]
    fn the_threshold_line_sits_at_its_value_on_the_scale() {
        let svg = coverage_svg(&evaluation());
        // Scale top: max(10.12, 15) → 15.00; the line at 10 is at 1/3 from the top of the plot.
        let expected = TOP + PLOT_HEIGHT - PLOT_HEIGHT * 1000 / 1500;
        assert!(
            svg.contains(&format!("y1=\"{expected}\" x2=")),
            "line at y={expected}: {svg}"
        );
    }

    #[test]
    fn names_are_escaped() {
        let mut e = evaluation();
        e.counties[0].name = "A&B<县>".to_owned();
        let svg = coverage_svg(&e);
        assert!(svg.contains("A&amp;B&lt;县&gt;"));
        assert!(!svg.contains("A&B<"));
    }

    #[test]
    fn ratios_parse_to_hundredths() {
        assert_eq!(hundredths("10.12"), Some(1012));
        assert_eq!(hundredths("3.7"), Some(370));
        assert_eq!(hundredths("12"), Some(1200));
        assert_eq!(hundredths("x"), None);
    }

    #[test]
    fn the_same_evaluation_gives_the_same_bytes() {
        assert_eq!(coverage_svg(&evaluation()), coverage_svg(&evaluation()));
    }
}
