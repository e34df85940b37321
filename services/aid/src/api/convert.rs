//! Proto messages to domain values and back, shared by the service's modules: resource
//! names, regions, campaigns. Parsing collects every malformed field, named by its path.

use edu_kit::error::{FieldProblems, quote, reason as kit_reason};
/// Instants, dates and update masks on the wire, as everywhere in the suite.
pub use edu_kit::wire::{date, mask_paths, timestamp};
use edu_kit::{ApiError, etag, resource};
use edu_proto::edu::aid::v1 as pb;
use jiff::{SignedDuration, Timestamp};

use crate::domain::campaign::{Campaign, CampaignPhase};
use crate::domain::regions;

/// Longest display names and titles.
pub const MAX_NAME_CHARS: usize = 300;

/// The letter codes withdrawn in November 2022, with the codes that replaced them.
const WITHDRAWN_CODES: [(&str, &str); 17] = [
    ("KZ-AKM", "KZ-11"),
    ("KZ-AKT", "KZ-15"),
    ("KZ-ALM", "KZ-19"),
    ("KZ-ATY", "KZ-23"),
    ("KZ-ZAP", "KZ-27"),
    ("KZ-ZHA", "KZ-31"),
    ("KZ-KAR", "KZ-35"),
    ("KZ-KUS", "KZ-39"),
    ("KZ-KZY", "KZ-43"),
    ("KZ-MAN", "KZ-47"),
    ("KZ-PAV", "KZ-55"),
    ("KZ-SEV", "KZ-59"),
    ("KZ-YUZ", "KZ-61"),
    ("KZ-VOS", "KZ-63"),
    ("KZ-AST", "KZ-71"),
    ("KZ-ALA", "KZ-75"),
    ("KZ-SHY", "KZ-79"),
];

/// Why `raw` is not a current region of Kazakhstan, naming the current code of a
/// withdrawn one; `None` when it is one.
pub fn region_problem(raw: &str) -> Option<String> {
    if regions::is_region(raw) {
        return None;
    }
    Some(match WITHDRAWN_CODES.iter().find(|(old, _)| *old == raw) {
        Some((_, new)) => format!(
            "{} was withdrawn in 2022; the region is now {new}",
            quote(raw)
        ),
        None => format!(
            "{} is not a current region of Kazakhstan (ISO 3166-2, for example KZ-75)",
            quote(raw)
        ),
    })
}

/// A required region field.
pub fn region(raw: &str, field: &str) -> Result<String, ApiError> {
    match region_problem(raw) {
        None => Ok(raw.to_string()),
        Some(problem) => Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            problem,
        )),
    }
}

/// An optional region filter: any well-formed code is taken (one outside Kazakhstan simply
/// matches nothing).
pub fn region_filter(raw: &str, field: &str) -> Result<Option<String>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    edu_kit::region::RegionCode::parse(raw)
        .map(|r| Some(r.as_str().to_string()))
        .map_err(|e| ApiError::invalid_field(kit_reason::INVALID_FIELDS, field, e.to_string()))
}

/// A campaign's ID from its name, `campaigns/{campaign}`.
pub fn campaign_id(name: &str, field: &str) -> Result<String, ApiError> {
    resource::parse_name(name, "campaigns", field)
}

/// A child of a campaign, `campaigns/{campaign}/{collection}/{id}`: both IDs.
pub fn campaign_child(
    name: &str,
    collection: &str,
    field: &str,
) -> Result<(String, String), ApiError> {
    resource::parse_child_name(name, "campaigns", collection, field)
}

/// A school's ID from its name, `schools/{school}`.
pub fn school_id(name: &str, field: &str) -> Result<String, ApiError> {
    resource::parse_name(name, "schools", field)
}

/// An optional filter of an enum: `None` for the zero value, else what `parse` makes of it.
pub fn enum_filter<T>(
    raw: i32,
    field: &str,
    parse: impl Fn(i32) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    if raw == 0 {
        return Ok(None);
    }
    parse(raw).map(Some).ok_or_else(|| {
        ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!("{raw} is not a value of this enum"),
        )
    })
}

/// A duration on the wire.
pub fn duration(d: SignedDuration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs(),
        nanos: d.subsec_nanos(),
    }
}

fn phase(p: CampaignPhase) -> pb::CampaignPhase {
    match p {
        CampaignPhase::Upcoming => pb::CampaignPhase::Upcoming,
        CampaignPhase::Running => pb::CampaignPhase::Running,
        CampaignPhase::Ended => pb::CampaignPhase::Ended,
    }
}

/// A campaign as the API shows it at `now`.
pub fn campaign(c: &Campaign, now: Timestamp) -> pb::Campaign {
    pb::Campaign {
        name: format!("campaigns/{}", c.id),
        display_name: c.display_name.clone(),
        time_zone: c.time_zone.clone(),
        start_date: Some(date(c.start_date)),
        end_date: Some(date(c.end_date)),
        school_start_date: Some(date(c.school_start_date)),
        region_codes: c.region_codes.clone(),
        appeal_response_target: Some(duration(c.appeal_response_target)),
        start_time: Some(timestamp(c.starts_at())),
        end_time: Some(timestamp(c.ends_at())),
        phase: phase(c.phase(now)) as i32,
        create_time: Some(timestamp(c.create_time)),
        update_time: Some(timestamp(c.update_time)),
        etag: etag::of(c.version),
    }
}

/// Fields of a campaign that UpdateCampaign may change.
pub const CAMPAIGN_FIELDS: [&str; 7] = [
    "display_name",
    "time_zone",
    "start_date",
    "end_date",
    "school_start_date",
    "region_codes",
    "appeal_response_target",
];

/// A campaign from the request's message, every field checked under `campaign.`; `base`
/// supplies the stored values for an update, of which only the fields in `mask` change.
pub fn campaign_spec(
    id: &str,
    from: &pb::Campaign,
    base: Option<&Campaign>,
    mask: &[String],
    now: Timestamp,
) -> Result<Campaign, ApiError> {
    let mut problems = FieldProblems::new();
    let take = |field: &str| base.is_none() || mask.iter().any(|m| m == field);
    let f = |field: &str| format!("campaign.{field}");
    let epoch = jiff::civil::date(2000, 1, 1);
    let mut c = base.cloned().unwrap_or_else(|| Campaign {
        id: id.to_string(),
        display_name: String::new(),
        time_zone: String::new(),
        start_date: epoch,
        end_date: epoch,
        school_start_date: epoch,
        region_codes: Vec::new(),
        appeal_response_target: SignedDuration::ZERO,
        create_time: now,
        update_time: now,
        version: 0,
    });
    if take("display_name") {
        c.display_name =
            problems.text(&f("display_name"), &from.display_name, MAX_NAME_CHARS, true);
    }
    if take("time_zone") {
        if from.time_zone.is_empty() || jiff::tz::TimeZone::get(&from.time_zone).is_err() {
            problems.add(
                f("time_zone"),
                format!("{} is not an IANA time zone", quote(&from.time_zone)),
            );
        }
        c.time_zone = from.time_zone.clone();
    }
    for (field, value, slot) in [
        ("start_date", &from.start_date, &mut c.start_date),
        ("end_date", &from.end_date, &mut c.end_date),
        (
            "school_start_date",
            &from.school_start_date,
            &mut c.school_start_date,
        ),
    ] {
        if take(field)
            && let Some(d) = problems.field(edu_kit::wire::civil_date(value.as_ref(), &f(field)))
        {
            *slot = d;
        }
    }
    if take("region_codes") {
        if from.region_codes.is_empty() || from.region_codes.len() > 20 {
            problems.add(f("region_codes"), "1 to 20 regions");
        }
        let mut seen: Vec<String> = Vec::new();
        for (i, code) in from.region_codes.iter().enumerate() {
            let field = format!("campaign.region_codes[{i}]");
            if let Some(problem) = region_problem(code) {
                problems.add(field, problem);
            } else if seen.contains(code) {
                problems.add(field, "listed twice");
            } else {
                seen.push(code.clone());
            }
        }
        seen.sort();
        c.region_codes = seen;
    }
    if take("appeal_response_target") {
        let seconds = from
            .appeal_response_target
            .as_ref()
            .map(|d| d.seconds)
            .unwrap_or(0);
        if !(3600..=30 * 24 * 3600).contains(&seconds) {
            problems.add(f("appeal_response_target"), "one hour to 30 days");
        }
        c.appeal_response_target = SignedDuration::from_secs(seconds);
    }
    if problems.is_empty() {
        if c.end_date < c.start_date || (c.end_date - c.start_date).get_days() > 366 {
            problems.add(
                f("end_date"),
                "not before start_date, at most 366 days after it",
            );
        }
        if c.school_start_date < c.start_date || c.school_start_date > c.end_date {
            problems.add(f("school_start_date"), "within the campaign's period");
        }
    }
    problems.finish()?;
    Ok(c)
}
