//! Proving who someone is, kept apart from starting a session.
//!
//! Every way to sign in ends in an [`Authenticated`] (who, and which methods proved it); one
//! gate, [`gate`], decides what that proof is worth under the tenant's policy before anything
//! is issued: a session, or a second step. Policy that depends on HOW someone signed in lives
//! here and nowhere else.
//!
//! Invariants and the attacks they prevent:
//! - On a tenant that requires MFA nothing is issued for fewer than two INDEPENDENT factors. A
//!   mailbox code and a mailbox link are one factor (whoever reads the mailbox has both), so an
//!   email code alone, or a magic link alone, never yields a session there (the MFA bypass).
//! - Under the activation rule `identifier` a password alone signs in only when the account's
//!   email or phone has been proven; otherwise the code goes to that address first (so whoever
//!   registered someone else's address with their own password cannot use the account).
//! - `acr` is `usso:acr:2` only for two independent factors.

pub mod agent_jwt;
pub mod captcha;
pub mod codes;
pub mod hasher;
pub mod known_device;
pub mod limits;
pub mod links;
pub mod magic_link;
pub mod mfa;
pub mod otp;
pub mod password;
pub mod reset;

use serde::{Deserialize, Serialize};
use usso_shared::{Error, ErrorCode};

use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::identity::users::User;
use crate::tenants::{Activation, Tenant};

/// A method that proved identity (the `amr` value in tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Amr {
    /// A password.
    #[serde(rename = "password")]
    Password,
    /// A one-time code sent by email.
    #[serde(rename = "email/otp")]
    EmailOtp,
    /// A one-time code sent by SMS.
    #[serde(rename = "phone/otp")]
    PhoneOtp,
    /// A single-use link sent by email.
    #[serde(rename = "magic_link")]
    MagicLink,
}

/// What an attacker must hold to produce a method: two methods are independent factors only
/// when their factors differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Factor {
    /// Something the person knows.
    Knowledge,
    /// Control of the mailbox.
    Mailbox,
    /// Control of the phone number.
    Phone,
}

impl Amr {
    /// The `amr` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::EmailOtp => "email/otp",
            Self::PhoneOtp => "phone/otp",
            Self::MagicLink => "magic_link",
        }
    }

    /// The factor it proves.
    pub const fn factor(self) -> Factor {
        match self {
            Self::Password => Factor::Knowledge,
            Self::EmailOtp | Self::MagicLink => Factor::Mailbox,
            Self::PhoneOtp => Factor::Phone,
        }
    }

    /// The code method for a delivery channel's identifier kind.
    pub const fn code_for(kind: IdentifierKind) -> Self {
        match kind {
            IdentifierKind::Phone => Self::PhoneOtp,
            _ => Self::EmailOtp,
        }
    }
}

/// Someone proved who they are.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The account.
    pub user: User,
    /// The methods used, in order.
    pub amr: Vec<Amr>,
    /// Whether the identifier used to sign in is proven (by a code or link, now or before).
    pub identifier_verified: bool,
}

impl Authenticated {
    /// Distinct independent factors among the methods.
    pub fn factors(&self) -> usize {
        let mut f: Vec<Factor> = self.amr.iter().map(|a| a.factor()).collect();
        f.sort();
        f.dedup();
        f.len()
    }

    /// `amr` as strings.
    pub fn amr_strings(&self) -> Vec<String> {
        self.amr.iter().map(|a| a.as_str().to_owned()).collect()
    }

    /// The authentication context class the methods reach.
    pub fn acr(&self) -> Acr {
        if self.factors() >= 2 {
            Acr::TwoFactors
        } else {
            Acr::OneFactor
        }
    }
}

/// The authentication context class (`acr` in tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Acr {
    /// One factor (`usso:acr:1`).
    OneFactor,
    /// Two independent factors (`usso:acr:2`).
    TwoFactors,
}

impl Acr {
    /// The claim value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OneFactor => usso_shared::claims::ACR_ONE_FACTOR,
            Self::TwoFactors => usso_shared::claims::ACR_TWO_FACTORS,
        }
    }
}

/// Why a second step is needed after a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondStep {
    /// The tenant requires a second factor.
    Mfa,
    /// The account's address must be proven first (activation rule `identifier`).
    VerifyIdentifier,
}

/// What a proof is worth under the tenant's policy: the seam between proving identity and
/// starting anything. A session ([`crate::sessions::start`]), and later an authorization code
/// or a QR approval, is started only for [`AuthOutcome::Authenticated`].
#[derive(Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Enough: whatever consumes the proof may proceed.
    Authenticated,
    /// Not yet: a code goes to the account's address and completes the proof
    /// ([`mfa::begin`]).
    MfaRequired(SecondStep),
}

/// The one place where the tenant's policy meets how someone signed in.
pub fn gate(t: &Tenant, a: &Authenticated) -> Result<AuthOutcome, Error> {
    if !a.user.is_active {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            "this account is disabled",
        ));
    }
    let password_only = a.amr == [Amr::Password];
    if t.require_mfa && a.factors() < 2 {
        if password_only && second_factor_target(&a.user).is_some() {
            return Ok(AuthOutcome::MfaRequired(SecondStep::Mfa));
        }
        return Err(Error::new(
            ErrorCode::MfaRequired,
            if password_only {
                "a second factor is required but this account has no email or phone"
            } else {
                "this tenant requires two factors: sign in with your password, then the code"
            },
        ));
    }
    if t.activation == Activation::Identifier && password_only && !a.identifier_verified {
        return Ok(AuthOutcome::MfaRequired(SecondStep::VerifyIdentifier));
    }
    Ok(AuthOutcome::Authenticated)
}

/// Whether an account with this identifier and (no) password could ever pass the gate; a
/// registration that could not is refused instead of creating an account nobody can use.
pub fn can_register(t: &Tenant, ident: &Identifier, with_password: bool) -> Result<(), Error> {
    let has_channel = ident.kind != IdentifierKind::Username;
    if t.require_mfa && !(with_password && has_channel) {
        return Err(Error::new(
            ErrorCode::ValidationError,
            "this tenant requires a password and a code: register an email or phone with a password",
        ));
    }
    if t.activation == Activation::Identifier && !has_channel {
        return Err(Error::new(
            ErrorCode::ValidationError,
            "this tenant requires a verified email or phone: register with one",
        ));
    }
    Ok(())
}

/// Where a second-step code goes: the account's email, else its phone.
pub fn second_factor_target(user: &User) -> Option<Identifier> {
    match (&user.email, &user.phone) {
        (Some(e), _) => Some(Identifier {
            kind: IdentifierKind::Email,
            value: e.clone(),
        }),
        (None, Some(p)) => Some(Identifier {
            kind: IdentifierKind::Phone,
            value: p.clone(),
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: bool) -> User {
        let ident = if email {
            Identifier::parse("a@example.com", None).unwrap()
        } else {
            Identifier::parse("alice", Some("username")).unwrap()
        };
        User::new("t", &ident, None, 0).unwrap()
    }

    fn tenant(mfa: bool, activation: Activation) -> Tenant {
        let mut t = Tenant::new("t", "T", "https://t.test", 600, 6000, 0);
        t.require_mfa = mfa;
        t.activation = activation;
        t
    }

    fn auth(amr: &[Amr], verified: bool) -> Authenticated {
        Authenticated {
            user: user(true),
            amr: amr.to_vec(),
            identifier_verified: verified,
        }
    }

    #[test]
    fn a_mailbox_code_and_a_mailbox_link_are_one_factor() {
        assert_eq!(auth(&[Amr::EmailOtp, Amr::MagicLink], true).factors(), 1);
        assert_eq!(auth(&[Amr::Password, Amr::EmailOtp], true).factors(), 2);
        assert_eq!(auth(&[Amr::Password, Amr::PhoneOtp], true).factors(), 2);
    }

    #[test]
    fn mfa_tenants_issue_nothing_for_one_factor() {
        let t = tenant(true, Activation::None);
        for amr in [
            &[Amr::EmailOtp][..],
            &[Amr::MagicLink],
            &[Amr::PhoneOtp],
            &[Amr::EmailOtp, Amr::MagicLink],
        ] {
            let e = gate(&t, &auth(amr, true)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MfaRequired, "{amr:?}");
        }
        assert!(matches!(
            gate(&t, &auth(&[Amr::Password], true)),
            Ok(AuthOutcome::MfaRequired(SecondStep::Mfa))
        ));
        assert!(matches!(
            gate(&t, &auth(&[Amr::Password, Amr::EmailOtp], true)),
            Ok(AuthOutcome::Authenticated)
        ));
        let mut no_channel = auth(&[Amr::Password], true);
        no_channel.user = user(false);
        assert_eq!(
            gate(&t, &no_channel).unwrap_err().code(),
            ErrorCode::MfaRequired
        );
    }

    #[test]
    fn activation_needs_a_proven_address_for_password_sign_in() {
        let t = tenant(false, Activation::Identifier);
        assert!(matches!(
            gate(&t, &auth(&[Amr::Password], false)),
            Ok(AuthOutcome::MfaRequired(SecondStep::VerifyIdentifier))
        ));
        assert!(matches!(
            gate(&t, &auth(&[Amr::Password], true)),
            Ok(AuthOutcome::Authenticated)
        ));
        assert!(matches!(
            gate(&t, &auth(&[Amr::EmailOtp], false)),
            Ok(AuthOutcome::Authenticated)
        ));
        let open = tenant(false, Activation::None);
        assert!(matches!(
            gate(&open, &auth(&[Amr::Password], false)),
            Ok(AuthOutcome::Authenticated)
        ));
    }

    #[test]
    fn registrations_that_could_never_sign_in_are_refused() {
        let mfa = tenant(true, Activation::None);
        let name = Identifier::parse("alice", Some("username")).unwrap();
        let mail = Identifier::parse("a@example.com", None).unwrap();
        assert!(can_register(&mfa, &name, true).is_err());
        assert!(can_register(&mfa, &mail, false).is_err());
        assert!(can_register(&mfa, &mail, true).is_ok());
        let act = tenant(false, Activation::Identifier);
        assert!(can_register(&act, &name, true).is_err());
        assert!(can_register(&act, &mail, true).is_ok());
        assert!(can_register(&tenant(false, Activation::None), &name, true).is_ok());
    }
}
