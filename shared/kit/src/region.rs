//! ISO 3166-2 region codes, the tenant key every programme shares (`RU-ALT`, `BG-22`,
//! `KZ-ALA`).

use std::fmt;

/// A syntactically valid ISO 3166-2 subdivision code: two upper-case letters, a hyphen, and
/// one to three upper-case letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode(String);

/// Why a string is not a region code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not an ISO 3166-2 code such as RU-ALT", crate::error::quote(.0))]
pub struct InvalidRegionCode(pub String);

impl RegionCode {
    /// Parses a code; lower case is accepted and normalised to upper case.
    pub fn parse(raw: &str) -> Result<Self, InvalidRegionCode> {
        let code = raw.trim().to_ascii_uppercase();
        let valid = match code.split_once('-') {
            Some((country, subdivision)) => {
                country.len() == 2
                    && country.bytes().all(|b| b.is_ascii_uppercase())
                    && (1..=3).contains(&subdivision.len())
                    && subdivision
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            }
            None => false,
        };
        if valid {
            Ok(RegionCode(code))
        } else {
            Err(InvalidRegionCode(raw.to_string()))
        }
    }

    /// The code, for example `RU-ALT`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO 3166-1 country part, for example `RU`.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_programmes_regions() {
        for code in ["RU-ALT", "RU-SAR", "BG-22", "KZ-ALA", "ru-mow"] {
            let region = RegionCode::parse(code).expect(code);
            assert_eq!(region.as_str(), code.to_ascii_uppercase());
        }
        assert_eq!(RegionCode::parse("BG-22").expect("valid").country(), "BG");
    }

    #[test]
    fn refuses_what_is_not_a_subdivision_code() {
        for code in [
            "", "RU", "RUS-ALT", "RU-", "RU-ALTA", "R1-ALT", "RU_ALT", "RU-AL T",
        ] {
            assert!(RegionCode::parse(code).is_err(), "{code:?} accepted");
        }
    }
}
