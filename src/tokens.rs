//! The vocabulary every layer shares: the tokens an app sends and the answer Auth0 gives. They
//! grant access, so none of them prints its value: a stray `{:?}` or `%` cannot put one in a
//! log line.

use bytes::Bytes;

/// Declares a newtype over a string the app sent that grants access: its `Debug` never prints
/// it, and it has no `Display`, so a stray `{:?}` or `%` cannot put it in a log line.
macro_rules! confidential_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value (one from the app is checked against the request rules' limits first).
            pub fn new(value: String) -> Self {
                $name(value)
            }

            pub fn expose(&self) -> &str {
                &self.0
            }

            /// The value itself, for the one place that sends it.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }
    };
}

confidential_text!(
    /// The token the app got from Authsignal's SDK.
    AuthsignalToken
);
confidential_text!(
    /// An Auth0 refresh token the app holds (to redeem or to revoke).
    RefreshToken
);
confidential_text!(
    /// A DPoP proof (RFC 9449) the app signed for Auth0's token endpoint: forwarded unchanged,
    /// never logged (it is good for one request, and could be replayed within its lifetime).
    DpopProof
);
confidential_text!(
    /// The assertion the bridge signed for one sign-in (see `crate::flow::assertion`): a
    /// credential Auth0 accepts for 60 s.
    BridgeAssertion
);

/// Auth0's token answer, exactly as Auth0 sent it (the app gets it unchanged), and the
/// `DPoP-Nonce` Auth0 sent with it, if any (passed on to the app for its next proof).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub body: Bytes,
    pub dpop_nonce: Option<String>,
}

// Holds access/id/refresh tokens: never print them.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenResponse([REDACTED; {} bytes])", self.body.len())
    }
}
