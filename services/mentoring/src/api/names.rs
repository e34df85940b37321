//! The resource names of `edu.mentoring.v1` as requests carry them, read in one place. Each
//! parser answers `INVALID_FIELDS` naming the request's field and the form it expects.
//!
//! IDs are the kit's (AIP-122: client-chosen IDs start with a letter; server-chosen ones are
//! UUIDs, which may start with a digit), except the package's own kinds of ID: a monitoring
//! round is named by its due month (`2024-12`), a questionnaire by its pair's and its
//! respondent's IDs joined by a hyphen, and a yearly report by its year (`2025`).

use edu_kit::ApiError;
use edu_kit::error::{quote, reason as kit_reason};
use edu_kit::resource::{parse_name, parse_nested};

use crate::store::{institution_name, participant_name};

/// The parent that stands for every institution the caller reads.
pub const EVERY_INSTITUTION: &str = "institutions/-";

/// The form of a monitoring round's name.
const ROUND_FORM: &str = "institutions/{institution}/monitoringRounds/{year}-{05|12}";

/// The form of a yearly report's name.
const REPORT_FORM: &str = "institutions/{institution}/yearlyReports/{year}";

/// `institutions/{institution}`: its ID.
pub fn institution(name: &str, field: &str) -> Result<String, ApiError> {
    parse_name(name, "institutions", field)
}

/// `institutions/{institution}`, or [`EVERY_INSTITUTION`] (`None`).
pub fn institution_or_every(name: &str, field: &str) -> Result<Option<String>, ApiError> {
    if name == EVERY_INSTITUTION {
        return Ok(None);
    }
    institution(name, field).map(Some)
}

/// `institutions/{institution}/participants/{participant}`: both IDs.
pub fn participant(name: &str, field: &str) -> Result<(String, String), ApiError> {
    let [institution, participant] = parse_nested(name, ["institutions", "participants"], field)?;
    Ok((institution, participant))
}

/// A participant of `institution` named by a request field: their ID. A well-formed name
/// of another institution's participant is `INVALID_FIELDS` too: a request names only its
/// own institution's people.
pub fn participant_of(institution: &str, name: &str, field: &str) -> Result<String, ApiError> {
    let (of, id) = participant(name, field)?;
    if of != institution {
        return Err(not_under(name, field, "a participant", institution));
    }
    Ok(id)
}

/// A participant that [`participant`] read, looked up in `institution`: their ID, or
/// `NOT_FOUND` for another institution's, who does not exist here (for the members of a
/// new pair and a petition's new mentor, which must exist, as a missing one is `NOT_FOUND`).
pub fn participant_here(institution: &str, (of, id): (String, String)) -> Result<String, ApiError> {
    if of == institution {
        Ok(id)
    } else {
        Err(ApiError::not_found(participant_name(&of, &id)))
    }
}

/// `institutions/{institution}/participants/{participant}`, or `…/participants/-` for every
/// participant (`None`).
pub fn participants_parent(name: &str, field: &str) -> Result<(String, Option<String>), ApiError> {
    collection_parent(name, "participants", field)
}

/// `institutions/{institution}/participants/{participant}/consents/{consent}`: the IDs.
pub fn consent(name: &str, field: &str) -> Result<[String; 3], ApiError> {
    parse_nested(name, ["institutions", "participants", "consents"], field)
}

/// `institutions/{institution}/pairs/{pair}`: both IDs.
pub fn pair(name: &str, field: &str) -> Result<(String, String), ApiError> {
    let [institution, pair] = parse_nested(name, ["institutions", "pairs"], field)?;
    Ok((institution, pair))
}

/// A pair of `institution` named by a request field: its ID (`INVALID_FIELDS` for another
/// institution's).
pub fn pair_of(institution: &str, name: &str, field: &str) -> Result<String, ApiError> {
    let (of, id) = pair(name, field)?;
    if of != institution {
        return Err(not_under(name, field, "a pair", institution));
    }
    Ok(id)
}

/// `institutions/{institution}/pairs/{pair}`, or `…/pairs/-` for every pair (`None`).
pub fn pairs_parent(name: &str, field: &str) -> Result<(String, Option<String>), ApiError> {
    collection_parent(name, "pairs", field)
}

/// `institutions/{institution}/pairs/{pair}/{collection}/{id}` (`agreements`,
/// `planActivities`, `replacementPetitions`): the three IDs.
pub fn pair_child(name: &str, collection: &str, field: &str) -> Result<[String; 3], ApiError> {
    parse_nested(name, ["institutions", "pairs", collection], field)
}

/// `institutions/{institution}/{collection}/{id}` (`publications`, `roadMapStages`): both
/// IDs.
pub fn institution_child(
    name: &str,
    collection: &str,
    field: &str,
) -> Result<(String, String), ApiError> {
    let [institution, id] = parse_nested(name, ["institutions", collection], field)?;
    Ok((institution, id))
}

/// `institutions/{institution}/monitoringRounds/{round}`: the IDs. A round's ID is its year
/// and month due (`2024-12`), which the kit's ID rule (a letter first) does not take. Any
/// other well-formed ID names a round that cannot exist: the store answers `NOT_FOUND`, after
/// the caller's standing in the institution is settled, so that a stranger learns the same
/// of every name under an institution they may not see.
pub fn round(name: &str, field: &str) -> Result<(String, String), ApiError> {
    under_institution(name, "monitoringRounds", is_joined_id)
        .ok_or_else(|| bad(name, field, ROUND_FORM))
}

/// `institutions/{institution}/monitoringRounds/{round}/{collection}/{id}`
/// (`questionnaires`, `pairResults`): the IDs. Result IDs are pair IDs and questionnaire
/// IDs join a pair's and a participant's, both of which may start with a digit.
pub fn round_child(
    name: &str,
    collection: &str,
    field: &str,
) -> Result<(String, String, String), ApiError> {
    let form = format!("{ROUND_FORM}/{collection}/{{id}}");
    match name.rsplitn(3, '/').collect::<Vec<_>>().as_slice() {
        [id, c, round_name] if *c == collection && is_joined_id(id) => {
            let (institution, round) =
                round(round_name, field).map_err(|_| bad(name, field, &form))?;
            Ok((institution, round, (*id).to_string()))
        }
        _ => Err(bad(name, field, &form)),
    }
}

/// `institutions/{institution}/yearlyReports/{year}`: the institution's ID and the year
/// (four digits, as the report's own name writes it), `None` for another well-formed ID —
/// a report that cannot exist, which the caller answers `NOT_FOUND` once the caller's
/// standing in the institution is settled (strangers learn the same of every name).
pub fn yearly_report(name: &str, field: &str) -> Result<(String, Option<i16>), ApiError> {
    if name.is_empty() {
        return Err(ApiError::invalid_field(
            kit_reason::INVALID_FIELDS,
            field,
            format!("required: {REPORT_FORM}"),
        ));
    }
    let four_digits = |year: &str| year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
    under_institution(name, "yearlyReports", is_joined_id)
        .map(|(institution, year)| {
            let year = four_digits(&year)
                .then(|| year.parse::<i16>().ok())
                .flatten();
            (institution, year)
        })
        .ok_or_else(|| {
            bad(
                name,
                field,
                &format!("{REPORT_FORM} with a year such as 2025"),
            )
        })
}

/// The ID at the end of a resource name the store gave (a person's, say).
pub fn last_id(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The ID of the institution a resource name the store gave is under.
pub fn institution_id_of(name: &str) -> &str {
    name.strip_prefix("institutions/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
}

/// `institutions/{institution}/{collection}/{id}` or `institutions/{institution}/{collection}/-`
/// (every one, `None`).
fn collection_parent(
    name: &str,
    collection: &str,
    field: &str,
) -> Result<(String, Option<String>), ApiError> {
    if let Some(head) = name.strip_suffix(&format!("/{collection}/-")) {
        let every = format!("institutions/{{id}}/{collection}/-");
        let institution = institution(head, field).map_err(|_| bad(name, field, &every))?;
        return Ok((institution, None));
    }
    let (institution, id) = institution_child(name, collection, field)?;
    Ok((institution, Some(id)))
}

/// `institutions/{institution}/{collection}/{id}` whose last ID `id_ok` takes, for the
/// package's own kinds of ID: both IDs, or `None`.
fn under_institution(
    name: &str,
    collection: &str,
    id_ok: impl Fn(&str) -> bool,
) -> Option<(String, String)> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["institutions", institution, c, id] if *c == collection && id_ok(id) => {
            let institution = self::institution(&institution_name(institution), "").ok()?;
            Some((institution, (*id).to_string()))
        }
        _ => None,
    }
}

/// An ID joined of others (a pair's, or a pair's and a participant's): lower-case letters,
/// digits and hyphens.
fn is_joined_id(id: &str) -> bool {
    (1..=127).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `INVALID_FIELDS` for a name not of `form`.
fn bad(name: &str, field: &str, form: &str) -> ApiError {
    ApiError::invalid_field(
        kit_reason::INVALID_FIELDS,
        field,
        format!("expected a name of the form {form}, got {}", quote(name)),
    )
}

/// `INVALID_FIELDS` for a well-formed name of `what` under another institution.
fn not_under(name: &str, field: &str, what: &str, institution: &str) -> ApiError {
    ApiError::invalid_field(
        kit_reason::INVALID_FIELDS,
        field,
        format!(
            "{} is not {what} of {}",
            quote(name),
            institution_name(institution)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: ApiError) -> String {
        assert_eq!(error.reason.code(), "INVALID_FIELDS");
        error.fields()[0].field.clone()
    }

    #[test]
    fn rounds_and_their_children_take_ids_that_start_with_a_digit() {
        assert_eq!(
            round("institutions/mechta/monitoringRounds/2024-12", "name").expect("round"),
            ("mechta".to_string(), "2024-12".to_string())
        );
        let (institution, round_id, id) = round_child(
            "institutions/mechta/monitoringRounds/2025-05/questionnaires/0190-p1",
            "questionnaires",
            "name",
        )
        .expect("questionnaire");
        assert_eq!(
            (institution.as_str(), round_id.as_str()),
            ("mechta", "2025-05")
        );
        assert_eq!(id, "0190-p1");
        // A well-formed ID that is no season names a round that cannot exist: found missing
        // later, once the caller's standing is settled.
        assert!(round("institutions/mechta/monitoringRounds/2024-11", "parent").is_ok());
        for bad_name in [
            "institutions/mechta/monitoringRounds/2024_11",
            "institutions/mechta/monitoringRounds/2024-12/x",
            "institutions/Mechta/monitoringRounds/2024-12",
        ] {
            assert_eq!(
                field_of(round(bad_name, "parent").expect_err(bad_name)),
                "parent"
            );
        }
        let wrong_collection = round_child(
            "institutions/mechta/monitoringRounds/2024-12/pairResults/p1",
            "questionnaires",
            "pair_result.name",
        );
        assert_eq!(
            field_of(wrong_collection.expect_err("collection")),
            "pair_result.name"
        );
    }

    #[test]
    fn a_yearly_report_is_named_by_its_four_digit_year() {
        assert_eq!(
            yearly_report("institutions/mechta/yearlyReports/2025", "name").expect("report"),
            ("mechta".to_string(), Some(2025))
        );
        // A well-formed name whose ID is no year names a report that cannot exist.
        assert_eq!(
            yearly_report("institutions/mechta/yearlyReports/25", "name").expect("a name"),
            ("mechta".to_string(), None)
        );
        for bad_name in [
            "",
            "institutions/mechta/yearlyReports/",
            "yearlyReports/2025",
        ] {
            assert_eq!(
                field_of(yearly_report(bad_name, "name").expect_err(bad_name)),
                "name"
            );
        }
    }

    #[test]
    fn a_parent_may_stand_for_every_child() {
        assert_eq!(
            pairs_parent("institutions/mechta/pairs/-", "parent").expect("every"),
            ("mechta".to_string(), None)
        );
        assert_eq!(
            participants_parent("institutions/mechta/participants/p1", "parent").expect("one"),
            ("mechta".to_string(), Some("p1".to_string()))
        );
        assert_eq!(
            institution_or_every("institutions/-", "parent").expect("every"),
            None
        );
        for bad_name in [
            "institutions/-/pairs/-",
            "institutions/mechta/pairs",
            "pairs/-",
        ] {
            assert_eq!(
                field_of(pairs_parent(bad_name, "parent").expect_err(bad_name)),
                "parent"
            );
        }
    }

    #[test]
    fn a_name_of_another_institution_is_refused_or_not_found() {
        assert_eq!(
            participant_of("mechta", "institutions/mechta/participants/v", "curator").expect("own"),
            "v"
        );
        let other = "institutions/elsewhere/participants/v";
        assert_eq!(
            field_of(participant_of("mechta", other, "curator").expect_err("other")),
            "curator"
        );
        let read = participant(other, "pair.mentor").expect("well-formed");
        let missing = participant_here("mechta", read).expect_err("elsewhere");
        assert_eq!(missing.reason.code(), "NOT_FOUND");
        assert_eq!(
            field_of(pair_of("mechta", "institutions/elsewhere/pairs/q", "pair").expect_err("q")),
            "pair"
        );
    }

    #[test]
    fn the_ids_at_the_ends_of_a_stored_name() {
        let name = "institutions/mechta/practices/p1";
        assert_eq!(last_id(name), "p1");
        assert_eq!(institution_id_of(name), "mechta");
    }
}
