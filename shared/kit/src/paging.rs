//! List pagination after AIP-158: `page_size` is clamped, `page_token` is an opaque cursor
//! bound to the query it was issued for, so a token cannot be replayed against other filters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, reason};

/// Page size when the request gives none.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page size; larger requests are clamped to it.
pub const MAX_PAGE_SIZE: usize = 200;

/// The page size to use for a request's `page_size`: the default for zero, clamped to the
/// maximum, `INVALID_ARGUMENT` for a negative value.
pub fn page_size(requested: i32) -> Result<usize, ApiError> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(ApiError::invalid_field(
            reason::INVALID_FIELDS,
            "page_size",
            "must not be negative",
        )),
        n => Ok((n as usize).min(MAX_PAGE_SIZE)),
    }
}

/// The rows a store reads for a page of `size`: one more, so that
/// [`Page::from_overfetch`] knows whether another page follows.
pub fn overfetch_limit(size: usize) -> i64 {
    i64::try_from(size.saturating_add(1)).unwrap_or(i64::MAX)
}

/// Identifies a query (the list method and its filters) so that tokens are only accepted
/// for the query they were issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryFingerprint([u8; 8]);

impl QueryFingerprint {
    /// A fingerprint of the method and each filter value.
    pub fn of(parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        QueryFingerprint(out)
    }
}

/// A list request's paging, parsed: the page size, where to start, and the query the
/// tokens belong to.
#[derive(Debug, Clone)]
pub struct PageRequest<C> {
    /// How many items to return at most.
    pub size: usize,
    /// The cursor after which the page starts; `None` for the first page.
    pub after: Option<C>,
    query: QueryFingerprint,
}

impl<C: Serialize + DeserializeOwned> PageRequest<C> {
    /// Parses `page_size` and `page_token` of a request whose method and filters are
    /// `query` (a token is valid only for the same method and filters).
    pub fn parse(requested_size: i32, page_token: &str, query: &[&str]) -> Result<Self, ApiError> {
        let query = QueryFingerprint::of(query);
        Ok(PageRequest {
            size: page_size(requested_size)?,
            after: decode_token(query, page_token)?,
            query,
        })
    }

    /// The `next_page_token` for a page that ends at `next` (empty on the last page).
    pub fn next_token(&self, next: Option<&C>) -> String {
        next.map(|cursor| encode_token(self.query, cursor))
            .unwrap_or_default()
    }
}

#[derive(Serialize, serde::Deserialize)]
struct Token<C> {
    q: String,
    c: C,
}

/// Encodes the cursor after the last item of a page.
pub fn encode_token<C: Serialize>(query: QueryFingerprint, cursor: &C) -> String {
    let token = Token {
        q: hex(&query.0),
        c: cursor,
    };
    // A cursor of plain values always serialises.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a request's `page_token`: `None` for the first page, the cursor otherwise, or
/// `INVALID_ARGUMENT` when the token is damaged or belongs to another query.
pub fn decode_token<C: DeserializeOwned>(
    query: QueryFingerprint,
    token: &str,
) -> Result<Option<C>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        ApiError::invalid_field(
            reason::PAGE_TOKEN_INVALID,
            "page_token",
            "not a token of this query; start again without page_token",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let token: Token<C> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.q != hex(&query.0) {
        return Err(invalid());
    }
    Ok(Some(token.c))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a page of a listing ends: the ordering key of its last item (a time, and an ID
/// that breaks ties), for listings ordered by creation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// The creation time of the last item.
    pub time: jiff::Timestamp,
    /// Its ID, breaking ties between equal times.
    pub id: String,
}

impl Cursor {
    /// The cursor as query parameters: the time and the ID, both `NULL` on the first page.
    pub fn split(cursor: Option<Cursor>) -> (Option<jiff_sqlx::Timestamp>, Option<String>) {
        match cursor {
            Some(c) => (Some(jiff_sqlx::ToSqlx::to_sqlx(c.time)), Some(c.id)),
            None => (None, None),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T, C = Cursor> {
    /// The items, at most the page size.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// A page from up to `size + 1` fetched items (query with `LIMIT size + 1`): the extra
    /// one only says that there is more.
    pub fn from_overfetch(mut items: Vec<T>, size: usize, cursor_of: impl Fn(&T) -> C) -> Self {
        let more = items.len() > size;
        items.truncate(size);
        let next = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Page { items, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_one_row_more_than_it_shows() {
        assert_eq!(overfetch_limit(50), 51);
        assert_eq!(overfetch_limit(usize::MAX), i64::MAX);
    }

    #[test]
    fn page_sizes_are_defaulted_and_clamped() {
        assert_eq!(page_size(0).expect("ok"), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7).expect("ok"), 7);
        assert_eq!(page_size(10_000).expect("ok"), MAX_PAGE_SIZE);
        assert!(page_size(-1).is_err());
    }

    #[test]
    fn a_page_request_issues_tokens_for_its_own_query() {
        let first: PageRequest<String> =
            PageRequest::parse(2, "", &["ListTeams", "RU-ALT"]).expect("first page");
        assert_eq!((first.size, first.after.clone()), (2, None));
        let token = first.next_token(Some(&"team-2".to_string()));
        let second: PageRequest<String> =
            PageRequest::parse(2, &token, &["ListTeams", "RU-ALT"]).expect("next page");
        assert_eq!(second.after.as_deref(), Some("team-2"));
        assert!(PageRequest::<String>::parse(2, &token, &["ListTeams", "RU-SAR"]).is_err());
        assert_eq!(second.next_token(None), "");
    }

    #[test]
    fn a_token_works_only_for_its_query() {
        let query = QueryFingerprint::of(&["ListContests", "OPEN"]);
        let token = encode_token(query, &("2025-01-01T00:00:00Z", "abc"));
        let cursor: Option<(String, String)> = decode_token(query, &token).expect("same query");
        assert_eq!(cursor, Some(("2025-01-01T00:00:00Z".into(), "abc".into())));

        let other = QueryFingerprint::of(&["ListContests", "DRAFT"]);
        let err = decode_token::<(String, String)>(other, &token).expect_err("other query");
        assert_eq!(err.reason, reason::PAGE_TOKEN_INVALID);
        assert!(decode_token::<(String, String)>(query, "garbage!").is_err());
    }
}
