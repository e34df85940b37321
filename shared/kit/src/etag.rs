//! Optimistic concurrency for changes people make by hand (AIP-154): every resource carries
//! a version; its etag is that version, quoted; a write that names a stale etag is refused
//! with `ABORTED` so the client re-reads instead of overwriting someone else's change.

use crate::error::ApiError;

/// The etag of a resource at `version`.
pub fn of(version: i64) -> String {
    format!("\"{version}\"")
}

/// `Ok` when `supplied` is empty (the client does not ask for the check) or names `version`.
pub fn check(supplied: &str, version: i64, what: &str) -> Result<(), ApiError> {
    if supplied.is_empty() || supplied == of(version) {
        Ok(())
    } else {
        Err(ApiError::etag_mismatch(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_etags_are_aborted() {
        assert!(check("", 3, "contests/x").is_ok());
        assert!(check(&of(3), 3, "contests/x").is_ok());
        let err = check(&of(2), 3, "contests/x").expect_err("stale");
        assert_eq!(err.kind, crate::error::ErrorKind::Aborted);
    }
}
