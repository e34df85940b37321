//! Names as the data bank compares them (rule 2): a child listed without an IIN is a
//! probable duplicate of another with the same normalised name and birth date in the
//! campaign. Normalising ignores case, extra spaces, «ё» against «е», and the order of the
//! surname, given name and patronymic, which schools write either way round.

/// `full_name` as the data bank compares it.
pub fn normalise(full_name: &str) -> String {
    let mut words: Vec<String> = full_name
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .flat_map(char::to_lowercase)
                .map(|c| if c == 'ё' { 'е' } else { c })
                .collect()
        })
        .collect();
    words.sort();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_spaces_yo_and_word_order_do_not_matter() {
        assert_eq!(
            normalise("  Сейтқали   Әлия Ерланқызы "),
            normalise("әлия сейтқали ерланқызы")
        );
        assert_eq!(normalise("Королёва Анна"), normalise("королева, анна"));
        assert_ne!(
            normalise("Айгерім Бек"),
            normalise("Айгерим Бек"),
            "і is a letter of its own"
        );
    }
}
