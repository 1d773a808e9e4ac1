//! Field-level validation results, shared by every kind of input.
//!
//! A request is checked as a whole and every problem is reported at once, keyed by the
//! field's name, so a form can show all of them together.

use std::collections::BTreeMap;

/// Problems found in an input, by field name. Empty means valid.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_default().push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` if nothing was recorded, else the collected problems.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Checks that a required text field is present and 1..=`max` characters long
    /// after trimming, recording the problem otherwise.
    pub fn required_text(&mut self, field: &str, value: Option<&str>, max: usize) -> String {
        match value.map(str::trim) {
            None => {
                self.add(field, "is required");
                String::new()
            }
            Some("") => {
                self.add(field, "may not be blank");
                String::new()
            }
            Some(v) => {
                self.check_text(field, v, max);
                v.to_string()
            }
        }
    }

    /// Checks an optional text field's length (after trimming); absent means empty.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) -> String {
        let v = value.map(str::trim).unwrap_or("");
        self.check_text(field, v, max);
        v.to_string()
    }

    /// At most `max` characters, and no control characters but tabs and line breaks
    /// (a NUL or an escape sequence in a title is never what a person meant).
    pub fn check_text(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        if has_control_characters(value) {
            self.add(
                field,
                "must not contain control characters (only tabs and line breaks are allowed)",
            );
        }
    }
}

/// Whether `value` holds a control character other than a tab or a line feed.
pub fn has_control_characters(value: &str) -> bool {
    value.chars().any(|c| c.is_control() && c != '\t' && c != '\n')
}

impl From<(&str, &str)> for FieldErrors {
    fn from((field, message): (&str, &str)) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_text_is_trimmed_and_bounded() {
        let mut errors = FieldErrors::new();
        assert_eq!(errors.required_text("title", Some("  hi  "), 5), "hi");
        assert!(errors.is_empty());
        errors.required_text("title", Some("   "), 5);
        errors.required_text("location", None, 5);
        errors.required_text("comment", Some("toolong"), 5);
        assert_eq!(errors.0["title"], vec!["may not be blank"]);
        assert_eq!(errors.0["location"], vec!["is required"]);
        assert_eq!(errors.0["comment"], vec!["must be at most 5 characters"]);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let mut errors = FieldErrors::new();
        errors.optional_text("name", Some("ééé"), 3);
        assert!(errors.is_empty());
    }

    #[test]
    fn control_characters_other_than_tabs_and_line_breaks_are_refused() {
        let mut errors = FieldErrors::new();
        errors.required_text("title", Some("a\tb\nc"), 50);
        assert!(errors.is_empty());
        for bad in ["nul\0", "bell\u{7}", "esc\u{1b}[31m", "cr\rlf", "del\u{7f}"] {
            let mut errors = FieldErrors::new();
            errors.optional_text("comment", Some(bad), 50);
            assert!(!errors.is_empty(), "{bad:?}");
        }
    }
}
