//! Reading one setting at a time: empty values count as unset, every problem is collected (so
//! the operator sees every bad value in one start-up line), and the https-only rule for
//! upstream URLs.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use reqwest::Url;

/// The environment (or a test's map) being read, and what reading it found wrong.
pub(super) struct Reader<Lookup> {
    lookup: Lookup,
    problems: Vec<String>,
    /// Settings that are set but have no effect with the others (WARN lines at start-up).
    ignored: Vec<String>,
}

impl<Lookup: Fn(&str) -> Option<String>> Reader<Lookup> {
    pub(super) fn new(lookup: Lookup) -> Self {
        Reader {
            lookup,
            problems: Vec::new(),
            ignored: Vec::new(),
        }
    }

    /// The value of `name`, trimmed; empty counts as unset.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// The value of `name`, or `default`.
    pub(super) fn get_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    pub(super) fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(super) fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// A setting that is valid but has no effect with the others.
    pub(super) fn ignored(&mut self, why: impl Into<String>) {
        self.ignored.push(why.into());
    }

    /// A `true`/`false` setting (`1`/`0` and `yes`/`no` are accepted too).
    pub(super) fn flag(&mut self, name: &str, default: bool) -> bool {
        let Some(value) = self.get(name) else {
            return default;
        };
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => {
                self.problem(format!("{name} must be `true` or `false`, not `{value}`"));
                default
            }
        }
    }

    /// A whole number in `range`, or `default` when unset (and when invalid: the problem is
    /// recorded, so the settings are never built with it).
    pub(super) fn number(&mut self, name: &str, default: u64, range: RangeInclusive<u64>) -> u64 {
        let Some(raw) = self.get(name) else {
            return default;
        };
        match raw.parse::<u64>() {
            Ok(value) if range.contains(&value) => value,
            _ => {
                self.problem(format!(
                    "{name} must be a whole number from {} to {}, not `{raw}`",
                    range.start(),
                    range.end()
                ));
                default
            }
        }
    }

    /// One of `choices` (the first is the default when unset); anything else is a problem.
    pub(super) fn choice<T: Copy>(&mut self, name: &str, choices: &[(&str, T)]) -> T {
        let default = choices[0].1;
        let Some(value) = self.get(name) else {
            return default;
        };
        match choices.iter().find(|(word, _)| *word == value) {
            Some((_, chosen)) => *chosen,
            None => {
                let words: Vec<String> = choices
                    .iter()
                    .map(|(word, _)| format!("`{word}`"))
                    .collect();
                self.problem(format!("{name} must be {}, not `{value}`", one_of(&words)));
                default
            }
        }
    }

    /// An upstream URL under the https-only rule, or `None` (the problem recorded).
    pub(super) fn upstream_url(&mut self, name: &str, raw: &str) -> Option<Url> {
        parse_upstream_url(name, raw)
            .map_err(|problem| self.problem(problem))
            .ok()
    }

    /// What was read, or every problem found.
    pub(super) fn finish<T>(self, read: T) -> Result<(T, Vec<String>), Vec<String>> {
        if self.problems.is_empty() {
            Ok((read, self.ignored))
        } else {
            Err(self.problems)
        }
    }
}

/// "`a`, `b` or `c`".
fn one_of(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Parses an upstream base URL and applies the https-only rule: plain `http://` only for
/// loopback hosts, so test doubles work and a production deployment cannot be pointed at an
/// unencrypted (or SSRF-friendly internal) endpoint. URLs carrying credentials, a query or a
/// fragment are refused: the path is joined to, and userinfo would end up in logs.
pub fn parse_upstream_url(name: &str, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| format!("{name} is not a valid URL"))?;
    let Some(host) = url.host_str() else {
        return Err(format!("{name} has no host"));
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        "http" => {
            return Err(format!(
                "{name} must use https:// (plain http:// is only allowed for loopback hosts)"
            ))
        }
        _ => return Err(format!("{name} must be an https:// URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{name} must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{name} must not have a query or fragment"));
    }
    Ok(url)
}

fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // `Url::host_str` keeps the brackets of an IPv6 literal.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
