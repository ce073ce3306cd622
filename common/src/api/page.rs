//! Lists are paged by cursor, never by offset: a page is `limit` items in the list's order and
//! `next_cursor` (the last item's id) asks for the page after it. No count, no `skip`: every page
//! is one indexed read, however long the list.

use serde::{Deserialize, Serialize};

use super::body::Fields;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of `limit` items from `fetched`, which holds up to `limit + 1` (one more tells
    /// whether a next page exists); `id` names an item for the cursor.
    pub fn from_fetched(mut fetched: Vec<T>, limit: usize, id: impl Fn(&T) -> String) -> Page<T> {
        let more = fetched.len() > limit;
        fetched.truncate(limit);
        let next_cursor = if more { fetched.last().map(id) } else { None };
        Page {
            items: fetched,
            next_cursor,
        }
    }
}

/// The paging part of a list's query string (`limit`, `cursor`), as strings from the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100.
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Most items a page may hold.
    pub const MAX_LIMIT: i64 = 100;

    /// `limit` (1–100, else `default`) and `cursor` (an id this API gave out, a UUID), recording
    /// what is wrong with either.
    pub fn read(&self, default: i64, f: &mut Fields) -> (i64, Option<String>) {
        let limit = match self.limit.as_deref().map(str::parse::<i64>) {
            None => default,
            Some(Ok(n)) if (1..=Self::MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                f.error("limit", "must be a whole number from 1 to 100");
                default
            }
        };
        let cursor = match self.cursor.as_deref().map(uuid::Uuid::parse_str) {
            None => None,
            Some(Ok(c)) => Some(c.to_string()),
            Some(Err(_)) => {
                f.error("cursor", "is not a cursor this API gave out");
                None
            }
        };
        (limit, cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<&str>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            limit: limit.map(str::to_owned),
            cursor: cursor.map(str::to_owned),
        }
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        let mut f = Fields::default();
        assert_eq!(query(None, None).read(20, &mut f), (20, None));
        assert_eq!(query(Some("100"), None).read(20, &mut f).0, 100);
        assert!(f.is_empty());
        for bad in ["0", "101", "-3", "ten", ""] {
            let mut f = Fields::default();
            assert_eq!(query(Some(bad), None).read(20, &mut f).0, 20);
            assert!(!f.is_empty(), "{bad:?} accepted");
        }
        let id = "01890a5d-ac96-774b-bcce-b302099a8057";
        let mut f = Fields::default();
        assert_eq!(query(None, Some(id)).read(20, &mut f).1.as_deref(), Some(id));
        query(None, Some("x' OR 1=1")).read(20, &mut f);
        let e = f.finish().unwrap_err().problem();
        assert_eq!(e.errors[0].field, "cursor");
    }

    #[test]
    fn a_page_knows_whether_another_follows() {
        let page = Page::from_fetched(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(page.items, [1, 2]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::from_fetched(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
        let empty = Page::from_fetched(Vec::<u8>::new(), 2, |n| n.to_string());
        assert!(empty.items.is_empty() && empty.next_cursor.is_none());
    }
}
