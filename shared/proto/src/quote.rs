//! Quoting untrusted text in messages: at most a short prefix, so that an error or a log
//! line about a value never grows with the value.

/// The most characters of an untrusted value an error quotes.
pub const MAX_QUOTED_CHARS: usize = 32;

/// `value` when it is short, else its first [`MAX_QUOTED_CHARS`] characters and `…`.
pub fn prefix(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        None => value.to_string(),
        Some((end, _)) => format!("{}…", &value[..end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_short_on_a_character_boundary() {
        assert_eq!(prefix("contests/a"), "contests/a");
        let long = "д".repeat(10_000);
        let quoted = prefix(&long);
        assert_eq!(quoted.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(quoted.ends_with('…'));
    }
}
