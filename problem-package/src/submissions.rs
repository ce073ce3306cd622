//! The submissions a package carries, filed by the verdicts they must get.
//!
//! The format files example submissions in `submissions/<folder>/`; the folder says which
//! verdicts a submission may get (problemarchive.org, legacy and 2023-07). Verdicts are named as
//! the judge names them (`accepted`, `wrong_answer`, …, snake case), since this crate does not
//! depend on the judge's types.

/// The verdicts a submission filed in `folder` may get; `None` for a folder the format does not
/// name.
pub fn expected_verdicts(folder: &str) -> Option<&'static [&'static str]> {
    Some(match folder {
        "accepted" => &["accepted"],
        "wrong_answer" => &["wrong_answer"],
        "time_limit_exceeded" => &["time_limit_exceeded"],
        "run_time_error" => &["runtime_error"],
        // Scoring problems: some points, not all.
        "partially_accepted" => &["partially_accepted"],
        // 2023-07: any verdict but accepted.
        "rejected" => &[
            "wrong_answer",
            "time_limit_exceeded",
            "runtime_error",
            "memory_limit_exceeded",
            "output_limit_exceeded",
        ],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_the_format() {
        assert_eq!(expected_verdicts("run_time_error"), Some(&["runtime_error"][..]));
        assert!(expected_verdicts("rejected").unwrap().contains(&"wrong_answer"));
        assert!(!expected_verdicts("rejected").unwrap().contains(&"accepted"));
        assert_eq!(expected_verdicts("runtime_error"), None);
    }
}
