//! Who a signed-in person is in one institution, read in one statement for the api's
//! authorisation (rule 10): the participant their token subject signs in as, whether that
//! participant is the appointed curator, and the minors whose consents name the subject as
//! their guardian. Never shown; the api decides what it allows.

use jiff::Timestamp;
use sqlx::PgConnection;

use edu_kit::ApiError;

use super::institutions::Setting;
use super::{day_in, institution_name, parsed};
use crate::domain::roles::ParticipantRole;

/// The participant a subject signs in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their ID.
    pub id: String,
    /// Their role.
    pub role: ParticipantRole,
    /// Whether their consent to PERSONAL_DATA is in force (a redacted curator does not act).
    pub consent_in_force: bool,
}

/// What the institution knows of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The institution, with today in its zone.
    pub setting: Setting,
    /// The participant the subject signs in as, if any.
    pub member: Option<Member>,
    /// The appointed curator's participant ID, if one is appointed.
    pub curator: Option<String>,
    /// Participants whose consents name the subject as their guardian, sorted: revoked
    /// consents count too, so that the guardian who revoked a ward's consent still reads the
    /// ward (redacted) and can retry the revocation.
    pub wards: Vec<String>,
}

/// The standing of `subject` in institution `institution` at `now`; `NOT_FOUND` when the
/// institution does not exist.
pub async fn standing(
    conn: &mut PgConnection,
    institution: &str,
    subject: &str,
    now: Timestamp,
) -> Result<Standing, ApiError> {
    let row = sqlx::query!(
        r#"SELECT i.display_name, i.region_code, i.time_zone, i.curator_id,
                  p.id AS "member_id?", p.role AS "member_role?",
                  EXISTS (SELECT 1 FROM mentoring.consents c
                          WHERE c.institution_id = i.id AND c.participant_id = p.id
                            AND c.purpose = 'PERSONAL_DATA' AND c.state = 'GIVEN')
                      AS "member_consent!",
                  ARRAY(SELECT DISTINCT c.participant_id FROM mentoring.consents c
                        WHERE c.institution_id = i.id AND $2 <> ''
                          AND c.guardian_subject = $2
                        ORDER BY c.participant_id) AS "wards!"
           FROM mentoring.institutions i
           LEFT JOIN mentoring.participants p
                  ON p.institution_id = i.id AND p.subject = $2 AND $2 <> ''
           WHERE i.id = $1"#,
        institution,
        subject,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found(institution_name(institution)))?;
    let member = match (row.member_id, row.member_role) {
        (Some(id), Some(role)) => Some(Member {
            id,
            role: parsed("participant role", &role, ParticipantRole::parse)?,
            consent_in_force: row.member_consent,
        }),
        _ => None,
    };
    Ok(Standing {
        setting: Setting {
            id: institution.to_string(),
            today: day_in(&row.time_zone, now)?,
            display_name: row.display_name,
            region_code: row.region_code,
            time_zone: row.time_zone,
        },
        member,
        curator: row.curator_id,
        wards: row.wards,
    })
}
