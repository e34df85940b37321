//! Rule 5's experts: registered per contest by the organiser, with the region and the
//! subject that decide their conflicts of interest, and the nominations they review.

use std::collections::BTreeSet;

use edu_kit::error::quote;
use edu_kit::region::RegionCode;
use jiff::Timestamp;

use super::assignment::ExpertProfile;
use super::{CompetitionError, Contest, FieldError};

/// Longest name or organisation, in characters.
pub const MAX_TEXT_CHARS: usize = 300;

/// An expert of a contest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expert {
    /// The contest.
    pub contest_id: String,
    /// The expert's ID in the contest.
    pub id: String,
    /// The subject at the identity provider: the caller an expert's token names.
    pub subject: String,
    /// The name shown to the organiser.
    pub display_name: String,
    /// The region the expert never reviews.
    pub region_code: String,
    /// For example a pedagogical university.
    pub organisation: String,
    /// Nominations reviewed; empty for all.
    pub nomination_ids: BTreeSet<String>,
    /// Registered.
    pub create_time: Timestamp,
}

impl Expert {
    /// Rule 5: registers an expert, checking the values against the contest.
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        contest: &Contest,
        id: String,
        subject: &str,
        display_name: &str,
        region_code: &str,
        organisation: &str,
        nomination_ids: &[String],
        now: Timestamp,
    ) -> Result<Self, CompetitionError> {
        let mut problems = Vec::new();
        for (field, value, required) in [
            ("subject", subject, true),
            ("display_name", display_name, true),
            ("organisation", organisation, false),
        ] {
            if required && value.trim().is_empty() {
                problems.push(FieldError::new(field, "required"));
            } else if value.chars().count() > MAX_TEXT_CHARS {
                problems.push(FieldError::new(
                    field,
                    format!("at most {MAX_TEXT_CHARS} characters"),
                ));
            }
        }
        let region = RegionCode::parse(region_code);
        if let Err(e) = &region {
            problems.push(FieldError::new("region_code", e.to_string()));
        }
        for (i, nomination) in nomination_ids.iter().enumerate() {
            if contest.nomination(nomination).is_none() {
                problems.push(FieldError::new(
                    format!("nomination_ids[{i}]"),
                    format!("{} is not a nomination of the contest", quote(nomination)),
                ));
            }
        }
        match region {
            Ok(region) if problems.is_empty() => Ok(Expert {
                contest_id: contest.id.clone(),
                id,
                subject: subject.trim().into(),
                display_name: display_name.trim().into(),
                region_code: region.as_str().into(),
                organisation: organisation.trim().into(),
                nomination_ids: nomination_ids.iter().cloned().collect(),
                create_time: now,
            }),
            _ => Err(CompetitionError::InvalidFields(problems)),
        }
    }

    /// What the assignment needs to know.
    pub fn profile(&self) -> ExpertProfile {
        ExpertProfile {
            id: self.id.clone(),
            subject: self.subject.clone(),
            region_code: self.region_code.clone(),
            nomination_ids: self.nomination_ids.clone(),
        }
    }
}
