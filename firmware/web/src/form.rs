//! Form bodies (`application/x-www-form-urlencoded`, as browsers send them), decoded by
//! rust-url's form_urlencoded, bounded, and read field by field with errors that name
//! the field.

use std::str::FromStr;
use std::time::Duration;

/// Fields in one form; a body with more is refused.
pub const MAX_FIELDS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Decodes a form body. Browsers percent-encode everything outside ASCII, so a byte
    /// above 0x7f, or an encoded sequence that is not UTF-8, means the body is not a form.
    pub fn parse(body: &[u8]) -> Result<Form, String> {
        if let Some(at) = body.iter().position(|b| !b.is_ascii()) {
            return Err(format!(
                "the form is not URL-encoded (byte {at} is not ASCII)"
            ));
        }
        let mut fields = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if fields.len() == MAX_FIELDS {
                return Err(format!("the form has more than {MAX_FIELDS} fields"));
            }
            if name.contains('\u{fffd}') || value.contains('\u{fffd}') {
                return Err(format!("form field \"{name}\" is not valid UTF-8"));
            }
            fields.push((name.into_owned(), value.into_owned()));
        }
        Ok(Form { fields })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The field's value, or an error naming the missing field.
    pub fn text(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("the form has no field \"{name}\""))
    }

    /// A number in the field, trimmed; the error names the field and what it held.
    pub fn number<T: FromStr>(&self, name: &str, what: &str) -> Result<T, String> {
        let text = self.text(name)?.trim();
        text.parse()
            .map_err(|_| format!("{name}: \"{text}\" is not {what}"))
    }

    /// A number of seconds such as `3` or `0.5`, as keepalived.conf writes them.
    pub fn seconds(&self, name: &str) -> Result<Duration, String> {
        let text = self.text(name)?.trim();
        parse_seconds(text).ok_or_else(|| {
            format!("{name}: \"{text}\" is not a number of seconds (such as 3 or 0.5)")
        })
    }
}

/// `3`, `0.5`, `10.25`: at most 6 decimals, at most a day.
pub fn parse_seconds(text: &str) -> Option<Duration> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 6 {
        return None;
    }
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    let micros: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    let d = Duration::from_secs(secs) + Duration::from_micros(micros);
    (d <= Duration::from_secs(86_400)).then_some(d)
}

/// Seconds as keepalived.conf writes them: `3`, `0.5`.
pub fn format_seconds(d: Duration) -> String {
    let micros = d.subsec_micros();
    if micros == 0 {
        return d.as_secs().to_string();
    }
    let frac = format!("{micros:06}");
    format!("{}.{}", d.as_secs(), frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_fields_as_browsers_send_them() {
        let f = Form::parse(b"csrf=ab12&text=global_defs+%7B%0D%0A%7D%0D%0A&w=%20 3 ").unwrap();
        assert_eq!(f.get("csrf"), Some("ab12"));
        assert_eq!(f.text("text").unwrap(), "global_defs {\r\n}\r\n");
        assert_eq!(f.number::<u32>("w", "a weight").unwrap(), 3);
        assert_eq!(f.get("missing"), None);
        assert_eq!(
            f.text("missing").unwrap_err(),
            "the form has no field \"missing\""
        );
        assert_eq!(
            f.number::<u8>("csrf", "a priority from 1 to 254")
                .unwrap_err(),
            "csrf: \"ab12\" is not a priority from 1 to 254"
        );
    }

    #[test]
    fn refuses_what_is_not_a_form() {
        assert!(Form::parse("a=é".as_bytes())
            .unwrap_err()
            .contains("not URL-encoded"));
        assert_eq!(
            Form::parse(b"a=%FF%FE").unwrap_err(),
            "form field \"a\" is not valid UTF-8"
        );
        let many: String = (0..=MAX_FIELDS).map(|i| format!("f{i}=1&")).collect();
        assert_eq!(
            Form::parse(many.as_bytes()).unwrap_err(),
            "the form has more than 64 fields"
        );
    }

    #[test]
    fn seconds_read_and_write_as_keepalived_does() {
        assert_eq!(parse_seconds("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_seconds("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_seconds("1.000001"),
            Some(Duration::from_micros(1_000_001))
        );
        for bad in ["", ".5", "1.", "-1", "1e3", "1.0000001", "86401", "x"] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
        assert_eq!(format_seconds(Duration::from_secs(6)), "6");
        assert_eq!(format_seconds(Duration::from_millis(2500)), "2.5");
    }
}
