//! The receipt a person keeps for a consent or its revocation (issue point 2): a number
//! unique in the institution, a Russian text as printed, and the SHA-256 of that text, so
//! that the holder of the printed receipt can prove it even after the text is redacted.
//!
//! The text is a function of its inputs only (no clock, no locale), line by line, joined
//! with `\n` and without a trailing newline: the same consent always prints, and hashes,
//! the same.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};

use super::consent::{ActorKind, ConsentPurpose, GuardianRelation};

/// A receipt as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Its number, for example `mechta-saratov-2024-000017`.
    pub number: String,
    /// The text as printed.
    pub text: String,
    /// The SHA-256 of `text` in UTF-8, lower-case hex.
    pub sha256: String,
}

impl Receipt {
    /// The receipt of `text` under `number`, with its hash.
    pub fn new(number: String, text: String) -> Self {
        let sha256 = sha256_hex(&text);
        Receipt {
            number,
            text,
            sha256,
        }
    }
}

/// The receipt's number: the institution's ID, the year of issue in the institution's zone
/// and the receipt's place among that year's receipts of the institution, six digits,
/// counted without gaps by the store: `mechta-saratov-2024-000017`.
pub fn number(institution_id: &str, year: i16, serial: u32) -> String {
    format!("{institution_id}-{year}-{serial:06}")
}

/// The year a receipt issued at `issued` counts in: the year of that instant in the
/// institution's zone, so that a receipt issued at 00:30 on 1 January in Saratov belongs to
/// the new year there.
pub fn issue_year(issued: Timestamp, zone: &TimeZone) -> i16 {
    issued.to_zoned(zone.clone()).year()
}

/// The SHA-256 of `text` in UTF-8, in lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parent or legal representative as the receipt names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardianLine<'a> {
    /// Family name, given name and patronymic in one line.
    pub display_name: &'a str,
    /// How they are related to the subject.
    pub relation: GuardianRelation,
}

/// What a consent's receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentReceiptText<'a> {
    /// The receipt's number.
    pub number: &'a str,
    /// The institution's name, for example «МУ ДО «ДООЦ «Мечта»».
    pub institution: &'a str,
    /// The subject's family name, given name and patronymic in one line.
    pub subject: &'a str,
    /// Who gave the consent for the subject, if anyone.
    pub guardian: Option<GuardianLine<'a>>,
    /// What it is for.
    pub purpose: ConsentPurpose,
    /// The day it was given, as written on the form.
    pub give_date: Date,
    /// The document it was given in; left out when empty.
    pub document: &'a str,
}

impl ConsentReceiptText<'_> {
    /// The text as printed.
    pub fn render(&self) -> String {
        let mut lines = vec![
            format!("Расписка № {}", self.number),
            format!("о согласии на {}", purpose_words(self.purpose)),
            format!("Организация: {}", self.institution),
            format!("Субъект персональных данных: {}", self.subject),
        ];
        if let Some(guardian) = self.guardian {
            lines.push(guardian_line(guardian));
        }
        lines.push(format!("Дата согласия: {}", russian_date(self.give_date)));
        if !self.document.is_empty() {
            lines.push(format!("Документ: {}", self.document));
        }
        lines.join("\n")
    }
}

/// What a revocation's receipt says.
#[derive(Debug, Clone, PartialEq)]
pub struct RevocationReceiptText<'a> {
    /// The revocation receipt's own number.
    pub number: &'a str,
    /// The institution's name.
    pub institution: &'a str,
    /// The subject's family name, given name and patronymic in one line.
    pub subject: &'a str,
    /// The guardian the consent names, if any.
    pub guardian: Option<GuardianLine<'a>>,
    /// What the revoked consent was for.
    pub purpose: ConsentPurpose,
    /// The number of the revoked consent's receipt.
    pub consent_number: &'a str,
    /// When it was revoked.
    pub revoke_time: Timestamp,
    /// The institution's zone, in which the time is printed.
    pub zone: TimeZone,
    /// Who revoked it.
    pub revoked_by: ActorKind,
    /// The revocation statement as recorded; left out when empty.
    pub statement: &'a str,
}

impl RevocationReceiptText<'_> {
    /// The text as printed.
    pub fn render(&self) -> String {
        let mut lines = vec![
            format!("Расписка № {}", self.number),
            format!("об отзыве согласия на {}", purpose_words(self.purpose)),
            format!("Организация: {}", self.institution),
            format!("Субъект персональных данных: {}", self.subject),
        ];
        if let Some(guardian) = self.guardian {
            lines.push(guardian_line(guardian));
        }
        let at = self.revoke_time.to_zoned(self.zone.clone());
        lines.push(format!(
            "Отозвано согласие по расписке № {}",
            self.consent_number
        ));
        lines.push(format!(
            "Время отзыва: {} {} ({})",
            russian_date(at.date()),
            at.strftime("%H:%M"),
            self.zone.iana_name().unwrap_or("UTC")
        ));
        lines.push(format!("Отозвал: {}", actor_words(self.revoked_by)));
        if !self.statement.is_empty() {
            lines.push(format!("Заявление: {}", self.statement));
        }
        lines.join("\n")
    }
}

fn purpose_words(purpose: ConsentPurpose) -> &'static str {
    match purpose {
        ConsentPurpose::PersonalData => "обработку персональных данных",
        ConsentPurpose::Publication => {
            "публикацию видео- и фотоизображений с фамилией, именем, отчеством"
        }
    }
}

fn actor_words(actor: ActorKind) -> &'static str {
    match actor {
        ActorKind::Subject => "субъект персональных данных",
        ActorKind::Guardian => "законный представитель",
        ActorKind::Staff => "организация по письменному заявлению",
    }
}

fn guardian_line(guardian: GuardianLine<'_>) -> String {
    format!(
        "Законный представитель: {} ({})",
        guardian.display_name,
        guardian.relation.russian()
    )
}

/// A day as Russian documents write it, `01.06.2024`.
fn russian_date(day: Date) -> String {
    day.strftime("%d.%m.%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn saratov() -> TimeZone {
        TimeZone::get("Europe/Saratov").expect("zone")
    }

    fn consent_text() -> ConsentReceiptText<'static> {
        ConsentReceiptText {
            number: "mechta-saratov-2024-000017",
            institution: "МУ ДО «ДООЦ «Мечта»»",
            subject: "Тестова Алиса Вымышленная",
            guardian: Some(GuardianLine {
                display_name: "Тестов Борис Условный",
                relation: GuardianRelation::Parent,
            }),
            purpose: ConsentPurpose::PersonalData,
            give_date: date(2024, 6, 1),
            document: "согласие (приложение № 2 к Положению) от 01.06.2024",
        }
    }

    #[test]
    fn numbers_carry_institution_year_and_six_digits() {
        assert_eq!(
            number("mechta-saratov", 2024, 17),
            "mechta-saratov-2024-000017"
        );
        assert_eq!(
            number("mechta-saratov", 2025, 1),
            "mechta-saratov-2025-000001"
        );
    }

    #[test]
    fn the_year_of_issue_is_the_institutions() {
        // 23:30 UTC on 31 December is 03:30 on 1 January in Saratov (UTC+4).
        let issued: Timestamp = "2024-12-31T23:30:00Z".parse().expect("instant");
        assert_eq!(issue_year(issued, &saratov()), 2025);
        assert_eq!(issue_year(issued, &TimeZone::UTC), 2024);
    }

    #[test]
    fn the_hash_is_sha256_of_the_text_in_lower_hex() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let receipt = Receipt::new("n".into(), "abc".into());
        assert_eq!(receipt.sha256, sha256_hex("abc"));
    }

    #[test]
    fn a_consent_receipt_prints_the_same_every_time() {
        let text = consent_text().render();
        assert_eq!(
            text,
            "Расписка № mechta-saratov-2024-000017\n\
             о согласии на обработку персональных данных\n\
             Организация: МУ ДО «ДООЦ «Мечта»»\n\
             Субъект персональных данных: Тестова Алиса Вымышленная\n\
             Законный представитель: Тестов Борис Условный (родитель)\n\
             Дата согласия: 01.06.2024\n\
             Документ: согласие (приложение № 2 к Положению) от 01.06.2024"
        );
        assert_eq!(text, consent_text().render());
        let adult = ConsentReceiptText {
            guardian: None,
            document: "",
            purpose: ConsentPurpose::Publication,
            ..consent_text()
        }
        .render();
        assert!(!adult.contains("Законный представитель"));
        assert!(!adult.contains("Документ"));
        assert!(adult.contains("публикацию"));
        assert_ne!(sha256_hex(&adult), sha256_hex(&text));
    }

    #[test]
    fn a_revocation_receipt_prints_the_time_in_the_institutions_zone() {
        let text = RevocationReceiptText {
            number: "mechta-saratov-2025-000003",
            institution: "МУ ДО «ДООЦ «Мечта»»",
            subject: "Тестова Алиса Вымышленная",
            guardian: None,
            purpose: ConsentPurpose::PersonalData,
            consent_number: "mechta-saratov-2024-000017",
            revoke_time: "2025-02-12T10:30:00Z".parse().expect("instant"),
            zone: saratov(),
            revoked_by: ActorKind::Staff,
            statement: "заявление об отзыве согласия от 12.02.2025",
        }
        .render();
        assert!(text.starts_with("Расписка № mechta-saratov-2025-000003\nоб отзыве согласия"));
        assert!(text.contains("Отозвано согласие по расписке № mechta-saratov-2024-000017"));
        assert!(text.contains("Время отзыва: 12.02.2025 14:30 (Europe/Saratov)"));
        assert!(text.contains("Отозвал: организация по письменному заявлению"));
        assert!(text.ends_with("Заявление: заявление об отзыве согласия от 12.02.2025"));
    }
}
