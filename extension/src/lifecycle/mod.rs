//! The extension's life: bind, announce readiness, register, wait for SHUTDOWN.
//!
//! Order matters. The listeners are bound and the ready file written *before* registering,
//! because Lambda starts the runtime (and so `faultline-wrapper`) once every extension has
//! registered. The config is fetched in parallel and never delays registration, nor, unless the
//! function opted in to cold-start faults ([`cold_start`]), the end of INIT: an invocation that
//! arrives before the first read passes through untouched.
//!
//! Idle (disabled, or a setting that cannot be used), faultline still binds the dependency proxy
//! as a pure pass-through and the SDK endpoint answering `[]`, so that a runtime that ignores the
//! wrapper (and so keeps HTTP(S)_PROXY on faultline) loses nothing; no ready file is written, so
//! the wrapper leaves the runtime alone and restores the function's own proxy.

mod cold_start;

use crate::config::loader::ConfigLoader;
use crate::config::refresh::ConfigRefresher;
use crate::config::source::ConfigFetcher;
use crate::config::state::ConfigState;
use crate::dependency_proxy::DependencyProxy;
use crate::environment::Environment;
use crate::invocation::CurrentInvocation;
use crate::lambda::extensions_api::{ExtensionsApi, ExtensionsApiError};
use crate::lambda::ready_file::{self, Listeners};
use crate::logging::LogLevel;
use crate::net::client::new_client;
use crate::runtime_proxy::RuntimeProxy;
use crate::sdk_endpoint::SdkEndpoint;
use crate::settings::Settings;
use faultline_schema::config::{Config, ListenAddr};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Lifecycle events faultline subscribes to. INVOKE is not needed: invocations are seen through
/// the Runtime API proxy, and not subscribing keeps the extension off the invoke path.
const EVENTS: &[&str] = &["SHUTDOWN"];
/// Attempts at `/event/next` before giving up on a broken Extensions API.
const NEXT_EVENT_ATTEMPTS: u32 = 3;

/// Runs the extension until SHUTDOWN. An error means the Extensions API itself failed.
pub async fn run(
    settings: Settings,
    log_level: LogLevel,
    extension_name: &str,
) -> Result<(), ExtensionsApiError> {
    let client = new_client();
    let api = ExtensionsApi::new(client.clone(), settings.lambda_api.clone());
    ready_file::remove(&settings.ready_file);
    let state = ConfigState::for_function(settings.facts.clone());
    let mut refresher = None;
    let mut environment = None;

    if let Some(problem) = &settings.problem {
        tracing::error!("{problem}; faultline stays idle and the function runs without it");
        start_idle(&settings).await;
    } else if !settings.enabled {
        tracing::info!("GREMLIN_LAMBDA_ENABLED is not true: faultline stays idle");
        start_idle(&settings).await;
    } else {
        crate::xray::init(settings.xray_daemon.as_deref());
        let (listeners, started) = start_enabled(&settings, &log_level, &state).await;
        refresher = started;
        environment = Some(Environment::new(
            state.clone(),
            settings.facts.memory_mb,
            std::env::temp_dir(),
        ));
        match ready_file::write(&settings.ready_file, &listeners) {
            Ok(()) => tracing::debug!("ready: {}", listeners.line(std::process::id()).trim()),
            Err(err) => tracing::error!(
                "cannot write ready file {}: {err}; the runtime will talk to Lambda directly",
                settings.ready_file.display()
            ),
        }
    }

    // The remote read starts after registering: setting up its AWS client (credentials, TLS
    // roots) takes milliseconds of CPU on this one thread, which would hold up the registration
    // and so the start of the runtime. With the cold-start opt-in INIT waits for the read: it
    // starts at once.
    if settings.init_faults
        && let Some(refresher) = refresher.take()
    {
        spawn_refresh(refresher);
    }
    let registration = api.register(extension_name, EVENTS).await;
    if let Some(refresher) = refresher.take() {
        spawn_refresh(refresher);
    }
    let registration = registration?;
    if let Some(environment) = &environment {
        environment.spawn();
    }
    // Whatever the environment effects started is undone however this returns.
    let undo = || {
        if let Some(environment) = &environment {
            environment.stop_all();
        }
    };
    tracing::debug!(
        "registered as {extension_name} for function {}",
        registration.info.function_name.as_deref().unwrap_or("?")
    );

    if settings.enabled
        && settings.init_faults
        && cold_start::apply(&state, &api, &registration.identifier).await
            == cold_start::ColdStart::Failed
    {
        undo();
        ready_file::remove(&settings.ready_file);
        return Ok(());
    }

    let mut failures = 0;
    loop {
        match api.next_event(&registration.identifier).await {
            Ok(event) if event.is_shutdown() => {
                tracing::info!(
                    "shutdown ({})",
                    event
                        .shutdown_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                );
                undo();
                ready_file::remove(&settings.ready_file);
                return Ok(());
            }
            Ok(event) => {
                failures = 0;
                tracing::debug!("lifecycle event {}", event.event_type);
            }
            Err(err) => {
                failures += 1;
                if failures >= NEXT_EVENT_ATTEMPTS {
                    undo();
                    ready_file::remove(&settings.ready_file);
                    return Err(err);
                }
                tracing::warn!("{err}; retrying");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(failures))).await;
            }
        }
    }
}

/// Idle: the dependency proxy as a pure pass-through (no config is ever loaded, so no experiment
/// is consulted) and the SDK endpoint answering `[]`, each unless its port is taken.
async fn start_idle(settings: &Settings) {
    let state = ConfigState::for_function(settings.facts.clone());
    start_dependency_proxy(settings, None, &state, CurrentInvocation::default()).await;
    start_sdk_endpoint(settings, None, &state, CurrentInvocation::default()).await;
}

/// Binds the dependency proxy; its address, when bound.
async fn start_dependency_proxy(
    settings: &Settings,
    config: Option<&Config>,
    state: &ConfigState,
    current: CurrentInvocation,
) -> Option<SocketAddr> {
    let listen = settings.dependency_listen_or(config.map(|c| &c.dependency_proxy_port));
    let listener = bind("dependency proxy", &listen).await?;
    let addr = listener.local_addr().ok();
    let proxy = DependencyProxy::new(
        state.clone(),
        settings.facts.clone(),
        current,
        settings.upstream_proxy.clone(),
        settings.origination_hosts.clone(),
    );
    tokio::spawn(proxy.serve(listener, settings.max_connections));
    addr
}

/// Binds the SDK endpoint; its address, when bound.
async fn start_sdk_endpoint(
    settings: &Settings,
    config: Option<&Config>,
    state: &ConfigState,
    current: CurrentInvocation,
) -> Option<SocketAddr> {
    let listen = settings.sdk_listen_or(config.map(|c| &c.sdk_endpoint_port));
    let listener = bind("SDK endpoint", &listen).await?;
    let addr = listener.local_addr().ok();
    let endpoint = SdkEndpoint::new(state.clone(), settings.facts.clone(), current);
    tokio::spawn(endpoint.serve(listener));
    addr
}

/// Loads a local config, binds the Runtime API proxy, the dependency proxy and the SDK endpoint;
/// returns the listeners and the refresher, which the caller starts ([`spawn_refresh`]). Every listener is
/// bound before registration; a listener that cannot be bound is logged and skipped (the
/// function runs without it). The dependency proxy and the SDK endpoint are bound even when the
/// config switches them off: they then pass everything through and answer `[]`.
async fn start_enabled(
    settings: &Settings,
    log_level: &LogLevel,
    state: &ConfigState,
) -> (Listeners, Option<Arc<ConfigRefresher>>) {
    let refresher = settings.config_source.clone().map(|source| {
        let fetcher = ConfigFetcher::new(source).with_role(settings.config_role.clone());
        let loader = Arc::new(ConfigLoader::new(fetcher, state.clone()));
        ConfigRefresher::new(
            loader,
            state.clone(),
            log_level.clone(),
            settings.facts.region.clone(),
        )
    });
    match &refresher {
        // A file is read before binding (it is local and fast), so it may choose the ports.
        Some(refresher) if !refresher.is_remote() => {
            refresher.load_now().await;
        }
        Some(_) => {}
        None => {
            tracing::warn!(
                "neither GREMLIN_CONFIG_ARN nor GREMLIN_CONFIG_FILE is set: no experiments will run"
            );
            state.set(Config::default());
        }
    }

    let config = state.current();
    let config = config.as_ref().map(|c| &c.config);
    let current = CurrentInvocation::new(settings.concurrent);
    let mut listeners = Listeners::default();
    if config.is_some_and(|c| !c.lambda_proxy_enabled) {
        tracing::info!("lambda_proxy_enabled is false: the runtime talks to Lambda directly");
    } else {
        let listen = settings.proxy_listen_or(config.map(|c| &c.lambda_proxy_port));
        if let Some(listener) = bind("Runtime API proxy", &listen).await {
            let proxy = RuntimeProxy::new(
                settings.runtime_upstream.clone(),
                state.clone(),
                refresher.clone(),
                current.clone(),
            );
            listeners.runtime = listener.local_addr().ok();
            tracing::debug!("Runtime API upstream {}", settings.runtime_upstream);
            tokio::spawn(proxy.serve(listener));
        }
    }
    if config.is_some_and(|c| !c.dependency_proxy_enabled) {
        tracing::info!("dependency_proxy_enabled is false: dependency traffic passes untouched");
    }
    listeners.dependency = start_dependency_proxy(settings, config, state, current.clone()).await;
    if config.is_some_and(|c| !c.sdk_endpoint_enabled) {
        tracing::info!("sdk_endpoint_enabled is false: SDK lookups are answered with []");
    }
    listeners.sdk = start_sdk_endpoint(settings, config, state, current).await;

    (listeners, refresher)
}

/// Starts reading the config in the background: the first remote read now, then the refresh.
fn spawn_refresh(refresher: Arc<ConfigRefresher>) {
    tokio::spawn(async move {
        if refresher.is_remote() {
            refresher.load_now().await;
        }
        refresher.run_periodic().await;
    });
}

/// Binds one listener, logging why not.
async fn bind(what: &str, listen: &ListenAddr) -> Option<TcpListener> {
    match TcpListener::bind(listen.socket_addr()).await {
        Ok(listener) => {
            if let Ok(addr) = listener.local_addr() {
                tracing::debug!("{what} listening on {addr}");
            }
            Some(listener)
        }
        Err(err) => {
            tracing::error!("cannot listen on {listen} for the {what}: {err}; running without it");
            None
        }
    }
}
