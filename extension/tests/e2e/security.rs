//! Security: the listeners are on loopback only, whatever the environment asks; asking for
//! another address leaves the function untouched; the secret's content never reaches a log.

use crate::emulator::Emulator;
use crate::start_extension;
use crate::support::{LambdaEnv, Moto};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

/// A non-loopback address of this machine, if it has one: the source address the routing table
/// picks for a documentation address (a UDP "connect" sends nothing).
fn outside_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn reachable(ip: IpAddr, port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(2)).is_ok()
}

#[tokio::test]
async fn listeners_are_reachable_on_loopback_only() {
    let moto = Moto::start().await;
    let marker = "TOPSECRET-5f2c9e";
    let arn = moto
        .create_secret(
            "faultline-security",
            &format!("team_private_key: \"{marker}\"\nexperiments: []\n"),
        )
        .await;
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    let sdk_port: u16 = env.vars["GREMLIN_SIDECAR_PORT"].parse().expect("port");
    // The SDKs' variable may name any host; faultline listens on loopback regardless.
    env.set("GREMLIN_SIDECAR_PORT", format!("0.0.0.0:{sdk_port}"))
        .set("GREMLIN_CONFIG_ARN", &arn)
        .set("AWS_ENDPOINT_URL", &moto.endpoint)
        .set("GREMLIN_DEBUG", "true");
    let extension = start_extension(&env, &emulator).await;
    let _runtime = env.python(true);
    emulator.invoke(r#"{"op":"echo"}"#).await;

    let ready = std::fs::read_to_string(env.ready_file()).expect("ready file");
    let proxy: SocketAddr = ready
        .split_whitespace()
        .next()
        .and_then(|a| a.parse().ok())
        .expect("proxy address");
    let dependency: SocketAddr = env.vars["FAULTLINE_DEPENDENCY_PROXY_PORT"]
        .parse()
        .expect("dependency proxy address");
    let ports = [
        ("Runtime API proxy", proxy.port()),
        ("dependency proxy", dependency.port()),
        ("SDK endpoint", sdk_port),
    ];
    let loopback = IpAddr::from([127, 0, 0, 1]);
    for (what, port) in ports {
        assert!(reachable(loopback, port), "{what} not on loopback");
    }
    match outside_address() {
        Some(ip) => {
            for (what, port) in ports {
                assert!(!reachable(ip, port), "{what} reachable on {ip}:{port}");
            }
        }
        None => eprintln!("no non-loopback address on this machine: only loopback was checked"),
    }
    // The read is not waited for: it may end after the first invocation.
    assert!(
        extension
            .wait_log("config loaded from secret", Duration::from_secs(10))
            .await,
        "{}",
        extension.log_text()
    );
    let logs = extension.log_text();
    assert!(!logs.contains(marker), "secret content in the log:\n{logs}");
}

#[tokio::test]
async fn a_non_loopback_listen_address_is_refused_and_the_function_runs_untouched() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    env.set("GREMLIN_LAMBDA_API_PROXY_PORT", "0.0.0.0:5033");
    let extension = start_extension(&env, &emulator).await;
    let _runtime = env.python(true);
    let seen = emulator.invoke(r#"{"op":"env"}"#).await.json();
    assert_eq!(
        seen["runtime_api"].as_str(),
        Some(emulator.runtime_api().as_str()),
        "the runtime talks to Lambda directly"
    );
    assert!(!env.ready_file().exists());
    assert!(
        extension.log_text().contains("only loopback addresses"),
        "{}",
        extension.log_text()
    );
}

#[tokio::test]
async fn proxy_passwords_never_reach_the_log_even_in_debug_mode() {
    let emulator = Emulator::start().await;
    let mut env = LambdaEnv::new(&emulator.runtime_api());
    // A corporate proxy that is not there: the dependency proxy tries it and logs the failure.
    let dead = crate::support::free_port();
    env.config_file(&format!(
        "debug: true\nhttps_proxy: http://svc:c0nfig%40pass@127.0.0.1:{dead}\nexperiments: []\n"
    ))
    .set("GREMLIN_DEBUG", "true")
    .set(
        "FAULTLINE_UPSTREAM_PROXY",
        format!("http://svc:env-p%40ss@127.0.0.1:{dead}"),
    );
    let extension = start_extension(&env, &emulator).await;
    assert!(
        extension
            .wait_log("config in force", Duration::from_secs(5))
            .await,
        "debug mode logs the config: {}",
        extension.log_text()
    );
    // Plain HTTP and CONNECT through the dependency proxy, both failing at the corporate proxy.
    let proxy = env.dependency_proxy_url();
    for args in [
        vec!["http://example.invalid/"],
        vec!["https://example.invalid/"],
    ] {
        let _ = tokio::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", "--proxy", &proxy])
            .args(args)
            .output()
            .await;
    }
    let log = extension.log_text();
    for secret in ["c0nfig", "env-p", "%40pass", "%40ss"] {
        assert!(!log.contains(secret), "`{secret}` in the log:\n{log}");
    }
}
