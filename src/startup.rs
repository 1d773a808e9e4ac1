//! Builds the application: opens the store, starts the actors, binds the listener.
//! The caller owns the lifecycle: `build`, read `port()`, then `run_until_stopped()`.

use crate::actors::idempotency::IdempotencyActor;
use crate::actors::queue::{QueueActor, QueueRules};
use crate::actors::session::SessionActor;
use crate::actors::users::UserActor;
use crate::api::AppState;
use crate::auth::lcs::LcsClient;
use crate::auth::{secret, TokenKeys};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, Provider};
use crate::domain::capacity::Capacity;
use crate::domain::projection::{Projection, Seed};
use crate::http;
use crate::http::head::{Guarded, HeadLimits};
use crate::store::Store;
use crate::ws::hub::{Hub, Publish};
use actix::{Actor, Arbiter};
use actix_http::{error::DispatchError, HttpService};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::AppConfig;
use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, NormalizePath, TrailingSlash};
use actix_web::{web, App};
use anyhow::Context as _;
use std::net::TcpListener;
use std::sync::Arc;

pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    /// The threads the actors run on; stopped after the server.
    arbiters: Vec<Arbiter>,
}

impl Application {
    /// Builds the application with the real clock.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Application::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds the application reading time from `clock`.
    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Application> {
        crate::telemetry::install();
        let store = Store::open_with_cache(&config.store.path, config.store.cache_capacity_bytes)?;
        let secret = secret::load_or_create(config.auth.jwt_secret.as_deref(), store.path())
            .context("cannot read or create the JWT secret")?;
        let keys = Arc::new(TokenKeys::new(
            &secret,
            store.id(),
            config.auth.access_ttl_seconds,
        ));

        store.retain_events(config.realtime.retain_events)?;

        // Each actor runs on its own thread (arbiter); the HTTP workers reach them by
        // address. Order matters only for who needs whose address. The last thread is
        // the notification senders'.
        let arbiters = [
            Arbiter::new(),
            Arbiter::new(),
            Arbiter::new(),
            Arbiter::new(),
            background_arbiter(),
        ];
        let session_actor = SessionActor::load(
            store.clone(),
            clock.clone(),
            config.sessions.meeting_url_template.clone(),
        )?;
        // Both evaluators of mentor capacity start from the staffing as loaded; the
        // SessionActor tells them of every change from then on.
        let staffing = session_actor.staffing_seed();
        let queue_actor = QueueActor::load(
            store.clone(),
            clock.clone(),
            QueueRules {
                max_active: config.queue.max_active_tickets,
                claim_release_seconds: config.queue.claim_release_seconds,
            },
            staffing.clone(),
        )?;
        // The Hub's projection starts from the owners' state, which at start-up is
        // exactly what is durable; nothing commits before the actors run.
        let (tickets, queues, announcements) = queue_actor.projection_seed();
        let projection = Projection::new(Seed {
            tickets,
            queues,
            announcements,
            sessions: session_actor.projection_seed(),
            last_seq: store.next_seq() - 1,
        });
        let queue = QueueActor::start_in_arbiter(&arbiters[0].handle(), move |_| queue_actor);
        // Bound before the Hub exists: without `http.public_url`, pushed URLs name the
        // address the server listens on.
        let listener = TcpListener::bind((config.http.host.as_str(), config.http.port))
            .with_context(|| format!("cannot listen on {}:{}", config.http.host, config.http.port))?;
        let port = listener.local_addr()?.port();
        let stamp = crate::api::Stamp {
            base: match config.http.public_base() {
                Some(base) => base.into(),
                None => format!("http://{}", listener.local_addr()?).into(),
            },
            epoch: store.epoch().to_string().into(),
        };
        let hub_actor = Hub::new(
            projection,
            clock.clone(),
            queue.clone(),
            Capacity::new(staffing),
            config.realtime.retain_events,
            config.realtime.outbox_limit,
            stamp.clone(),
        );
        let hub = Hub::start_in_arbiter(&arbiters[2].handle(), move |_| hub_actor);
        let session_actor =
            session_actor.with_listeners(vec![queue.clone().recipient(), hub.clone().recipient()]);
        let sessions = SessionActor::start_in_arbiter(&arbiters[1].handle(), move |_| session_actor);
        let sink = hub.clone();
        // The newest durable event, for the notification senders (they read the log).
        let newest = store.next_seq() - 1;
        let (durable_tx, durable_rx) = tokio::sync::watch::channel(newest);
        store.set_event_sink(Box::new(move |events| {
            if let Some(last) = events.last() {
                durable_tx.send_replace(last.seq);
            }
            sink.do_send(Publish(events.to_vec()));
        }));
        let notify = crate::notify::Wiring {
            store: store.clone(),
            durable: durable_rx,
            clock: clock.clone(),
            base: stamp.base.clone(),
            start: newest,
        };
        let users_actor = UserActor::load(
            store.clone(),
            clock.clone(),
            &config.auth.bootstrap_directors,
            config.auth.refresh_ttl_days,
        )?
        .with_hub(hub.clone().recipient());
        let users = UserActor::start_in_arbiter(&arbiters[3].handle(), move |_| users_actor);
        // The notification senders read the durable log from their stored cursors.
        // They run on a thread of their own at a lower scheduling priority, so that
        // on a busy machine requests come first and deliveries take the idle time.
        for hook in config.webhooks.clone() {
            arbiters[4].spawn(crate::notify::webhooks::run(hook, notify.clone()));
        }
        let owners = crate::notify::email::Owners {
            users: users.clone(),
            sessions: sessions.clone(),
        };
        arbiters[4].spawn(crate::notify::email::run(config.email.clone(), owners, notify));
        let idempotency_actor = IdempotencyActor::load(store.clone(), clock.clone())?;
        let idempotency =
            IdempotencyActor::start_in_arbiter(&arbiters[3].handle(), move |_| idempotency_actor);

        let lcs = (config.auth.provider == Provider::Lcs).then(|| Arc::new(LcsClient::new(&config.auth.lcs)));
        let config = Arc::new(config);
        let state = web::Data::new(AppState {
            users,
            queue,
            sessions,
            idempotency,
            rate_limiter: crate::api::rate_limit::RateLimiter::new(config.queue.writes_per_minute),
            sign_in: crate::api::rate_limit::SignInThrottle::new(
                config.auth.login_attempts_per_minute,
                config.auth.address_attempts_per_minute,
            ),
            hasher: crate::auth::password::Hasher::per_core(std::time::Duration::from_millis(
                config.auth.hash_queue_timeout_ms,
            )),
            keys,
            clock,
            config: config.clone(),
            lcs,
            store: store.clone(),
            stamp,
        });
        let hub = web::Data::new(hub);
        let body_limit = config.http.body_limit_bytes;
        let cors_origins = config.http.cors_origins.clone();
        let send_buffer = config.http.socket_send_buffer_bytes;
        let app = move || {
            let cors = cors_origins.iter().fold(
                actix_cors::Cors::default()
                    .allow_any_method()
                    .allow_any_header()
                    .max_age(3600),
                |cors, origin| cors.allowed_origin(origin),
            );
            App::new()
                .app_data(state.clone())
                .app_data(hub.clone())
                .configure(|cfg| http::extractor_configs(cfg, body_limit))
                // The WebSocket stays outside the REST middleware: every frame of a
                // long-lived connection would otherwise pass through each layer.
                .service(
                    web::resource("/ws")
                        .route(web::get().to(crate::ws::connect))
                        .default_service(http::other_methods(&[actix_web::http::Method::GET])),
                )
                // Outside the REST middleware too: the stand-in for a refused request head.
                .route(
                    &format!("{}{{reason}}", http::head::REFUSED_PATH),
                    web::get().to(http::refused),
                )
                .service(
                    web::scope("")
                        .configure(http::configure)
                        .default_service(web::to(http::not_found))
                        .wrap(actix_web::middleware::from_fn(http::limits::idempotency))
                        .wrap(ErrorHandlers::new().default_handler(http::json_errors))
                        .wrap(cors)
                        .wrap(actix_web::middleware::from_fn(http::trace::request_span)),
                )
                .default_service(web::to(http::not_found))
                .wrap(NormalizePath::new(TrailingSlash::Trim))
        };
        let head_limits = HeadLimits {
            max_bytes: config.http.max_request_head_bytes,
            timeout: std::time::Duration::from_millis(config.http.request_head_timeout_ms),
        };
        let local = listener.local_addr()?;
        // actix-web's `HttpServer` would hand actix-http the bare socket; the server is
        // assembled from its parts instead so that every connection is read through the
        // head check first (see `http::head`).
        let mut server = actix_server::Server::build()
            .listen("mentorq", listener, move || {
                let accept = fn_service(move |tcp: actix_web::rt::net::TcpStream| {
                    let peer = tcp.peer_addr().ok();
                    // actix-http leaves Nagle's algorithm on unless told: a frame written
                    // while the previous one is unacknowledged would wait for the
                    // client's delayed ACK.
                    let _ = tcp.set_nodelay(true);
                    if send_buffer > 0 {
                        if let Err(error) = socket2::SockRef::from(&tcp).set_send_buffer_size(send_buffer) {
                            tracing::warn!(%error, "could not set the socket send buffer");
                        }
                    }
                    std::future::ready(Ok::<_, DispatchError>((Guarded::new(tcp, head_limits), peer)))
                });
                let app = app()
                    .into_factory()
                    .map_err(|error: actix_web::Error| error.error_response());
                accept.and_then(
                    HttpService::build()
                        // The head check answers slow heads (408) with a body itself.
                        .client_request_timeout(std::time::Duration::ZERO)
                        // As actix-web's `HttpServer` has it: a closing connection gets a
                        // second to finish before it is dropped.
                        .client_disconnect_timeout(std::time::Duration::from_secs(1))
                        .local_addr(local)
                        .h1(map_config(app, |_| AppConfig::default())),
                )
            })?
            // Signals are the caller's business (see `main`): it installs its handlers
            // before announcing the address, so no signal can arrive unhandled.
            .disable_signals()
            .shutdown_timeout(config.http.shutdown_timeout_seconds);
        if config.http.workers > 0 {
            server = server.workers(config.http.workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            store,
            arbiters: arbiters.into(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The store, for tests that inject faults (`Store::hold_syncs`).
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// A handle to stop the server from elsewhere (tests, signals).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT/SIGTERM or the handle), then makes the store
    /// durable and stops the actors.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        self.store.close().await?;
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        Ok(())
    }
}

/// Creates a local account on a stopped server's data folder, through the same actor
/// the server uses (so the CLI obeys the same rules and writes durably).
pub async fn add_local_user(
    config: Config,
    account: crate::domain::user::NewAccount,
    roles: crate::domain::user::Roles,
) -> anyhow::Result<crate::domain::user::User> {
    let store = Store::open_with_cache(&config.store.path, config.store.cache_capacity_bytes)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let actor = UserActor::load(
        store.clone(),
        clock,
        &config.auth.bootstrap_directors,
        config.auth.refresh_ttl_days,
    )?
    .start();
    let password = account.password;
    let hash = web::block(move || crate::auth::password::hash(&password)).await?;
    let user = actor
        .send(crate::actors::users::CreateUser {
            email: account.email,
            name: account.name,
            password_hash: Some(hash),
            roles,
        })
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await?;
    Ok(user)
}

/// How much lower than the request path the background thread runs (`nice` steps;
/// Linux's scheduler then gives it about a tenth of a busy core's time, and all of an
/// idle one).
const BACKGROUND_NICENESS: libc::c_int = 10;

/// A thread for work that must never compete with requests: the notification senders.
fn background_arbiter() -> Arbiter {
    let arbiter = Arbiter::new();
    arbiter.spawn_fn(|| {
        #[cfg(target_os = "linux")]
        // SAFETY: setpriority only changes the niceness of the calling thread (Linux
        // keeps one per thread); raising it needs no privilege.
        unsafe {
            let thread = libc::gettid() as libc::id_t;
            if libc::setpriority(libc::PRIO_PROCESS, thread, BACKGROUND_NICENESS) != 0 {
                tracing::warn!(
                    error = %std::io::Error::last_os_error(),
                    "could not lower the notification thread's priority"
                );
            }
        }
    });
    arbiter
}
