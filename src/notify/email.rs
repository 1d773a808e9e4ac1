//! E-mail over SMTP (`lettre`): the drafts of `domain::email` for each durable event,
//! to each recipient whose settings allow them, in `seq` order from a stored cursor.

use super::Wiring;
use crate::actors::session::{GetSettings, SessionActor};
use crate::actors::users::{GetUser, UserActor};
use crate::config::EmailConfig;
use crate::domain::calendar::Method;
use crate::domain::email::{drafts, Draft};
use crate::domain::webhook::backoff_seconds;
use actix::Addr;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

const CURSOR: &str = "email.cursor";
/// A message not accepted within this long is retried.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long one e-mail is retried before it is skipped (and logged).
const GIVE_UP: Duration = Duration::from_secs(24 * 3600);

/// Who the e-mails are about: the owners of accounts and of settings.
pub struct Owners {
    pub users: Addr<UserActor>,
    pub sessions: Addr<SessionActor>,
}

struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    owners: Owners,
    /// This desk's host name, for `Message-ID`s and calendar `UID`s.
    host: String,
}

/// Sends e-mail for as long as the server runs, if `config` names a relay.
pub async fn run(config: EmailConfig, owners: Owners, mut wiring: Wiring) {
    let Some(url) = config.smtp_url.as_deref() else {
        return;
    };
    let builder = match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
        Ok(b) => b,
        Err(error) => {
            tracing::error!(%error, "email.smtp_url is not usable; no e-mail will be sent");
            return;
        }
    };
    let builder = match (config.username, config.password) {
        (Some(user), Some(password)) => builder.credentials(Credentials::new(user, password)),
        _ => builder,
    };
    let from: Mailbox = match config.from.parse() {
        Ok(m) => m,
        Err(error) => {
            tracing::error!(%error, "email.from is not an address; no e-mail will be sent");
            return;
        }
    };
    let host = crate::api::host_of(&wiring.base);
    let mailer = Mailer {
        transport: builder.timeout(Some(TIMEOUT)).build(),
        from,
        owners,
        host,
    };
    let mut cursor = match wiring.cursor(CURSOR).await {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "could not read or record the e-mail cursor");
            return;
        }
    };
    let log = wiring.store.event_log();
    while let Some(events) = wiring.next_page(&log, &mut cursor, "email").await {
        for event in events {
            for draft in drafts(&event, &mailer.host, wiring.clock.now()) {
                mailer.deliver(&draft, event.seq).await;
            }
            cursor.passed(event.seq);
        }
        metrics::gauge!(crate::telemetry::NOTIFICATIONS_PENDING, "channel" => "email")
            .set(wiring.durable.borrow().saturating_sub(cursor.seq()) as f64);
        if let Err(error) = wiring.keep(&mut cursor).await {
            tracing::error!(%error, "could not record the e-mail cursor");
            return;
        }
    }
}

fn counted(result: &'static str) {
    metrics::counter!(crate::telemetry::NOTIFICATIONS, "channel" => "email", "result" => result).increment(1);
}

impl Mailer {
    /// Sends one draft if its recipient's settings allow it, retrying a relay that
    /// fails for a while; a message the relay refuses for good is skipped and logged.
    async fn deliver(&self, draft: &Draft, seq: u64) {
        let Ok(Some(user)) = self.owners.users.send(GetUser(draft.to)).await else {
            return;
        };
        let Ok(settings) = self.owners.sessions.send(GetSettings(draft.to)).await else {
            return;
        };
        if !draft.switch.allowed_by(&settings) {
            return;
        }
        let message = match self.message(draft, &user.name, &user.email, seq) {
            Ok(m) => m,
            Err(error) => {
                tracing::warn!(%error, to = %draft.to, "an e-mail could not be written");
                return;
            }
        };
        let started = std::time::Instant::now();
        let mut failures = 0;
        loop {
            match self.transport.send(message.clone()).await {
                Ok(_) => return counted("delivered"),
                Err(error) if error.is_permanent() => {
                    tracing::warn!(%error, to = %draft.to, "the relay refused an e-mail");
                    return counted("skipped");
                }
                Err(error) => {
                    tracing::debug!(%error, "an e-mail attempt failed");
                    counted("retried");
                    let wait =
                        Duration::from_secs_f64(backoff_seconds(failures, 0.5 + rand::random::<f64>() / 2.0));
                    failures += 1;
                    if started.elapsed() + wait > GIVE_UP {
                        tracing::error!(to = %draft.to, "an e-mail was skipped after its retries");
                        return counted("skipped");
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The message: plain text, with the invitation as a `text/calendar` part when
    /// there is one. Its `Message-ID` is the same on every attempt.
    fn message(&self, draft: &Draft, name: &str, email: &str, seq: u64) -> Result<Message, String> {
        let to: Mailbox = format!("{name} <{email}>")
            .parse()
            .or_else(|_| email.parse())
            .map_err(|e: lettre::address::AddressError| e.to_string())?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&draft.subject)
            .message_id(Some(format!("<evt-{seq}-{}@{}>", draft.to, self.host)));
        let text = SinglePart::plain(draft.body.clone());
        let message = match &draft.calendar {
            None => builder.singlepart(text),
            Some((method, ics)) => {
                let method = match method {
                    Method::Request => "REQUEST",
                    Method::Cancel => "CANCEL",
                };
                let kind = ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                    .map_err(|e| e.to_string())?;
                let invite = Attachment::new("invite.ics".to_string()).body(ics.clone(), kind);
                builder.multipart(MultiPart::mixed().singlepart(text).singlepart(invite))
            }
        };
        message.map_err(|e| e.to_string())
    }
}
