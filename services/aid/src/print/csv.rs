//! The CSV form of a fair list: UTF-8 with a byte-order mark, `;`-separated, RFC 4180
//! quoting, one heading row in Russian, then one row per child. Spreadsheet programs in the
//! Russian and Kazakh locales open it as is: the mark tells them the encoding, `;` is their
//! list separator, and the amounts are written as they write numbers (`1 234,56`, with a
//! no-break space). The title is not in the file, whose name says what it is; a table
//! with nothing above its heading row loads into other systems unchanged.

use super::{FairRow, HEADINGS, cells};

/// The byte-order mark of UTF-8.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// Renders the rows, numbered from 1. Writing into memory fails only on a bug.
pub fn render(rows: &[FairRow]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.to_vec());
    writer.write_record(HEADINGS)?;
    for (i, row) in rows.iter().enumerate() {
        writer.write_record(cells(i + 1, row))?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::print::FairNeed;

    fn row(family: &str) -> FairRow {
        FairRow {
            school: "Школа-гимназия № 7; «Болашақ»".into(),
            grade: Some(3),
            family_name: family.into(),
            given_name: "Іңкәр".into(),
            patronymic: String::new(),
            birth_date: date(2015, 4, 9),
            needs: vec![FairNeed {
                item: "Обувь".into(),
                left_tiyn: 1_200_000,
            }],
            estimated_tiyn: 1_500_000,
            committed_tiyn: 300_000,
            remaining_tiyn: 1_200_000,
        }
    }

    #[test]
    fn starts_with_the_mark_and_quotes_what_needs_it() {
        let bytes = render(&[row("Құрманғали \"Өмір\"")]).expect("rendered");
        assert!(bytes.starts_with(BOM));
        let text = String::from_utf8(bytes[BOM.len()..].to_vec()).expect("UTF-8");
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], HEADINGS.join(";"));
        assert_eq!(
            lines[1],
            "1;\"Школа-гимназия № 7; «Болашақ»\";3;\"Құрманғали \"\"Өмір\"\"\";Іңкәр;;09.04.2015;\
             Обувь — 12\u{a0}000,00;15\u{a0}000,00;3\u{a0}000,00;12\u{a0}000,00;"
        );
        assert_eq!(lines[2], "");
    }

    #[test]
    fn reads_back_with_a_csv_reader() {
        let rows = [row("Әбенова"), row("Үсенов")];
        let bytes = render(&rows).expect("rendered");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(&bytes[BOM.len()..]);
        let read: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
        assert_eq!(read.len(), 2);
        assert_eq!(&read[1][0], "2");
        assert_eq!(&read[1][3], "Үсенов");
    }

    #[test]
    fn an_empty_list_is_the_heading_row() {
        let bytes = render(&[]).expect("rendered");
        let text = String::from_utf8(bytes[BOM.len()..].to_vec()).expect("UTF-8");
        assert_eq!(text, format!("{}\r\n", HEADINGS.join(";")));
    }
}
