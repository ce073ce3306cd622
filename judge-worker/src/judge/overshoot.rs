//! How far past its time limit a run's wall clock may go before it is stopped.

use std::str::FromStr;
use std::time::Duration;

/// The wall-clock allowance over the (CPU) time limit: the greater of a fixed time and a share of
/// the limit. DOMjudge's default, `1s|10%`, is ours: a program that sleeps or blocks is stopped
/// (`time_limit_exceeded`) at most a second or a tenth past its time limit, and a program that
/// really computes is never stopped by the wall clock before its CPU time runs out, start-up and
/// the machine's own noise included. On a loaded machine the sandbox adds the time the run waited
/// for a CPU (see `sandbox`'s `wall_time`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overshoot {
    pub at_least: Duration,
    /// A share of the time limit (0.1 = 10 %).
    pub share: f64,
}

impl Default for Overshoot {
    fn default() -> Self {
        Overshoot {
            at_least: Duration::from_secs(1),
            share: 0.1,
        }
    }
}

impl Overshoot {
    /// The wall-clock limit of a run with this CPU time limit.
    pub fn wall_limit(&self, time_limit: Duration) -> Duration {
        time_limit + self.at_least.max(time_limit.mul_f64(self.share))
    }
}

impl std::fmt::Display for Overshoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}s|{}%", self.at_least.as_secs_f64(), self.share * 100.0)
    }
}

/// Terms separated by `|`, each a time (`1s`, `500ms`) or a share of the limit (`10%`); the
/// greater applies. A term left out counts as zero: `2s` alone is two seconds, whatever the limit.
impl FromStr for Overshoot {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut o = Overshoot {
            at_least: Duration::ZERO,
            share: 0.0,
        };
        for term in s.split('|').map(str::trim) {
            let number = |t: &str| -> Result<f64, String> {
                t.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("{term:?} is not a time (1s, 500ms) or a share (10%)"))
            };
            if let Some(p) = term.strip_suffix('%') {
                o.share = o.share.max(number(p)? / 100.0);
            } else if let Some(ms) = term.strip_suffix("ms") {
                o.at_least = o.at_least.max(Duration::from_secs_f64(number(ms)? / 1000.0));
            } else if let Some(secs) = term.strip_suffix('s') {
                o.at_least = o.at_least.max(Duration::from_secs_f64(number(secs)?));
            } else {
                return Err(format!("{term:?} is not a time (1s, 500ms) or a share (10%)"));
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_greater_of_a_second_and_a_tenth() {
        let o = Overshoot::default();
        assert_eq!(o.wall_limit(Duration::from_secs(5)), Duration::from_secs(6));
        assert_eq!(o.wall_limit(Duration::from_secs(20)), Duration::from_secs(22));
        assert_eq!("1s|10%".parse::<Overshoot>(), Ok(o));
    }

    #[test]
    fn terms_parse_and_bad_ones_are_named() {
        let o: Overshoot = "500ms".parse().expect("valid");
        assert_eq!(
            o.wall_limit(Duration::from_secs(10)),
            Duration::from_millis(10_500)
        );
        let o: Overshoot = "25%".parse().expect("valid");
        assert_eq!(o.wall_limit(Duration::from_secs(4)), Duration::from_secs(5));
        let e = "1s|ten%".parse::<Overshoot>().expect_err("invalid");
        assert!(e.contains("ten%"), "{e}");
        assert!("2".parse::<Overshoot>().is_err());
    }
}
