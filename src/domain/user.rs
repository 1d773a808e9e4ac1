//! Users, roles, device sessions and the rules about them.

use super::validate::FieldErrors;
use super::{DeviceSessionId, Timestamp, UserId};
use std::fmt;
use std::str::FromStr;

/// What a user may do. Every user is a `Hacker`; the others add to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Hacker,
    Mentor,
    Organizer,
    Director,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Hacker, Role::Mentor, Role::Organizer, Role::Director];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hacker => "hacker",
            Role::Mentor => "mentor",
            Role::Organizer => "organizer",
            Role::Director => "director",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

/// A set of roles that always contains `Hacker`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles(u8);

impl Default for Roles {
    fn default() -> Self {
        Roles(Role::Hacker.bit())
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(roles: I) -> Self {
        roles.into_iter().fold(Roles::default(), Roles::with)
    }
}

impl Roles {
    /// The set as bits (one per role), for storage.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The set from stored bits; `hacker` is always added, unknown bits dropped.
    pub fn from_bits(bits: u8) -> Roles {
        Role::ALL.into_iter().filter(|r| bits & r.bit() != 0).collect()
    }

    pub fn with(self, role: Role) -> Self {
        Roles(self.0 | role.bit())
    }

    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Mentor, organizer or director.
    pub fn is_staff(self) -> bool {
        self.has(Role::Mentor) || self.is_manager()
    }

    /// Organizer or director.
    pub fn is_manager(self) -> bool {
        self.has(Role::Organizer) || self.has(Role::Director)
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.has(*r))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Role::as_str).collect()
    }
}

/// Who may list every account (`GET /api/users/`): managers.
pub fn may_list_users(roles: Roles) -> bool {
    roles.is_manager()
}

/// Ways of taking the event's data out of the store, or looking back through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oversight {
    /// Exporting tickets, feedback, sessions, availability or events.
    Export,
    /// Exporting the accounts (emails and roles).
    ExportPeople,
    /// Reading who caused what.
    Audit,
    /// Taking a backup of the whole store.
    Backup,
}

/// Managers may export the event's records; only directors the accounts, the audit
/// trail and backups (which hold everything). `Err` says why not.
pub fn may_oversee(roles: Roles, what: Oversight) -> Result<(), &'static str> {
    let (allowed, why) = match what {
        Oversight::Export => (roles.is_manager(), "Only organizers and directors may export."),
        Oversight::ExportPeople => (roles.has(Role::Director), "Only directors may export the users."),
        Oversight::Audit => (
            roles.has(Role::Director),
            "Only directors may read the audit trail.",
        ),
        Oversight::Backup => (roles.has(Role::Director), "Only directors may take a backup."),
    };
    if allowed {
        Ok(())
    } else {
        Err(why)
    }
}

/// A user account as the user store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    /// Trimmed and lower-cased; unique.
    pub email: String,
    pub name: String,
    /// An argon2 PHC string for local accounts; `None` for accounts that sign in
    /// through the LCS identity service.
    pub password_hash: Option<String>,
    pub roles: Roles,
    pub slack_id: Option<String>,
    pub phone: Option<String>,
    pub created: Timestamp,
}

/// Normalises an email: trimmed and lower-cased. Returns `None` if it is not
/// plausibly an address (one `@` with text on both sides, no spaces).
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
        && email.len() <= 254;
    plausible.then_some(email)
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A validated registration: what `POST /api/auth/register/` carries.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAccount {
    pub email: String,
    pub name: String,
    pub password: String,
}

impl NewAccount {
    pub fn parse(
        email: Option<&str>,
        password: Option<&str>,
        name: Option<&str>,
    ) -> Result<NewAccount, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = match email {
            None => {
                errors.add("email", "is required");
                String::new()
            }
            Some(raw) => normalize_email(raw).unwrap_or_else(|| {
                errors.add("email", "is not a valid email address");
                String::new()
            }),
        };
        let password = match password {
            None => {
                errors.add("password", "is required");
                String::new()
            }
            Some(p) if p.chars().count() < MIN_PASSWORD_CHARS => {
                errors.add(
                    "password",
                    format!("must be at least {MIN_PASSWORD_CHARS} characters"),
                );
                String::new()
            }
            Some(p) if p.chars().count() > MAX_PASSWORD_CHARS => {
                errors.add(
                    "password",
                    format!("must be at most {MAX_PASSWORD_CHARS} characters"),
                );
                String::new()
            }
            Some(p) => p.to_string(),
        };
        let name = errors.required_text("name", name, 255);
        errors.into_result(NewAccount {
            email,
            name,
            password,
        })
    }
}

/// A validated change to one's own profile (`PATCH /api/me/`). `None` leaves a field
/// as it is; an empty string clears an optional field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub slack_id: Option<Option<String>>,
    pub phone: Option<Option<String>>,
}

impl ProfileChange {
    pub fn parse(
        name: Option<&str>,
        slack_id: Option<&str>,
        phone: Option<&str>,
    ) -> Result<ProfileChange, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = name.map(|n| errors.required_text("name", Some(n), 255));
        let optional = |errors: &mut FieldErrors, field: &str, v: Option<&str>, max| {
            v.map(|v| {
                let v = errors.optional_text(field, Some(v), max);
                (!v.is_empty()).then_some(v)
            })
        };
        let slack_id = optional(&mut errors, "slack_id", slack_id, 64);
        let phone = optional(&mut errors, "phone", phone, 32);
        errors.into_result(ProfileChange {
            name,
            slack_id,
            phone,
        })
    }

    pub fn apply(&self, user: &mut User) {
        if let Some(name) = &self.name {
            user.name = name.clone();
        }
        if let Some(slack_id) = &self.slack_id {
            user.slack_id = slack_id.clone();
        }
        if let Some(phone) = &self.phone {
            user.phone = phone.clone();
        }
    }
}

/// Why a role change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleChangeError {
    #[error("only a director may change roles")]
    NotDirector,
    #[error("a director may not remove their own director role")]
    RemovesOwnDirector,
}

/// Decides whether `by` (holding `by_roles`) may give `target` the roles `new`.
pub fn check_role_change(
    by: UserId,
    by_roles: Roles,
    target: UserId,
    new: Roles,
) -> Result<(), RoleChangeError> {
    if !by_roles.has(Role::Director) {
        return Err(RoleChangeError::NotDirector);
    }
    if by == target && !new.has(Role::Director) {
        return Err(RoleChangeError::RemovesOwnDirector);
    }
    Ok(())
}

/// One login on one device. Its refresh token rotates on every use; `generation`
/// counts the rotations so that a token that was already rotated away is recognised
/// (and the session revoked) when it is presented again.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSession {
    pub id: DeviceSessionId,
    pub user: UserId,
    pub device: String,
    pub created: Timestamp,
    pub last_used: Timestamp,
    /// The generation of the one refresh token that is valid now.
    pub generation: u64,
    pub expires: Timestamp,
    pub revoked: bool,
    /// The identity service's token for LCS logins, used to refresh roles from it.
    pub external_token: Option<String>,
}

/// What presenting refresh token generation `presented` to a session means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// The current token: rotate it.
    Rotate,
    /// The current token, where tokens do not rotate: it stays the session's token.
    Keep,
    /// A token that was already rotated away: someone replayed it, revoke the session.
    Reuse,
    /// Revoked, expired or from the future: refuse.
    Refuse,
}

impl DeviceSession {
    /// What to do with a refresh token of generation `presented`; `rotate` says whether
    /// this deployment rotates refresh tokens (`auth.rotate_refresh_tokens`).
    pub fn judge_refresh(&self, presented: u64, now: Timestamp, rotate: bool) -> RefreshVerdict {
        if self.revoked || now >= self.expires {
            RefreshVerdict::Refuse
        } else if presented == self.generation && rotate {
            RefreshVerdict::Rotate
        } else if presented == self.generation {
            RefreshVerdict::Keep
        } else if presented < self.generation {
            RefreshVerdict::Reuse
        } else {
            RefreshVerdict::Refuse
        }
    }

    /// Whether an access token minted for this session may still be used.
    pub fn is_live(&self, now: Timestamp) -> bool {
        !self.revoked && now < self.expires
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_export_records_and_only_directors_see_people_the_audit_and_backups() {
        let roles = |r: &[Role]| Roles::from_iter(r.iter().copied());
        let cases = [
            (Oversight::Export, [false, false, true, true]),
            (Oversight::ExportPeople, [false, false, false, true]),
            (Oversight::Audit, [false, false, false, true]),
            (Oversight::Backup, [false, false, false, true]),
        ];
        let cast = [
            roles(&[]),
            roles(&[Role::Mentor]),
            roles(&[Role::Organizer]),
            roles(&[Role::Director]),
        ];
        for (what, expected) in cases {
            for (who, allowed) in cast.iter().zip(expected) {
                assert_eq!(may_oversee(*who, what).is_ok(), allowed, "{what:?} by {who:?}");
            }
        }
    }
    use chrono::{Duration, TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    #[test]
    fn every_role_set_contains_hacker() {
        assert!(Roles::default().has(Role::Hacker));
        assert!(Roles::from_iter([Role::Mentor]).has(Role::Hacker));
        assert_eq!(
            Roles::from_iter([Role::Director]).names(),
            vec!["hacker", "director"]
        );
    }

    #[test]
    fn staff_and_managers_follow_the_contract() {
        let mentor = Roles::from_iter([Role::Mentor]);
        let organizer = Roles::from_iter([Role::Organizer]);
        assert!(mentor.is_staff() && !mentor.is_manager());
        assert!(organizer.is_staff() && organizer.is_manager());
        assert!(!Roles::default().is_staff());
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  Ada@Example.ORG "),
            Some("ada@example.org".into())
        );
        assert_eq!(normalize_email("no-at-sign"), None);
        assert_eq!(normalize_email("a b@c.d"), None);
        assert_eq!(normalize_email("@c.d"), None);
    }

    #[test]
    fn registration_reports_every_problem_at_once() {
        let err = NewAccount::parse(Some("bad"), Some("short"), None).unwrap_err();
        assert!(err.0.contains_key("email"));
        assert!(err.0.contains_key("password"));
        assert_eq!(err.0["name"], vec!["is required"]);
    }

    #[test]
    fn a_director_may_not_drop_their_own_director_role() {
        let director = Roles::from_iter([Role::Director]);
        let me = UserId(1);
        assert_eq!(
            check_role_change(me, director, me, Roles::default()),
            Err(RoleChangeError::RemovesOwnDirector)
        );
        assert_eq!(
            check_role_change(me, director, UserId(2), Roles::default()),
            Ok(())
        );
        assert_eq!(
            check_role_change(me, Roles::from_iter([Role::Organizer]), UserId(2), director),
            Err(RoleChangeError::NotDirector)
        );
    }

    #[test]
    fn refresh_rotates_the_current_token_and_revokes_on_reuse() {
        let session = DeviceSession {
            id: DeviceSessionId(1),
            user: UserId(1),
            device: "laptop".into(),
            created: t0(),
            last_used: t0(),
            generation: 3,
            expires: t0() + Duration::days(14),
            revoked: false,
            external_token: None,
        };
        assert_eq!(session.judge_refresh(3, t0(), true), RefreshVerdict::Rotate);
        assert_eq!(session.judge_refresh(3, t0(), false), RefreshVerdict::Keep);
        // A token rotated away while rotation was on is still a replay without it.
        for rotate in [true, false] {
            assert_eq!(session.judge_refresh(2, t0(), rotate), RefreshVerdict::Reuse);
            assert_eq!(session.judge_refresh(4, t0(), rotate), RefreshVerdict::Refuse);
            assert_eq!(
                session.judge_refresh(3, t0() + Duration::days(14), rotate),
                RefreshVerdict::Refuse
            );
        }
        let revoked = DeviceSession {
            revoked: true,
            ..session
        };
        assert_eq!(revoked.judge_refresh(3, t0(), false), RefreshVerdict::Refuse);
        assert!(!revoked.is_live(t0()));
    }

    #[test]
    fn profile_change_clears_optional_fields_with_empty_strings() {
        let change = ProfileChange::parse(None, Some(""), Some(" 555 ")).unwrap();
        assert_eq!(change.slack_id, Some(None));
        assert_eq!(change.phone, Some(Some("555".into())));
        assert_eq!(change.name, None);
    }
}
