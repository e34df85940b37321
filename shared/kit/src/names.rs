//! People's names as the suite compares them: aid's data bank finds a child listed without
//! an IIN as a probable duplicate of another with the same normalised name and birth date,
//! and a child's cross-programme view finds one child's records in the services that hold
//! no identity document by it. Normalising ignores case, extra spaces, «ё» against «е», hyphens, the
//! compatibility forms of a letter (NFKC: a Kazakh letter typed as a base letter and a
//! combining mark is the same letter), and the order of the surname, given name and
//! patronymic, which schools write either way round.

use unicode_normalization::UnicodeNormalization;

/// The full name of `family`, `given` and `patronymic` as the suite compares it.
pub fn normalise_parts(family: &str, given: &str, patronymic: &str) -> String {
    normalise(&format!("{family} {given} {patronymic}"))
}

/// `full_name` as the suite compares it.
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

/// An identity document's series and number as the suite compares them (a child's
/// cross-programme view, certificates' one child per document): without spaces, dots,
/// hyphens, dashes and `№`, in upper case, with the Cyrillic capitals that look like Latin
/// ones (А В Е К М Н О Р С Т Х У І) taken as those, since documents are typed either way.
/// Certificates keeps the same rule in SQL, `certificates.identity_document_key`, for its
/// index; a test holds the two together.
pub fn identity_document_key(document: &str) -> String {
    document
        .nfkc()
        .filter(|c| {
            !(c.is_whitespace()
                || matches!(
                    c,
                    '.' | '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '№'
                ))
        })
        .flat_map(char::to_uppercase)
        .map(|c| match c {
            'А' => 'A',
            'В' => 'B',
            'Е' => 'E',
            'К' => 'K',
            'М' => 'M',
            'Н' => 'H',
            'О' => 'O',
            'Р' => 'P',
            'С' => 'C',
            'Т' => 'T',
            'Х' => 'X',
            'У' => 'Y',
            'І' => 'I',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_compared_without_its_spelling() {
        let key = identity_document_key("I-ТО 100001");
        assert_eq!(key, "ITO100001");
        for spelling in ["i то №100001", "I–TO 100001", "І-ТО  100 001", "i.to.100001"] {
            assert_eq!(identity_document_key(spelling), key, "{spelling:?}");
        }
        assert_ne!(identity_document_key("I-ТО 100002"), key);
        assert_eq!(identity_document_key("880101300123"), "880101300123");
    }

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
