//! Email addresses as the sign-up takes them (docs/behaviour.md, "Sign-up"): the address a user
//! types, checked and normalised once, before anything is sent anywhere. The rules are the
//! practical subset of RFC 5321/5322 that mail providers accept for new accounts: a dot-atom
//! local part of at most 64 bytes, a domain of DNS labels (IDNs in their `xn--` form), at most
//! 254 bytes in all. Quoted local parts, comments, IP literals and non-ASCII (SMTPUTF8)
//! addresses are refused. The whole address is lower-cased: Authsignal's lookup by email may be
//! case-sensitive, and `Ada@Example.com` must find the account `ada@example.com` made.

/// The longest address a mail server accepts (RFC 5321's 256-byte path, less the brackets).
pub const MAX_EMAIL_BYTES: usize = 254;
const MAX_LOCAL_PART_BYTES: usize = 64;
const MAX_DOMAIN_BYTES: usize = 253;
const MAX_LABEL_BYTES: usize = 63;

/// A checked, lower-cased email address. It is personal data: `Debug` shows only its domain.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The address `text` names, or why it is not one the sign-up takes (safe to show the
    /// caller: it never repeats the text).
    pub fn parse(text: &str) -> Result<EmailAddress, &'static str> {
        if text.len() > MAX_EMAIL_BYTES {
            return Err("email is longer than 254 bytes");
        }
        let (local, domain) = text
            .rsplit_once('@')
            .ok_or("email must be an address like name@example.com")?;
        if !is_local_part(local) {
            return Err("email's part before the @ is not a plain address (letters, digits, . and !#$%&'*+/=?^_`{|}~-)");
        }
        let domain = domain.to_ascii_lowercase();
        if !is_domain(&domain) || !domain.contains('.') {
            return Err("email's domain is not a domain name like example.com");
        }
        Ok(EmailAddress(format!(
            "{}@{domain}",
            local.to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl std::fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmailAddress(…@{})", self.domain())
    }
}

/// RFC 5322's dot-atom: atext runs separated by single dots.
fn is_local_part(local: &str) -> bool {
    let atext = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&byte);
    (1..=MAX_LOCAL_PART_BYTES).contains(&local.len())
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(atext))
}

/// A DNS name of letters, digits and hyphens, in lower case: labels of 1 to 63 bytes that
/// neither start nor end with a hyphen, a top-level label that is not all digits.
pub fn is_domain(domain: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=MAX_LABEL_BYTES).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    };
    (1..=MAX_DOMAIN_BYTES).contains(&domain.len())
        && domain.split('.').all(label_ok)
        && !domain
            .rsplit('.')
            .next()
            .is_some_and(|top| top.bytes().all(|byte| byte.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_checked_and_lower_cased() {
        for (text, normalised) in [
            ("ada@example.com", "ada@example.com"),
            (
                "Ada.Lovelace+bridge@Example.COM",
                "ada.lovelace+bridge@example.com",
            ),
            (
                "o'neil@mail.xn--80ak6aa92e.com",
                "o'neil@mail.xn--80ak6aa92e.com",
            ),
        ] {
            assert_eq!(
                EmailAddress::parse(text).unwrap().as_str(),
                normalised,
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_oversized_and_exotic_addresses_are_refused() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        for text in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@example..com",
            "ada@-example.com",
            "ada@example.123",
            "ada@[127.0.0.1]",
            ".ada@example.com",
            "ada.@example.com",
            "a..da@example.com",
            "\"ada\"@example.com",
            "ada lovelace@example.com",
            "ada@exam ple.com",
            "ädä@example.com",
            "ada@exämple.com",
            "ada@example.com\n",
            "ada@example.com,bob@example.com",
            long_local.as_str(),
            long.as_str(),
        ] {
            assert!(EmailAddress::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn debug_shows_only_the_domain() {
        let email = EmailAddress::parse("ada@example.com").unwrap();
        assert_eq!(format!("{email:?}"), "EmailAddress(…@example.com)");
    }
}
