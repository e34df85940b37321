//! Resource names and IDs after AIP-122: `contests/{contest}`,
//! `contests/{contest}/applications/{application}`. IDs are 1 to 63 lower-case letters,
//! digits and hyphens starting with a letter, or server-chosen UUIDs.

use crate::error::{ApiError, quote, reason};

/// Why a string is not a usable resource ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is not an ID: use 1 to 63 lower-case letters, digits and hyphens, starting with a letter",
    quote(.0)
)]
pub struct InvalidId(pub String);

/// Checks a client-chosen ID against AIP-122.
pub fn parse_id(raw: &str) -> Result<String, InvalidId> {
    let bytes = raw.as_bytes();
    let valid = (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last() != Some(&b'-');
    if valid {
        Ok(raw.to_string())
    } else {
        Err(InvalidId(raw.to_string()))
    }
}

/// The client's ID when given, else a new server-chosen one.
pub fn id_or_new(requested: &str) -> Result<String, InvalidId> {
    if requested.is_empty() {
        Ok(new_id())
    } else {
        parse_id(requested)
    }
}

/// A new server-chosen ID: a UUIDv7, time-ordered, so rows are inserted in index order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn is_server_id(raw: &str) -> bool {
    uuid::Uuid::try_parse(raw).is_ok_and(|u| u.hyphenated().to_string() == raw)
}

fn parse_any_id(raw: &str) -> Option<String> {
    if is_server_id(raw) {
        Some(raw.to_string())
    } else {
        parse_id(raw).ok()
    }
}

/// Parses `<collection>/<id>` and returns the ID; `field` names the request field for the
/// error.
pub fn parse_name(name: &str, collection: &str, field: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::invalid_field(
            reason::INVALID_FIELDS,
            field,
            format!(
                "expected a name of the form {collection}/{{id}}, got {}",
                quote(name)
            ),
        )
    };
    let (head, id) = name.split_once('/').ok_or_else(bad)?;
    if head != collection {
        return Err(bad());
    }
    parse_any_id(id).ok_or_else(bad)
}

/// Parses `<parents>/<parent-id>/<children>/<child-id>` and returns both IDs.
pub fn parse_child_name(
    name: &str,
    parents: &str,
    children: &str,
    field: &str,
) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::invalid_field(
            reason::INVALID_FIELDS,
            field,
            format!(
                "expected a name of the form {parents}/{{id}}/{children}/{{id}}, got {}",
                quote(name)
            ),
        )
    };
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        [p, parent, c, child] if *p == parents && *c == children => Ok((
            parse_any_id(parent).ok_or_else(bad)?,
            parse_any_id(child).ok_or_else(bad)?,
        )),
        _ => Err(bad()),
    }
}

/// Parses a name of any depth, `<collections[0]>/<id>/<collections[1]>/<id>/…`, and returns
/// the IDs in order.
pub fn parse_nested<const N: usize>(
    name: &str,
    collections: [&str; N],
    field: &str,
) -> Result<[String; N], ApiError> {
    let bad = || {
        let form: Vec<String> = collections.iter().map(|c| format!("{c}/{{id}}")).collect();
        ApiError::invalid_field(
            reason::INVALID_FIELDS,
            field,
            format!(
                "expected a name of the form {}, got {}",
                form.join("/"),
                quote(name)
            ),
        )
    };
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() != 2 * N {
        return Err(bad());
    }
    let mut ids: [String; N] = std::array::from_fn(|_| String::new());
    for (i, collection) in collections.iter().enumerate() {
        if parts[2 * i] != *collection {
            return Err(bad());
        }
        ids[i] = parse_any_id(parts[2 * i + 1]).ok_or_else(bad)?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_follow_aip_122() {
        for ok in ["a", "detstvo-2027", "n1", &"a".repeat(63)] {
            assert!(parse_id(ok).is_ok(), "{ok:?} refused");
        }
        for bad in ["", "1abc", "Abc", "a_b", "a-", &"a".repeat(64), "дети"] {
            assert!(parse_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn nested_names_parse_at_any_depth() {
        let [c, a, r] = parse_nested(
            "contests/c1/applications/a1/reviews/r1",
            ["contests", "applications", "reviews"],
            "name",
        )
        .expect("name");
        assert_eq!((c.as_str(), a.as_str(), r.as_str()), ("c1", "a1", "r1"));
        for bad in [
            "contests/c1/applications/a1",
            "contests/c1/teams/a1/reviews/r1",
            "contests/c1/applications/-/reviews/r1",
        ] {
            assert!(
                parse_nested(bad, ["contests", "applications", "reviews"], "name").is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn server_ids_are_uuids_and_parse_back() {
        let id = id_or_new("").expect("new id");
        assert_eq!(
            parse_name(&format!("contests/{id}"), "contests", "name").expect("name"),
            id
        );
    }

    #[test]
    fn names_must_match_their_pattern() {
        assert_eq!(
            parse_name("contests/abc", "contests", "name").expect("ok"),
            "abc"
        );
        for bad in [
            "contests",
            "teams/abc",
            "contests/",
            "contests/abc/x",
            "contests/ABC",
        ] {
            let err = parse_name(bad, "contests", "name").expect_err(bad);
            assert_eq!(err.fields()[0].field, "name");
        }
        assert_eq!(
            parse_child_name(
                "contests/c1/applications/a1",
                "contests",
                "applications",
                "name"
            )
            .expect("ok"),
            ("c1".to_string(), "a1".to_string())
        );
        assert!(
            parse_child_name("contests/c1/teams/a1", "contests", "applications", "name").is_err()
        );
    }
}
