//! Reading request bodies into serde types without giving up on the first bad field.
//!
//! A derived `Deserialize` stops at the first error, but a client deserves one 422 naming every
//! invalid field. So body types declare each field as a [`Field<T>`], which never fails to
//! deserialize: it holds the value, or notes that it was missing or of the wrong type (an operator
//! object `{"$gt": ""}` where a string belongs is refused by name, never passed on). [`parse`]
//! also collects every field the type does not know (`serde_ignored`), and the caller's
//! validation adds its own rules through [`Fields`]; [`Fields::finish`] then answers with all of
//! them at once.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::problem::{FieldError, Problem};

/// One field of a request body as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    /// Absent or `null`.
    #[default]
    Missing,
    /// Present but not a `T`: the reason, phrased for the client ("must be a string").
    Invalid(String),
    Value(T),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Field::Missing);
        }
        Ok(match serde_json::from_value::<T>(value) {
            Ok(v) => Field::Value(v),
            Err(e) => Field::Invalid(client_message(&e.to_string())),
        })
    }
}

impl<T> Field<T> {
    /// The value, if one of the right type was sent.
    pub fn into_option(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// Turns serde's "invalid type: map, expected a string" into "must be a string".
fn client_message(serde: &str) -> String {
    match serde.split_once("expected ") {
        Some((_, expected)) => {
            let expected = expected.split(" at line").next().unwrap_or(expected);
            format!("must be {expected}")
        }
        None => serde.split(" at line").next().unwrap_or(serde).to_owned(),
    }
}

/// Why a body could not be read at all (before any field is looked at).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    /// One or more fields are invalid; every one is named.
    #[error("invalid fields: {}", names(.0))]
    Invalid(Vec<FieldError>),
}

fn names(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.field.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl BodyError {
    /// The problem document a client gets: 400 for a body that is not a JSON object, 422 naming
    /// the fields otherwise.
    pub fn problem(&self) -> Problem {
        match self {
            BodyError::MalformedJson(why) => {
                Problem::new(400, "malformed_json", "The body is not valid JSON").with_detail(why.clone())
            }
            BodyError::NotAnObject => Problem::new(400, "malformed_body", "The body must be a JSON object"),
            BodyError::Invalid(errors) => Problem::validation(errors.clone()),
        }
    }

    /// A 422 about one field.
    pub fn field(field: &str, message: impl Into<String>) -> BodyError {
        BodyError::Invalid(vec![FieldError::new(field, message)])
    }
}

/// Reads `body` as a `T` whose fields are [`Field`]s. Returns the value and a [`Fields`]
/// collector already holding an error for every unknown field and every field of the wrong type;
/// the caller adds its own checks and calls [`Fields::finish`].
pub fn parse<T: DeserializeOwned + Inspect>(body: &[u8]) -> Result<(T, Fields), BodyError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| BodyError::MalformedJson(e.to_string()))?;
    if !value.is_object() {
        return Err(BodyError::NotAnObject);
    }
    let mut fields = Fields::default();
    let mut unknown = Vec::new();
    let parsed: T = serde_ignored::deserialize(value, |path| unknown.push(path.to_string()))
        .map_err(|e| BodyError::MalformedJson(e.to_string()))?;
    for name in unknown {
        fields.error(&name, "is not a field of this request");
    }
    parsed.inspect(&mut fields);
    Ok((parsed, fields))
}

/// Implemented by body types (usually with [`inspect_fields!`](crate::inspect_fields)): records
/// an error for every field that was sent with the wrong type.
pub trait Inspect {
    fn inspect(&self, fields: &mut Fields);
}

/// Implements [`Inspect`] for a body struct from the names of its [`Field`] members.
#[macro_export]
macro_rules! inspect_fields {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        impl $crate::api::body::Inspect for $ty {
            fn inspect(&self, fields: &mut $crate::api::body::Fields) {
                $(
                    if let $crate::api::body::Field::Invalid(why) = &self.$field {
                        fields.error(stringify!($field), why.clone());
                    }
                )*
            }
        }
    };
}

/// Collects field errors while a request is validated, so one 422 can name every invalid field.
#[derive(Debug, Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        if !self.errors.iter().any(|e| e.field == field) {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// A required field, parsed with `parse`; records why when it is missing or invalid. Fields
    /// of the wrong type were recorded by [`parse`] already.
    pub fn required<T, U>(
        &mut self,
        name: &str,
        field: Field<T>,
        parse: impl FnOnce(T) -> Result<U, String>,
    ) -> Option<U> {
        match field {
            Field::Missing => {
                self.error(name, "is required");
                None
            }
            Field::Invalid(_) => None,
            Field::Value(v) => self.check(name, parse(v)),
        }
    }

    /// An optional field, parsed with `parse` when present.
    pub fn optional<T, U>(
        &mut self,
        name: &str,
        field: Field<T>,
        parse: impl FnOnce(T) -> Result<U, String>,
    ) -> Option<U> {
        match field {
            Field::Value(v) => self.check(name, parse(v)),
            _ => None,
        }
    }

    fn check<U>(&mut self, name: &str, result: Result<U, String>) -> Option<U> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(name, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Err` naming every recorded field, if any was recorded.
    pub fn finish(self) -> Result<(), BodyError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(BodyError::Invalid(self.errors))
        }
    }
}

/// A string that must not be empty.
pub fn non_empty(s: String) -> Result<String, String> {
    if s.is_empty() {
        Err("is required".to_owned())
    } else {
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        name: Field<String>,
        #[serde(default)]
        count: Field<u32>,
    }
    crate::inspect_fields!(Body { name, count });

    #[test]
    fn every_bad_field_is_named_at_once() {
        let (body, mut f) = parse::<Body>(br#"{"name": {"$gt": ""}, "count": -1, "extra": 1}"#).unwrap();
        assert_eq!(body.name, Field::Invalid("must be a string".into()));
        f.required("name", body.name, Ok::<_, String>);
        let e = f.finish().unwrap_err();
        let BodyError::Invalid(errors) = &e else {
            panic!("{e:?}")
        };
        let names: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["extra", "name", "count"]);
        assert_eq!(e.problem().status, 422);
    }

    #[test]
    fn missing_and_null_are_missing() {
        let (body, mut f) = parse::<Body>(br#"{"name": null}"#).unwrap();
        assert_eq!(body.name, Field::Missing);
        assert!(f.required("name", body.name, Ok::<_, String>).is_none());
        assert_eq!(f.finish().unwrap_err().problem().errors[0].message, "is required");
    }

    #[test]
    fn bodies_that_are_not_objects() {
        assert_eq!(parse::<Body>(b"{").unwrap_err().problem().status, 400);
        assert_eq!(parse::<Body>(b"[1]").unwrap_err(), BodyError::NotAnObject);
    }
}
