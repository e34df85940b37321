//! The checks every request passes before any handler runs (see
//! `proto/edu/api/v1/field_limits.proto`): each string and bytes field within its length
//! limit and free of NUL characters (Postgres refuses NUL in text), each enum field a known
//! value. The walks are generated from the descriptors (`build/limits.rs`), so a new RPC or
//! field is checked the day it is added.
//!
//! A violation names the field and the rule, never the value: an error that repeated an
//! oversized value would itself be oversized.

use std::fmt;

/// The most violations one refusal lists; the rest are counted, so that a request with
/// thousands of bad items still gets a small answer.
pub const MAX_LISTED_VIOLATIONS: usize = 10;

/// Where a value sits in a request, built on the stack while walking and rendered only for
/// a violation: `enrolment.programme`, `enrolments[3]`, `labels["k"]`.
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    /// The request itself.
    Root,
    /// A field of the message at the first position.
    Field(&'a At<'a>, &'static str),
    /// An item of a repeated field.
    Item(&'a At<'a>, &'static str, usize),
    /// A value of a map field.
    Key(&'a At<'a>, &'static str, &'a str),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (parent, name) = match self {
            At::Root => return Ok(()),
            At::Field(parent, name) | At::Item(parent, name, _) | At::Key(parent, name, _) => {
                (parent, name)
            }
        };
        if !matches!(parent, At::Root) {
            write!(f, "{parent}.")?;
        }
        f.write_str(name)?;
        match self {
            At::Item(_, _, index) => write!(f, "[{index}]"),
            At::Key(_, _, key) => write!(f, "[{:?}]", crate::quote::prefix(key)),
            _ => Ok(()),
        }
    }
}

/// One offending field and the rule it breaks, in English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path, proto names joined by dots.
    pub field: String,
    /// The rule, without the value.
    pub description: String,
}

/// The violations found so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    listed: Vec<Violation>,
    unlisted: usize,
}

impl Violations {
    /// The listed violations, at most [`MAX_LISTED_VIOLATIONS`].
    pub fn listed(&self) -> &[Violation] {
        &self.listed
    }

    /// How many more were found and not listed.
    pub fn unlisted(&self) -> usize {
        self.unlisted
    }

    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    fn add(&mut self, at: &At<'_>, description: impl FnOnce() -> String) {
        if self.listed.len() < MAX_LISTED_VIOLATIONS {
            self.listed.push(Violation {
                field: at.to_string(),
                description: description(),
            });
        } else {
            self.unlisted += 1;
        }
    }

    /// Checks a string field: at most `max` characters, no NUL.
    pub fn text(&mut self, at: &At<'_>, value: &str, max: usize) {
        // Bytes bound characters from above, so the count is needed only for long values.
        if value.len() > max && value.chars().count() > max {
            self.add(at, || format!("at most {max} characters"));
        } else if value.contains('\0') {
            self.add(at, || "must not contain the NUL character".to_string());
        }
    }

    /// Checks a bytes field: at most `max` bytes.
    pub fn bytes(&mut self, at: &At<'_>, value: &[u8], max: usize) {
        if value.len() > max {
            self.add(at, || format!("at most {max} bytes"));
        }
    }

    /// Checks that an enum field holds one of its type's values.
    pub fn known(&mut self, at: &At<'_>, known: bool, type_name: &'static str) {
        if !known {
            self.add(at, || format!("not a value of {type_name}"));
        }
    }
}

/// A message whose fields can be checked.
pub trait Walk {
    /// Records every violation in this message, which sits at `at`.
    fn walk(&self, at: &At<'_>, out: &mut Violations);
}

/// What the codec asks of every message it decodes: requests are checked, responses (which
/// clients decode) are not.
pub trait CheckRequest {
    /// `Err` with every violation when the message breaks a limit.
    fn check_request(&self) -> Result<(), Violations> {
        Ok(())
    }
}

/// Walks a request from its root.
pub fn check<M: Walk>(message: &M) -> Result<(), Violations> {
    let mut out = Violations::default();
    message.walk(&At::Root, &mut out);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

impl Walk for prost_types::Timestamp {
    fn walk(&self, _: &At<'_>, _: &mut Violations) {}
}

impl Walk for prost_types::Duration {
    fn walk(&self, _: &At<'_>, _: &mut Violations) {}
}

/// `google.protobuf.Empty`, which prost maps to `()`.
impl Walk for () {
    fn walk(&self, _: &At<'_>, _: &mut Violations) {}
}

impl Walk for prost_types::FieldMask {
    fn walk(&self, at: &At<'_>, out: &mut Violations) {
        for (index, path) in self.paths.iter().enumerate() {
            out.text(&At::Item(at, "paths", index), path, 256);
        }
    }
}

impl CheckRequest for () {}

include!(concat!(env!("OUT_DIR"), "/edu_limits.rs"));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edu::certificates::v1 as pb;

    #[test]
    fn a_violation_names_the_field_and_never_repeats_the_value() {
        let request = pb::RequestEnrolmentRequest {
            enrolment: Some(pb::Enrolment {
                certificate: "x".repeat(20_000),
                programme: "providers/a\0/programmes/b".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let violations = request.check_request().expect_err("two violations");
        let fields: Vec<&str> = violations
            .listed()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["enrolment.certificate", "enrolment.programme"]);
        for v in violations.listed() {
            assert!(v.description.len() < 100, "{v:?}");
        }
    }

    #[test]
    fn output_only_fields_and_responses_are_not_checked() {
        let request = pb::RequestEnrolmentRequest {
            enrolment: Some(pb::Enrolment {
                rating_comment: "x".repeat(20_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(request.check_request(), Ok(()));
        let response = pb::Enrolment {
            certificate: "x".repeat(20_000),
            ..Default::default()
        };
        assert_eq!(response.check_request(), Ok(()));
    }

    #[test]
    fn unknown_enum_values_and_annotated_limits_are_enforced() {
        let request = pb::SearchProgrammesRequest {
            direction: 99,
            ..Default::default()
        };
        let violations = request.check_request().expect_err("unknown direction");
        assert_eq!(violations.listed()[0].field, "direction");
        let long_but_allowed = pb::RateEnrolmentRequest {
            comment: "к".repeat(2_000),
            ..Default::default()
        };
        assert_eq!(long_but_allowed.check_request(), Ok(()));
        let too_long = pb::RateEnrolmentRequest {
            comment: "к".repeat(2_001),
            ..Default::default()
        };
        assert!(too_long.check_request().is_err());
    }

    #[test]
    fn thousands_of_bad_items_make_a_short_list() {
        let request = pb::ReportMonthRequest {
            enrolments: vec!["\0".to_string(); 5_000],
            ..Default::default()
        };
        let violations = request.check_request().expect_err("bad items");
        assert_eq!(violations.listed().len(), MAX_LISTED_VIOLATIONS);
        assert_eq!(violations.unlisted(), 5_000 - MAX_LISTED_VIOLATIONS);
        assert_eq!(violations.listed()[3].field, "enrolments[3]");
    }
}
