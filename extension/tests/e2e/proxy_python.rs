//! The Python runtime (awslambdaric) through faultline-wrapper and the proxy gives the same
//! results as talking to the Runtime API directly.

use crate::emulator::{Emulator, Outcome};
use crate::start_extension;
use crate::support::LambdaEnv;
use std::time::Duration;

struct Results {
    echo: Outcome,
    fail: Outcome,
    big: Outcome,
    env: Outcome,
}

async fn run_python(wrapped_with_extension: bool) -> Results {
    let emulator = Emulator::start().await;
    let env = LambdaEnv::new(&emulator.runtime_api());
    let _extension = if wrapped_with_extension {
        Some(start_extension(&env, &emulator).await)
    } else {
        None
    };
    let runtime = env.python(wrapped_with_extension);
    let timeout = Duration::from_secs(30);
    let invoke = |payload: &'static str| emulator.try_invoke(payload, timeout);
    let echo = invoke(r#"{"op":"echo","hello":"world","n":[1,2,3]}"#).await;
    let echo = echo.unwrap_or_else(|| panic!("no answer: {}", runtime.log_text()));
    let fail = invoke(r#"{"op":"fail"}"#).await.expect("fail answered");
    let big = invoke(r#"{"op":"big","bytes":5242880}"#)
        .await
        .expect("big answered");
    let env_out = invoke(r#"{"op":"env"}"#).await.expect("env answered");
    Results {
        echo,
        fail,
        big,
        env: env_out,
    }
}

#[tokio::test]
async fn python_results_are_identical_with_and_without_faultline() {
    let direct = run_python(false).await;
    let proxied = run_python(true).await;

    assert_eq!(
        direct.echo.json(),
        serde_json::json!({"op":"echo","hello":"world","n":[1,2,3]})
    );
    assert_eq!(proxied.echo, direct.echo);

    // The handler's exception class is the errorType, through the proxy too.
    assert_eq!(direct.fail.json()["errorType"], "OrdersUnavailable");
    assert_eq!(proxied.fail.json()["errorType"], "OrdersUnavailable");
    assert_eq!(
        proxied.fail.json()["errorMessage"],
        direct.fail.json()["errorMessage"]
    );
    assert!(matches!(proxied.fail, Outcome::Error { .. }));

    // 5 MiB of payload, byte for byte.
    assert!(direct.big.body().len() > 5 * 1024 * 1024);
    assert_eq!(proxied.big.body(), direct.big.body());

    // Enabled: the runtime was pointed at the proxy, not at the emulator.
    let direct_api = direct.env.json()["runtime_api"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let proxied_api = proxied.env.json()["runtime_api"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(direct_api.starts_with("127.0.0.1:"), "{direct_api}");
    assert_ne!(proxied_api, direct_api);
    assert!(
        proxied_api.starts_with("127.0.0.1:"),
        "plain host:port: {proxied_api}"
    );
}
