//! The printable lists for fairs (report.proto, ExportFairList): the children of a school
//! or a region with what is left to cover of their needs, rendered as CSV ([`csv`]) or as
//! PDF ([`pdf`]). The store reads the rows in print order; this module only lays them out.
//!
//! The lists name children (staff hand help over against a signature) and are the only
//! output of the service that does; they never carry an IIN or a category.

pub mod csv;
pub mod pdf;

use jiff::civil::Date;

/// One need of a child as printed: its item's label and what is left to cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairNeed {
    /// The item in Russian, for example «Школьная форма»; an `OTHER` need's description.
    pub item: String,
    /// The estimate less what was delivered, in tiyn (never below zero).
    pub left_tiyn: i64,
}

/// One child of a list, in print order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairRow {
    /// The school's display name.
    pub school: String,
    /// The grade, 0 for pre-school; `None` when not recorded.
    pub grade: Option<i16>,
    /// Family name.
    pub family_name: String,
    /// Given name.
    pub given_name: String,
    /// Patronymic, empty when none.
    pub patronymic: String,
    /// Birth date.
    pub birth_date: Date,
    /// The needs listed, by item.
    pub needs: Vec<FairNeed>,
    /// The needs' estimated value, in tiyn.
    pub estimated_tiyn: i64,
    /// Committed to them (allocated from donations, or delivered from the budget), in tiyn.
    pub committed_tiyn: i64,
    /// The estimate less what was delivered, in tiyn.
    pub remaining_tiyn: i64,
}

/// What a list is of, printed in its title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairListTitle {
    /// The campaign's display name, for example «Дорога в школу — 2023».
    pub campaign: String,
    /// The school's display name, or the region's, for example «Школа № 7, Костанай» or
    /// «Костанайская область (KZ-39)».
    pub scope: String,
    /// The fair, when the list is for one: its title, place and date as one line.
    pub activity: Option<String>,
    /// The day the list was printed, in the campaign's time zone.
    pub printed_on: Date,
}

/// The column headings, in Russian, in print order.
pub const HEADINGS: [&str; 12] = [
    "№",
    "Школа",
    "Класс",
    "Фамилия",
    "Имя",
    "Отчество",
    "Дата рождения",
    "Нужды (осталось покрыть)",
    "Оценка, ₸",
    "Выделено, ₸",
    "Осталось, ₸",
    "Подпись получателя",
];

/// An amount in tiyn as tenge for print: groups of three digits split by a no-break space,
/// a decimal comma, the tiyn always shown (`1 234 567,89`), as Russian and Kazakh readers
/// write it.
pub fn tenge(tiyn: i64) -> String {
    let sign = if tiyn < 0 { "-" } else { "" };
    let abs = tiyn.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3 * 2);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('\u{a0}');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped},{:02}", abs % 100)
}

/// A date as Russian and Kazakh forms print it, `31.08.2023`.
pub fn date(d: Date) -> String {
    d.strftime("%d.%m.%Y").to_string()
}

/// The grade as printed: the number, «0» for pre-school, empty when unknown.
pub fn grade(g: Option<i16>) -> String {
    g.map(|g| g.to_string()).unwrap_or_default()
}

/// A child's needs in one cell: `Обувь — 12 000,00; Рюкзак — 8 500,00`.
pub fn needs(needs: &[FairNeed]) -> String {
    needs
        .iter()
        .map(|n| format!("{} — {}", n.item, tenge(n.left_tiyn)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The cells of one row in print order, the first being its number; the signature cell
/// is empty.
pub fn cells(number: usize, row: &FairRow) -> [String; 12] {
    [
        number.to_string(),
        row.school.clone(),
        grade(row.grade),
        row.family_name.clone(),
        row.given_name.clone(),
        row.patronymic.clone(),
        date(row.birth_date),
        needs(&row.needs),
        tenge(row.estimated_tiyn),
        tenge(row.committed_tiyn),
        tenge(row.remaining_tiyn),
        String::new(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenge_groups_thousands_and_keeps_the_tiyn() {
        assert_eq!(tenge(0), "0,00");
        assert_eq!(tenge(5), "0,05");
        assert_eq!(tenge(123_456), "1\u{a0}234,56");
        assert_eq!(tenge(123_456_789), "1\u{a0}234\u{a0}567,89");
        assert_eq!(tenge(-100_000), "-1\u{a0}000,00");
    }

    #[test]
    fn needs_share_one_cell() {
        let n = [
            FairNeed {
                item: "Обувь".into(),
                left_tiyn: 1_200_000,
            },
            FairNeed {
                item: "Рюкзак".into(),
                left_tiyn: 850_000,
            },
        ];
        assert_eq!(needs(&n), "Обувь — 12\u{a0}000,00; Рюкзак — 8\u{a0}500,00");
    }
}
