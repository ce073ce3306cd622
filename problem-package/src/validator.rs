//! Output validation: the format's default validator, and the protocol of custom ones.
//!
//! The default validator compares the submission's output with the judge's answer token by token
//! (tokens are separated by whitespace), as the problem package format specifies:
//! - `case_sensitive`: letters must match in case (otherwise they need not);
//! - `space_change_sensitive`: whitespace must match exactly, not just separate tokens;
//! - `float_absolute_tolerance E`, `float_relative_tolerance E`, `float_tolerance E` (both): a
//!   judge token that is a number matches a submission number within either tolerance.
//!
//! A custom validator is run as `validator input answer feedback_dir [flags]` with the
//! submission's output on its standard input; exit 42 is accepted, 43 wrong answer, anything else
//! a judge error ([`custom_outcome`]).

/// Exit code of a custom validator for "accepted".
pub const EXIT_ACCEPTED: i32 = 42;
/// Exit code of a custom validator for "wrong answer".
pub const EXIT_WRONG_ANSWER: i32 = 43;

/// What a validator decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    Accepted,
    /// With a short explanation for the report.
    WrongAnswer(String),
}

/// The default validator, configured by its flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefaultValidator {
    pub case_sensitive: bool,
    pub space_change_sensitive: bool,
    pub float_absolute_tolerance: Option<f64>,
    pub float_relative_tolerance: Option<f64>,
}

impl DefaultValidator {
    /// Parses `validator_flags`; unknown flags and bad numbers are errors.
    pub fn from_flags(flags: &[String]) -> Result<DefaultValidator, String> {
        let mut v = DefaultValidator::default();
        let mut it = flags.iter();
        while let Some(flag) = it.next() {
            let mut number = || -> Result<f64, String> {
                let s = it
                    .next()
                    .ok_or_else(|| format!("validator flag {flag} needs a number"))?;
                s.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| format!("validator flag {flag}: {s:?} is not a tolerance"))
            };
            match flag.as_str() {
                "case_sensitive" => v.case_sensitive = true,
                "space_change_sensitive" => v.space_change_sensitive = true,
                "float_absolute_tolerance" => v.float_absolute_tolerance = Some(number()?),
                "float_relative_tolerance" => v.float_relative_tolerance = Some(number()?),
                "float_tolerance" => {
                    let x = number()?;
                    v.float_absolute_tolerance = Some(x);
                    v.float_relative_tolerance = Some(x);
                }
                other => return Err(format!("unknown validator flag {other:?}")),
            }
        }
        Ok(v)
    }

    /// Compares `output` with `answer`.
    pub fn judge(&self, output: &[u8], answer: &[u8]) -> Judgement {
        let (out, ans) = if self.space_change_sensitive {
            (runs(output), runs(answer))
        } else {
            (tokens(output), tokens(answer))
        };
        for (i, (o, a)) in out.iter().zip(ans.iter()).enumerate() {
            let o_space = o.first().is_some_and(u8::is_ascii_whitespace);
            let a_space = a.first().is_some_and(u8::is_ascii_whitespace);
            if o_space || a_space {
                if o != a {
                    return Judgement::WrongAnswer(format!("whitespace differs before token {}", i / 2 + 1));
                }
                continue;
            }
            if !self.token_matches(o, a) {
                let n = if self.space_change_sensitive {
                    i / 2 + 1
                } else {
                    i + 1
                };
                return Judgement::WrongAnswer(format!(
                    "token {n}: expected {:?}, got {:?}",
                    clip(a),
                    clip(o)
                ));
            }
        }
        match out.len().cmp(&ans.len()) {
            std::cmp::Ordering::Equal => Judgement::Accepted,
            std::cmp::Ordering::Less => Judgement::WrongAnswer("output ends too early".to_owned()),
            std::cmp::Ordering::Greater => {
                Judgement::WrongAnswer("output goes on after the answer".to_owned())
            }
        }
    }

    fn token_matches(&self, out: &[u8], ans: &[u8]) -> bool {
        if self.float_absolute_tolerance.is_some() || self.float_relative_tolerance.is_some() {
            if let Some(a) = parse_float(ans) {
                let Some(o) = parse_float(out) else {
                    return false;
                };
                if o == a {
                    return true;
                }
                let diff = (o - a).abs();
                return self.float_absolute_tolerance.is_some_and(|t| diff <= t)
                    || self.float_relative_tolerance.is_some_and(|t| diff <= t * a.abs());
            }
        }
        if self.case_sensitive {
            out == ans
        } else {
            out.eq_ignore_ascii_case(ans)
        }
    }
}

fn parse_float(token: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(token).ok()?;
    // Rust also parses "inf" and "nan": a judge answer never means those as numbers.
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse().ok()
}

fn clip(token: &[u8]) -> String {
    let s = String::from_utf8_lossy(token);
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.into_owned()
    }
}

fn tokens(text: &[u8]) -> Vec<&[u8]> {
    text.split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Alternating runs of whitespace and of other bytes.
fn runs(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=text.len() {
        if i == text.len() || text[i].is_ascii_whitespace() != text[start].is_ascii_whitespace() {
            out.push(&text[start..i]);
            start = i;
        }
    }
    out
}

/// Interprets a custom validator's exit code; `None` means the validator failed (a judge error).
pub fn custom_outcome(exit_code: Option<i32>, feedback: &str) -> Option<Judgement> {
    match exit_code {
        Some(EXIT_ACCEPTED) => Some(Judgement::Accepted),
        Some(EXIT_WRONG_ANSWER) => Some(Judgement::WrongAnswer(if feedback.trim().is_empty() {
            "rejected by the output validator".to_owned()
        } else {
            clip_message(feedback)
        })),
        _ => None,
    }
}

fn clip_message(s: &str) -> String {
    let s = s.trim();
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(flags: &str) -> DefaultValidator {
        let flags: Vec<String> = flags.split_whitespace().map(str::to_owned).collect();
        DefaultValidator::from_flags(&flags).expect("valid flags")
    }

    #[test]
    fn tokens_ignore_whitespace_and_case_by_default() {
        assert_eq!(
            v("").judge(b"  Hello\n\nWORLD ", b"hello world\n"),
            Judgement::Accepted
        );
        assert!(matches!(
            v("case_sensitive").judge(b"Hello", b"hello"),
            Judgement::WrongAnswer(_)
        ));
        assert!(matches!(v("").judge(b"1 2", b"1 2 3"), Judgement::WrongAnswer(_)));
        assert!(matches!(v("").judge(b"1 2 3", b"1 2"), Judgement::WrongAnswer(_)));
    }

    #[test]
    fn space_change_sensitive_compares_whitespace() {
        assert_eq!(
            v("space_change_sensitive").judge(b"1 2\n", b"1 2\n"),
            Judgement::Accepted
        );
        assert!(matches!(
            v("space_change_sensitive").judge(b"1  2\n", b"1 2\n"),
            Judgement::WrongAnswer(_)
        ));
    }

    #[test]
    fn float_tolerances() {
        assert_eq!(
            v("float_tolerance 1e-6").judge(b"0.3333333", b"0.333333333"),
            Judgement::Accepted
        );
        assert!(matches!(
            v("float_tolerance 1e-6").judge(b"0.3334", b"0.3333333"),
            Judgement::WrongAnswer(_)
        ));
        assert_eq!(
            v("float_absolute_tolerance 0.5").judge(b"10.4", b"10"),
            Judgement::Accepted
        );
        assert_eq!(
            v("float_relative_tolerance 0.1").judge(b"1050", b"1000"),
            Judgement::Accepted
        );
        assert!(matches!(
            v("float_relative_tolerance 0.01").judge(b"1050", b"1000"),
            Judgement::WrongAnswer(_)
        ));
        assert!(matches!(
            v("float_tolerance 1").judge(b"abc", b"1.0"),
            Judgement::WrongAnswer(_)
        ));
        assert_eq!(v("float_tolerance 1").judge(b"YES", b"yes"), Judgement::Accepted);
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(DefaultValidator::from_flags(&["float_tolerance".into()]).is_err());
        assert!(DefaultValidator::from_flags(&["bogus".into()]).is_err());
    }

    #[test]
    fn custom_exit_codes() {
        assert_eq!(custom_outcome(Some(42), ""), Some(Judgement::Accepted));
        assert!(matches!(custom_outcome(Some(43), "bad"), Some(Judgement::WrongAnswer(m)) if m == "bad"));
        assert_eq!(custom_outcome(Some(1), ""), None);
        assert_eq!(custom_outcome(None, ""), None);
    }
}
