//! The directory of innovations (deliverable 3): words in Bulgarian found whatever their
//! case, stress marks or ending, so that «иновация» finds «ИНОВАЦИИ».
//!
//! Postgres has no Bulgarian stemmer, so the service folds text itself: lower case, the
//! combining stress marks (U+0300, U+0301) dropped and «ѝ», «ѐ» written «и», «е» (the letters
//! «й» and «ё» keep their marks: they are other letters). The folded words are indexed
//! (`simple` configuration, no stemming); a searched word is folded the same way, its
//! inflectional ending (article, plural) removed, and matched as a prefix of the indexed
//! words.

/// Inflectional endings of Bulgarian nouns and adjectives (articles, plurals), longest
/// first; a searched word loses the first that leaves a stem of at least
/// [`MIN_STEM`] letters.
const ENDINGS: [&str; 21] = [
    "овете",
    "ията",
    "ата",
    "ите",
    "ята",
    "ото",
    "ове",
    "ия",
    "ии",
    "ът",
    "ят",
    "та",
    "те",
    "то",
    "а",
    "я",
    "е",
    "и",
    "о",
    "у",
    "ъ",
];

/// The shortest stem a searched word is cut to.
const MIN_STEM: usize = 4;

/// Words searched at most.
pub const MAX_WORDS: usize = 8;

/// `text` folded for the index.
pub fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{0300}' | '\u{0301}'))
        .map(|c| match c {
            'ѝ' | 'Ѝ' => 'и',
            'ѐ' | 'Ѐ' => 'е',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The stem a searched word is matched by.
fn stem(word: &str) -> String {
    let letters = word.chars().count();
    for ending in ENDINGS {
        if let Some(stem) = word.strip_suffix(ending)
            && letters - ending.chars().count() >= MIN_STEM
        {
            return stem.to_string();
        }
    }
    word.to_string()
}

/// The searched words as a `tsquery` of prefixes all of which must match (`иновац:* &
/// училищ:*`); `None` when the words hold no letter or digit. Only letters and digits
/// reach the query, so nothing a caller types is `tsquery` syntax.
pub fn prefix_query(words: &str) -> Option<String> {
    let folded = fold(words);
    let terms: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(|w| format!("{}:*", stem(w)))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_stress_marks_and_endings_do_not_matter() {
        // «иновация» and «ИНОВАЦИИ» share a stem; the index holds the folded word.
        assert_eq!(prefix_query("иновация").as_deref(), Some("иновац:*"));
        assert!(fold("ИНОВАЦИИ").starts_with("иновац"));
        assert_eq!(fold("училѝще и́ма"), "училище има");
        assert_eq!(prefix_query("училищата").as_deref(), Some("училищ:*"));
        // «й» is a letter of its own and keeps its mark.
        assert_eq!(fold("Мойто"), "мойто");
    }

    #[test]
    fn short_words_are_prefixes_as_typed_and_syntax_is_dropped() {
        assert_eq!(prefix_query("STEM").as_deref(), Some("stem:*"));
        assert_eq!(
            prefix_query("робот & | ! ( ) :*").as_deref(),
            Some("робот:*")
        );
        assert_eq!(prefix_query(" !! "), None);
    }
}
