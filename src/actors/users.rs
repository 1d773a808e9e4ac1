//! `UserActor`: the only writer of user accounts and device sessions.
//!
//! It answers every authenticated request (`Authenticate`), which is how roles are read
//! from the user store on every request and how a revoked device session stops working
//! at once.

use super::{after_barrier, commit_then, next_id, Reply};
use crate::clock::SharedClock;
use crate::domain::user::{
    check_role_change, DeviceSession, ProfileChange, RefreshVerdict, Role, RoleChangeError, Roles, User,
};
use crate::domain::{DeviceSessionId, UserId};
use crate::store::{Batch, Store, StoreError};
use actix::prelude::*;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("no such user or session")]
    NotFound,
    #[error("the token or session is not valid")]
    TokenNotValid,
    #[error("{0}")]
    RoleChange(#[from] RoleChangeError),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

pub struct UserActor {
    store: Store,
    clock: SharedClock,
    users: HashMap<UserId, User>,
    by_email: HashMap<String, UserId>,
    sessions: HashMap<DeviceSessionId, DeviceSession>,
    next_user: u64,
    next_session: u64,
    /// Emails that hold the director role whatever the store says.
    bootstrap_directors: Vec<String>,
    refresh_ttl: chrono::Duration,
    /// Told when a device session is revoked or roles change, to close connections.
    hub: Option<Recipient<Revoked>>,
}

const NEXT_USER: &str = "next_id.users";
const NEXT_SESSION: &str = "next_id.device_sessions";

impl UserActor {
    /// Loads every account and session, and grants bootstrap directors their role.
    pub fn load(
        store: Store,
        clock: SharedClock,
        bootstrap_directors: &[String],
        refresh_ttl_days: u64,
    ) -> Result<UserActor, StoreError> {
        // Reads by this actor wait only for its own changes to be durable.
        let store = store.for_writer();
        let users: Vec<User> = store.load_all()?;
        let sessions: Vec<DeviceSession> = store.load_all()?;
        let next_user = next_id(&store, NEXT_USER, users.last().map(|u| u.id.0))?;
        let next_session = next_id(&store, NEXT_SESSION, sessions.last().map(|s| s.id.0))?;
        let mut actor = UserActor {
            by_email: users.iter().map(|u| (u.email.clone(), u.id)).collect(),
            users: users.into_iter().map(|u| (u.id, u)).collect(),
            sessions: sessions.into_iter().map(|s| (s.id, s)).collect(),
            next_user,
            next_session,
            bootstrap_directors: bootstrap_directors
                .iter()
                .filter_map(|e| crate::domain::user::normalize_email(e))
                .collect(),
            refresh_ttl: chrono::Duration::days(refresh_ttl_days as i64),
            store,
            clock,
            hub: None,
        };
        actor.grant_bootstrap_directors()?;
        Ok(actor)
    }

    /// Where to send `Kick`s (the real-time Hub).
    pub fn with_hub(mut self, hub: Recipient<Revoked>) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Answers `reply` and then closes the affected connections.
    fn kick_after<T: Send + 'static>(
        &self,
        reply: Reply<T, UserError>,
        kick: Revoked,
    ) -> Reply<T, UserError> {
        let hub = self.hub.clone();
        Box::pin(async move {
            let value = reply.await;
            if let Some(hub) = hub {
                hub.do_send(kick);
            }
            value
        })
    }

    fn grant_bootstrap_directors(&mut self) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        let mut changed = Vec::new();
        for email in &self.bootstrap_directors {
            if let Some(user) = self.by_email.get(email).and_then(|id| self.users.get(id)) {
                if !user.roles.has(Role::Director) {
                    let mut user = user.clone();
                    user.roles = user.roles.with(Role::Director);
                    batch.put(&user);
                    changed.push(user);
                }
            }
        }
        if !changed.is_empty() {
            // Start-up is not answering anyone, so it need not wait for the disk here;
            // the next acknowledged write (or the shutdown flush) covers it.
            let _ = self.store.commit(batch, self.clock.now())?;
            for user in changed {
                self.users.insert(user.id, user);
            }
        }
        Ok(())
    }

    fn with_bootstrap(&self, email: &str, roles: Roles) -> Roles {
        if self.bootstrap_directors.iter().any(|e| e == email) {
            roles.with(Role::Director)
        } else {
            roles
        }
    }

    fn live_session(&self, id: DeviceSessionId) -> Option<&DeviceSession> {
        self.sessions.get(&id).filter(|s| s.is_live(self.clock.now()))
    }

    fn new_session(&mut self, user: UserId, device: String, external_token: Option<String>) -> DeviceSession {
        let now = self.clock.now();
        let session = DeviceSession {
            id: DeviceSessionId(self.next_session),
            user,
            device,
            created: now,
            last_used: now,
            generation: 0,
            expires: now + self.refresh_ttl,
            revoked: false,
            external_token,
        };
        self.next_session += 1;
        session
    }
}

super::settled_reads!(UserActor);

impl Actor for UserActor {
    type Context = Context<Self>;
}

/// Told to whoever holds live connections (the real-time Hub) when a device session
/// is revoked (`device`) or a user's roles change (`device: None`): those connections
/// must close, and reconnect with what the user may now see.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Revoked {
    pub user: UserId,
    pub device: Option<DeviceSessionId>,
}

/// Creates a local account. The password is hashed before it reaches the actor.
#[derive(Message)]
#[rtype(result = "Result<User, UserError>")]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub roles: Roles,
}

impl Handler<CreateUser> for UserActor {
    type Result = Reply<User, UserError>;

    fn handle(&mut self, msg: CreateUser, _: &mut Context<Self>) -> Self::Result {
        self.create(msg, None, None)
    }
}

impl UserActor {
    /// A new account, with the contact details an identity service gave (if any).
    fn create(
        &mut self,
        msg: CreateUser,
        slack_id: Option<String>,
        phone: Option<String>,
    ) -> Reply<User, UserError> {
        if self.by_email.contains_key(&msg.email) {
            return after_barrier(&self.store, Err(UserError::EmailTaken));
        }
        let now = self.clock.now();
        let user = User {
            id: UserId(self.next_user),
            roles: self.with_bootstrap(&msg.email, msg.roles),
            email: msg.email,
            name: msg.name,
            password_hash: msg.password_hash,
            slack_id,
            phone,
            created: now,
        };
        let mut batch = Batch::new();
        batch.put(&user).meta(NEXT_USER, &(user.id.0 + 1));
        commit_then(self.store.clone(), batch, now, |_| {
            self.next_user += 1;
            self.by_email.insert(user.email.clone(), user.id);
            self.users.insert(user.id, user.clone());
            user
        })
    }
}

/// The account with this email and its password hash, for a local login.
#[derive(Message)]
#[rtype(result = "Option<User>")]
pub struct FindByEmail(pub String);

impl Handler<FindByEmail> for UserActor {
    type Result = Option<User>;

    fn handle(&mut self, msg: FindByEmail, _: &mut Context<Self>) -> Option<User> {
        self.by_email
            .get(&msg.0)
            .and_then(|id| self.users.get(id))
            .cloned()
    }
}

/// Records an identity vouched for by the LCS service: creates the account on first
/// sight and takes the roles the service gives (plus bootstrap directors).
#[derive(Message)]
#[rtype(result = "Result<User, UserError>")]
pub struct SyncExternalUser {
    pub email: String,
    pub name: String,
    pub roles: Roles,
    /// Taken over where the identity service has them; the user's own stay otherwise.
    pub slack_id: Option<String>,
    pub phone: Option<String>,
}

impl Handler<SyncExternalUser> for UserActor {
    type Result = Reply<User, UserError>;

    fn handle(&mut self, msg: SyncExternalUser, _: &mut Context<Self>) -> Self::Result {
        let roles = self.with_bootstrap(&msg.email, msg.roles);
        let Some(existing) = self.by_email.get(&msg.email).and_then(|id| self.users.get(id)) else {
            let create = CreateUser {
                email: msg.email,
                name: msg.name,
                password_hash: None,
                roles,
            };
            return self.create(create, msg.slack_id, msg.phone);
        };
        let user = User {
            roles,
            slack_id: msg.slack_id.or_else(|| existing.slack_id.clone()),
            phone: msg.phone.or_else(|| existing.phone.clone()),
            ..existing.clone()
        };
        if user == *existing {
            return after_barrier(&self.store, Ok(user));
        }
        let roles_changed = user.roles != existing.roles;
        let mut batch = Batch::new();
        batch.put(&user);
        let kick = Revoked {
            user: user.id,
            device: None,
        };
        let reply = commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.users.insert(user.id, user.clone());
            user
        });
        if roles_changed {
            self.kick_after(reply, kick)
        } else {
            reply
        }
    }
}

/// Opens a device session for a user who just proved who they are.
#[derive(Message)]
#[rtype(result = "Result<(User, DeviceSession), UserError>")]
pub struct OpenSession {
    pub user: UserId,
    pub device: String,
    /// The identity service's token, kept to refresh roles from it later.
    pub external_token: Option<String>,
}

impl Handler<OpenSession> for UserActor {
    type Result = Reply<(User, DeviceSession), UserError>;

    fn handle(&mut self, msg: OpenSession, _: &mut Context<Self>) -> Self::Result {
        let Some(user) = self.users.get(&msg.user).cloned() else {
            return after_barrier(&self.store, Err(UserError::NotFound));
        };
        let session = self.new_session(msg.user, msg.device, msg.external_token);
        let mut batch = Batch::new();
        batch.put(&session).meta(NEXT_SESSION, &(session.id.0 + 1));
        commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.sessions.insert(session.id, session.clone());
            (user, session)
        })
    }
}

/// Uses a device session's refresh token (generation `generation` presented): rotates
/// it, or with `rotate` false keeps it.
#[derive(Message)]
#[rtype(result = "Result<(User, DeviceSession), UserError>")]
pub struct Refresh {
    pub session: DeviceSessionId,
    pub generation: u64,
    pub rotate: bool,
}

impl Handler<Refresh> for UserActor {
    type Result = Reply<(User, DeviceSession), UserError>;

    fn handle(&mut self, msg: Refresh, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let Some(session) = self.sessions.get(&msg.session).cloned() else {
            return after_barrier(&self.store, Err(UserError::TokenNotValid));
        };
        let Some(user) = self.users.get(&session.user).cloned() else {
            return after_barrier(&self.store, Err(UserError::TokenNotValid));
        };
        let mut next = session.clone();
        let verdict = session.judge_refresh(msg.generation, now, msg.rotate);
        match verdict {
            RefreshVerdict::Refuse => return after_barrier(&self.store, Err(UserError::TokenNotValid)),
            RefreshVerdict::Reuse => next.revoked = true,
            RefreshVerdict::Rotate => {
                next.generation += 1;
                next.last_used = now;
                next.expires = now + self.refresh_ttl;
            }
            // The token is unchanged, so its lifetime is too.
            RefreshVerdict::Keep => next.last_used = now,
        }
        let mut batch = Batch::new();
        batch.put(&next);
        let store = self.store.clone();
        let kick = Revoked {
            user: user.id,
            device: Some(next.id),
        };
        let mut commit = commit_then::<_, UserError>(store, batch, now, |_| {
            self.sessions.insert(next.id, next.clone());
            (user, next)
        });
        if verdict == RefreshVerdict::Reuse {
            commit = self.kick_after(commit, kick);
        }
        Box::pin(async move {
            let (user, session) = commit.await?;
            match verdict {
                RefreshVerdict::Rotate | RefreshVerdict::Keep => Ok((user, session)),
                RefreshVerdict::Reuse | RefreshVerdict::Refuse => Err(UserError::TokenNotValid),
            }
        })
    }
}

/// Checks an access token's user and device session; answers the user as stored now,
/// so role changes apply to the very next request.
#[derive(Message)]
#[rtype(result = "Result<User, UserError>")]
pub struct Authenticate {
    pub user: UserId,
    pub session: DeviceSessionId,
}

impl Handler<Authenticate> for UserActor {
    type Result = Result<User, UserError>;

    fn handle(&mut self, msg: Authenticate, _: &mut Context<Self>) -> Self::Result {
        self.live_session(msg.session)
            .filter(|s| s.user == msg.user)
            .and_then(|_| self.users.get(&msg.user))
            .cloned()
            .ok_or(UserError::TokenNotValid)
    }
}

/// Revokes one of `user`'s device sessions.
#[derive(Message)]
#[rtype(result = "Result<(), UserError>")]
pub struct RevokeSession {
    pub user: UserId,
    pub session: DeviceSessionId,
}

impl Handler<RevokeSession> for UserActor {
    type Result = Reply<(), UserError>;

    fn handle(&mut self, msg: RevokeSession, _: &mut Context<Self>) -> Self::Result {
        let Some(session) = self
            .sessions
            .get(&msg.session)
            .filter(|s| s.user == msg.user && !s.revoked)
        else {
            return after_barrier(&self.store, Err(UserError::NotFound));
        };
        let mut revoked = session.clone();
        revoked.revoked = true;
        let mut batch = Batch::new();
        batch.put(&revoked);
        let kick = Revoked {
            user: msg.user,
            device: Some(revoked.id),
        };
        let reply = commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.sessions.insert(revoked.id, revoked);
        });
        self.kick_after(reply, kick)
    }
}

/// A user's live device sessions, oldest first.
#[derive(Message)]
#[rtype(result = "Vec<DeviceSession>")]
pub struct ListSessions(pub UserId);

impl Handler<ListSessions> for UserActor {
    type Result = MessageResult<ListSessions>;

    fn handle(&mut self, msg: ListSessions, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut list: Vec<DeviceSession> = self
            .sessions
            .values()
            .filter(|s| s.user == msg.0 && s.is_live(now))
            .cloned()
            .collect();
        list.sort_by_key(|s| s.id);
        MessageResult(list)
    }
}

#[derive(Message)]
#[rtype(result = "Result<User, UserError>")]
pub struct UpdateProfile {
    pub user: UserId,
    pub change: ProfileChange,
}

impl Handler<UpdateProfile> for UserActor {
    type Result = Reply<User, UserError>;

    fn handle(&mut self, msg: UpdateProfile, _: &mut Context<Self>) -> Self::Result {
        let Some(mut user) = self.users.get(&msg.user).cloned() else {
            return after_barrier(&self.store, Err(UserError::NotFound));
        };
        msg.change.apply(&mut user);
        let mut batch = Batch::new();
        batch.put(&user);
        commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.users.insert(user.id, user.clone());
            user
        })
    }
}

/// Replaces a user's roles (directors only).
#[derive(Message)]
#[rtype(result = "Result<User, UserError>")]
pub struct SetRoles {
    pub by: UserId,
    pub target: UserId,
    pub roles: Roles,
}

impl Handler<SetRoles> for UserActor {
    type Result = Reply<User, UserError>;

    fn handle(&mut self, msg: SetRoles, _: &mut Context<Self>) -> Self::Result {
        let by_roles = self.users.get(&msg.by).map(|u| u.roles).unwrap_or_default();
        if let Err(e) = check_role_change(msg.by, by_roles, msg.target, msg.roles) {
            return after_barrier(&self.store, Err(e.into()));
        }
        let Some(mut user) = self.users.get(&msg.target).cloned() else {
            return after_barrier(&self.store, Err(UserError::NotFound));
        };
        user.roles = msg.roles;
        let mut batch = Batch::new();
        batch.put(&user);
        let kick = Revoked {
            user: user.id,
            device: None,
        };
        let reply = commit_then(self.store.clone(), batch, self.clock.now(), |_| {
            self.users.insert(user.id, user.clone());
            user
        });
        self.kick_after(reply, kick)
    }
}

/// Users, optionally only those holding `role`, in id order.
#[derive(Message)]
#[rtype(result = "Vec<User>")]
pub struct ListUsers {
    pub role: Option<Role>,
}

impl Handler<ListUsers> for UserActor {
    type Result = MessageResult<ListUsers>;

    fn handle(&mut self, msg: ListUsers, _: &mut Context<Self>) -> Self::Result {
        let mut users: Vec<User> = self
            .users
            .values()
            .filter(|u| msg.role.is_none_or(|r| u.roles.has(r)))
            .cloned()
            .collect();
        users.sort_by_key(|u| u.id);
        MessageResult(users)
    }
}

/// One user, by id.
#[derive(Message)]
#[rtype(result = "Option<User>")]
pub struct GetUser(pub UserId);

impl Handler<GetUser> for UserActor {
    type Result = Option<User>;

    fn handle(&mut self, msg: GetUser, _: &mut Context<Self>) -> Option<User> {
        self.users.get(&msg.0).cloned()
    }
}

/// How many accounts there are, and how many of them hold the mentor role.
#[derive(Message)]
#[rtype(result = "(u64, u64)")]
pub struct CountUsers;

impl Handler<CountUsers> for UserActor {
    type Result = MessageResult<CountUsers>;

    fn handle(&mut self, _: CountUsers, _: &mut Context<Self>) -> Self::Result {
        let mentors = self.users.values().filter(|u| u.roles.has(Role::Mentor)).count();
        MessageResult((self.users.len() as u64, mentors as u64))
    }
}

/// The identity-service token of a session (for refreshing roles from it).
#[derive(Message)]
#[rtype(result = "Option<(String, String)>")]
pub struct ExternalCredentials(pub DeviceSessionId);

impl Handler<ExternalCredentials> for UserActor {
    type Result = Option<(String, String)>;

    fn handle(&mut self, msg: ExternalCredentials, _: &mut Context<Self>) -> Self::Result {
        let session = self.sessions.get(&msg.0)?;
        let email = self.users.get(&session.user)?.email.clone();
        Some((email, session.external_token.clone()?))
    }
}

/// Where a user's calendar feed URL stands: rotations so far (0 before the first).
fn calendar_key(user: UserId) -> String {
    format!("calendar.{user}.generation")
}

/// How many times `user` has rotated their calendar feed URL.
#[derive(Message)]
#[rtype(result = "Result<u64, UserError>")]
pub struct CalendarGeneration(pub UserId);

impl Handler<CalendarGeneration> for UserActor {
    type Result = Result<u64, UserError>;

    fn handle(&mut self, msg: CalendarGeneration, _: &mut Context<Self>) -> Self::Result {
        Ok(self.store.meta::<u64>(&calendar_key(msg.0))?.unwrap_or(0))
    }
}

/// Makes `user`'s calendar feed URL anew; the old one stops working at once.
#[derive(Message)]
#[rtype(result = "Result<u64, UserError>")]
pub struct RotateCalendar(pub UserId);

impl Handler<RotateCalendar> for UserActor {
    type Result = super::Reply<u64, UserError>;

    fn handle(&mut self, msg: RotateCalendar, _: &mut Context<Self>) -> Self::Result {
        let key = calendar_key(msg.0);
        let next = match self.store.meta::<u64>(&key) {
            Ok(current) => current.unwrap_or(0) + 1,
            Err(e) => return Box::pin(async move { Err(e.into()) }),
        };
        let mut batch = Batch::new();
        batch.by(msg.0);
        batch.meta(&key, &next);
        super::commit_then(self.store.clone(), batch, self.clock.now(), |_| next)
    }
}
