use super::*;

fn marks(svg: &str) -> usize {
    svg.matches(r#"<g class="mark">"#).count()
}

#[test]
fn an_area_chart_draws_its_samples_up_to_the_peak() {
    let mut values = vec![None; SAMPLES];
    values[SAMPLES - 3] = Some(5.0);
    values[SAMPLES - 2] = Some(10.0);
    values[SAMPLES - 1] = Some(0.0);
    let svg = area("Connections/s", Unit::PerSecond, &values, 360, 48, SAMPLES);
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
    assert!(svg.contains("peak 10/s"), "{svg}");
    // The peak reaches the top margin; the newest sample (zero) sits on the base line.
    assert!(svg.contains("L358.0,2.0"), "{svg}");
    assert!(svg.contains("L359.0,48.0L360.0,48.0L360.0,48Z"), "{svg}");
    // Nothing is drawn before the first sample.
    let path = svg.split(r#"d=""#).nth(1).unwrap();
    assert!(path.starts_with("M357.0,48"), "{path}");
}

#[test]
fn a_chart_without_samples_says_so_and_draws_no_area() {
    let svg = area(
        "Throughput",
        Unit::Bytes,
        &vec![None; SAMPLES],
        360,
        48,
        SAMPLES,
    );
    assert!(svg.contains("no samples yet"), "{svg}");
    assert!(!svg.contains("<path"), "{svg}");
}

#[test]
fn gaps_split_the_area_and_sparklines_average_their_columns() {
    let mut values = vec![Some(1.0); 12];
    values[5] = None;
    values[6] = None;
    let svg = area("x", Unit::PerSecond, &values, 120, 20, 12);
    assert_eq!(svg.matches('M').count(), 2, "{svg}");
    assert_eq!(
        downsample(&[Some(1.0), Some(3.0), None, None], 2),
        vec![Some(2.0), None]
    );
    assert_eq!(
        downsample(&[Some(1.0), None, None, Some(4.0)], 2),
        vec![Some(1.0), Some(4.0)]
    );
    // Small ones carry no label (it would not fit), only the tooltip.
    assert!(!svg.contains("<text"), "{svg}");
}

#[test]
fn names_are_escaped_in_titles_and_tooltips() {
    let hostile = r#"VI_1"><script>alert(1)</script>"#;
    let svg = area(hostile, Unit::PerSecond, &[Some(1.0)], 360, 48, 360);
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("&lt;script&gt;"), "{svg}");
    let t = Transition {
        at_ms: 3_600_000,
        what: "vrrp",
        subject: hostile.into(),
        to: "<b>".into(),
    };
    let svg = timeline(&[t], 3_600_000, 360);
    assert!(!svg.contains("<script") && !svg.contains("<b>"), "{svg}");
    assert_eq!(marks(&svg), 1);
}

#[test]
fn the_timeline_marks_the_last_hours_transitions_where_they_happened() {
    let now = 10 * 3_600_000;
    let at = |ago_min: u64, to: &str| Transition {
        at_ms: now - ago_min * 60_000,
        what: if to == "down" { "health" } else { "vrrp" },
        subject: "VI_1".into(),
        to: to.into(),
    };
    let svg = timeline(
        &[at(90, "BACKUP"), at(30, "MASTER"), at(0, "down")],
        now,
        364,
    );
    // The one of 90 minutes ago is outside the strip.
    assert_eq!(marks(&svg), 2, "{svg}");
    // Half an hour ago is the middle; now is the right edge.
    assert!(svg.contains(r#"x="180.5" y="4""#), "{svg}");
    assert!(svg.contains(r#"x="360.5" y="13""#), "{svg}");
    assert!(svg.contains("VI_1 &#8594; MASTER"), "{svg}");
    assert!(svg.contains("#c62828"), "down is red: {svg}");
}
