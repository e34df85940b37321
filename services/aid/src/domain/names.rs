//! Names as the data bank compares them (rule 2): a child listed without an IIN is a
//! probable duplicate of another with the same normalised name and birth date in the
//! campaign. Normalising ignores case, extra spaces, «ё» against «е», hyphens, the
//! compatibility forms of a letter (NFKC: a Kazakh letter typed as a base letter and a
//! combining mark is the same letter), and the order of the surname, given name and
//! patronymic, which schools write either way round.

use unicode_normalization::UnicodeNormalization;

/// The full name of `family`, `given` and `patronymic` as the data bank compares it.
pub fn normalise_parts(family: &str, given: &str, patronymic: &str) -> String {
    normalise(&format!("{family} {given} {patronymic}"))
}

/// `full_name` as the data bank compares it.
pub fn normalise(full_name: &str) -> String {
    let nfkc: String = full_name.nfkc().collect();
    let mut words: Vec<String> = nfkc
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | '.' | '-' | '\u{2010}' | '\u{2011}')
        })
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

    #[test]
    fn composed_and_decomposed_letters_and_hyphens_are_one() {
        // «й» typed as «и» and a combining breve; a double-barrelled surname.
        assert_eq!(
            normalise_parts("Кайырбекова-Ахметова", "Аи\u{306}гуль", ""),
            normalise_parts("Кайырбекова Ахметова", "Айгуль", "")
        );
        assert_eq!(normalise("ﬁ"), "fi", "compatibility forms fold");
    }
}
