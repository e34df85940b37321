//! The Kazakhstan individual identification number (ИИН / ЖСН), the key of the data bank
//! (rule 2): twelve digits — the birth date as YYMMDD, a digit for the century and sex,
//! four serial digits and a check digit. The check digit is the weighted sum of the first
//! eleven digits modulo 11, with weights 1…11; when that gives 10, the weights 3…11, 1, 2
//! are used instead, and a number for which both give 10 is never issued.

use jiff::civil::Date;

/// A valid IIN. Its `Debug` hides the digits, so that a child's number never reaches a
/// log line through a formatted value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iin(String);

impl std::fmt::Debug for Iin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Iin(…)")
    }
}

/// Why a string is not an IIN; the text names no digit of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIin {
    /// Not twelve digits.
    #[error("an IIN is twelve digits")]
    Format,
    /// The first six digits are not a date, or the seventh no century.
    #[error("the first seven digits of an IIN are a birth date and a century digit 1 to 6")]
    BirthDate,
    /// The check digit does not match: a mistyped number.
    #[error("the check digit does not match: the number is mistyped")]
    CheckDigit,
}

const FIRST_WEIGHTS: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const SECOND_WEIGHTS: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

fn weighted(digits: &[u32], weights: &[u32; 11]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| d * w).sum::<u32>() % 11
}

/// The check digit of the first eleven digits; `None` when no IIN has them.
fn check_digit(digits: &[u32]) -> Option<u32> {
    match weighted(digits, &FIRST_WEIGHTS) {
        10 => match weighted(digits, &SECOND_WEIGHTS) {
            10 => None,
            c => Some(c),
        },
        c => Some(c),
    }
}

impl Iin {
    /// Parses an IIN: twelve digits, a birth date, and the check digit.
    pub fn parse(raw: &str) -> Result<Iin, InvalidIin> {
        let raw = raw.trim();
        if raw.len() != 12 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidIin::Format);
        }
        let digits: Vec<u32> = raw.bytes().map(|b| u32::from(b - b'0')).collect();
        birth_date(&digits).ok_or(InvalidIin::BirthDate)?;
        match check_digit(&digits[..11]) {
            Some(c) if c == digits[11] => Ok(Iin(raw.to_string())),
            _ => Err(InvalidIin::CheckDigit),
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date the number carries.
    pub fn birth_date(&self) -> Date {
        let digits: Vec<u32> = self.0.bytes().map(|b| u32::from(b - b'0')).collect();
        // Parsing checked it.
        birth_date(&digits).unwrap_or(Date::MIN)
    }
}

fn birth_date(digits: &[u32]) -> Option<Date> {
    let yy = digits[0] * 10 + digits[1];
    let century = match digits[6] {
        1 | 2 => 1800,
        3 | 4 => 1900,
        5 | 6 => 2000,
        _ => return None,
    };
    let year = i16::try_from(century + yy).ok()?;
    let month = i8::try_from(digits[2] * 10 + digits[3]).ok()?;
    let day = i8::try_from(digits[4] * 10 + digits[5]).ok()?;
    Date::new(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_number_passes_and_carries_its_birth_date() {
        let iin = Iin::parse("150313518156").expect("valid, first weights");
        assert_eq!(iin.birth_date(), jiff::civil::date(2015, 3, 13));
        assert_eq!(format!("{iin:?}"), "Iin(…)");
    }

    #[test]
    fn the_second_weights_decide_when_the_first_give_ten() {
        // 1·1 + 2·2 + … over 12051458194 is 10 mod 11; the weights 3…11, 1, 2 give 2.
        let digits: Vec<u32> = "12051458194".bytes().map(|b| u32::from(b - b'0')).collect();
        assert_eq!(weighted(&digits, &FIRST_WEIGHTS), 10);
        assert!(Iin::parse("120514581942").is_ok());
        assert_eq!(Iin::parse("120514581940"), Err(InvalidIin::CheckDigit));
    }

    #[test]
    fn mistyped_and_malformed_numbers_are_refused() {
        // One digit changed.
        assert_eq!(Iin::parse("150313518157"), Err(InvalidIin::CheckDigit));
        // Two neighbours swapped.
        assert_eq!(Iin::parse("150313158156"), Err(InvalidIin::CheckDigit));
        assert_eq!(Iin::parse("15031351815"), Err(InvalidIin::Format));
        assert_eq!(Iin::parse("15031351815a"), Err(InvalidIin::Format));
        // 31 February, and a century digit of 0.
        assert_eq!(Iin::parse("150231518156"), Err(InvalidIin::BirthDate));
        assert_eq!(Iin::parse("150313018156"), Err(InvalidIin::BirthDate));
        // Numbers both weightings give 10 for are never issued, whatever the last digit.
        for last in 0..10 {
            assert!(Iin::parse(&format!("17061461250{last}")).is_err());
        }
    }
}
