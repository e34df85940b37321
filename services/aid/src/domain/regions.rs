//! Kazakhstan's regions as ISO 3166-2 codes (rule 1): the seventeen oblasts, three of them
//! created in 2022 (Abai, Jetisu, Ulytau), and the cities of republican significance Astana,
//! Almaty and Shymkent.

/// Every region: code and name.
pub const REGIONS: [(&str, &str); 20] = [
    ("KZ-10", "Абайская область"),
    ("KZ-11", "Акмолинская область"),
    ("KZ-15", "Актюбинская область"),
    ("KZ-19", "Алматинская область"),
    ("KZ-23", "Атырауская область"),
    ("KZ-27", "Западно-Казахстанская область"),
    ("KZ-31", "Жамбылская область"),
    ("KZ-33", "Жетысуская область"),
    ("KZ-35", "Карагандинская область"),
    ("KZ-39", "Костанайская область"),
    ("KZ-43", "Кызылординская область"),
    ("KZ-47", "Мангистауская область"),
    ("KZ-55", "Павлодарская область"),
    ("KZ-59", "Северо-Казахстанская область"),
    ("KZ-61", "Туркестанская область"),
    ("KZ-62", "Улытауская область"),
    ("KZ-63", "Восточно-Казахстанская область"),
    ("KZ-71", "Астана"),
    ("KZ-75", "Алматы"),
    ("KZ-79", "Шымкент"),
];

/// Whether `code` is one of Kazakhstan's regions.
pub fn is_region(code: &str) -> bool {
    REGIONS.iter().any(|(c, _)| *c == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cities_and_the_new_oblasts_are_regions() {
        for code in ["KZ-71", "KZ-75", "KZ-79", "KZ-10", "KZ-33", "KZ-62"] {
            assert!(is_region(code), "{code}");
        }
        assert!(!is_region("KZ-99"));
        assert!(!is_region("BG-22"));
    }
}
