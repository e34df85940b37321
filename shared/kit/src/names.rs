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
/// cross-programme view, certificates' one child per document), so that `I-ТО 100001`,
/// `i то №100001` and `І–TO 100 001` are one document:
///
/// 1. `№` is dropped, before NFKC, which would spell it `No`;
/// 2. NFKC: full-width digits, `Ⅰ` and non-breaking spaces become the plain ones;
/// 3. whitespace, dots, hyphens and dashes (U+2010–U+2014) are dropped;
/// 4. the Latin and Cyrillic letters (U+0061–U+007A, U+0430–U+045F) go to upper case, and
///    the Cyrillic capitals that look like Latin ones (А В Е К М Н О Р С Т Х У І) are taken
///    as those, since documents are typed either way. Other characters stay as typed.
///
/// Certificates computes the same key in SQL, `certificates.identity_document_key`, for the
/// index that keeps one child per document, and a test there holds the two together. That
/// is why step 4 is a table of its own and not `char::to_uppercase`: SQL's `upper` follows
/// the database's locale, while `translate` over the same table does not. The two may
/// differ only for characters newer than the Unicode version of the database's `normalize`
/// (Unicode guarantees that the normalisation of an assigned character never changes).
pub fn identity_document_key(document: &str) -> String {
    document
        .chars()
        .filter(|&c| c != '№')
        .nfkc()
        .filter(|&c| !is_document_separator(c))
        .map(fold_document_letter)
        .collect()
}

/// What step 3 of [`identity_document_key`] drops.
fn is_document_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | '-' | '\u{2010}'..='\u{2014}')
}

/// Step 4 of [`identity_document_key`]: one character's upper case, by the key's own table.
fn fold_document_letter(c: char) -> char {
    let upper = match c {
        'a'..='z' => c.to_ascii_uppercase(),
        // а–я → А–Я, ѐ–џ → Ѐ–Џ: the case pairs of the basic Cyrillic letters are a fixed
        // distance apart.
        'а'..='я' => char::from_u32(u32::from(c) - 0x20).unwrap_or(c),
        'ѐ'..='џ' => char::from_u32(u32::from(c) - 0x50).unwrap_or(c),
        _ => c,
    };
    match upper {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_compared_without_its_spelling() {
        let key = identity_document_key("I-ТО 100001");
        assert_eq!(key, "ITO100001");
        for spelling in [
            "i то №100001",
            "I–TO 100001",
            "І-ТО  100 001",
            "i.to.100001",
        ] {
            assert_eq!(identity_document_key(spelling), key, "{spelling:?}");
        }
        assert_ne!(identity_document_key("I-ТО 100002"), key);
        assert_eq!(identity_document_key("880101300123"), "880101300123");
        // Full-width digits, the Roman numeral one and a non-breaking space fold too; «№»
        // is dropped, not spelt «No».
        assert_eq!(identity_document_key("Ⅰ\u{a0}ТО №１００００１"), key);
        assert_eq!(
            identity_document_key("Nо 1"),
            "NO1",
            "a typed «No» is not «№»"
        );
    }

    #[test]
    fn the_document_letter_table_is_the_letters_own_upper_case() {
        for c in ('a'..='z').chain('а'..='я').chain('ѐ'..='џ') {
            let upper: String = c.to_uppercase().collect();
            assert_eq!(
                identity_document_key(&upper),
                identity_document_key(&c.to_string()),
                "{c:?}"
            );
        }
        assert_eq!(
            identity_document_key("ß é ә"),
            "ßéә",
            "other letters stay as typed"
        );
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
