//! The function's environment as `deployer enable` writes it and the extension reads it: the
//! variables of faultline's own wiring beyond the GREMLIN_* ones, and the URL form of a
//! third-party API rewritten for TLS origination. One definition for both sides.

/// The variable naming the function's variables whose `https://` URL `deployer enable
/// --tls-origination-env` rewrote for TLS origination (the wrapper gives them back when the
/// dependency proxy is not live).
pub const ORIGINATION_ENV: &str = "FAULTLINE_TLS_ORIGINATION_ENV";

/// The opt-in to cold-start faults (`deployer enable --init-faults`): only then does faultline
/// wait for its config during INIT, bounded by the request timeout, and apply `init`
/// experiments.
pub const INIT_FAULTS_ENV: &str = "FAULTLINE_INIT_FAULTS";

/// A role in the config's account that faultline assumes, with the function's credentials, to
/// read the config (the Failure Flags sidecar's name; `deployer enable --config-role`).
pub const CONFIG_ROLE_ENV: &str = "GREMLIN_CONFIG_ARN_ROLE";

/// Whether `text` is an IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/NAME`).
pub fn is_role_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(
        parts[..],
        ["arn", partition, "iam", "", account, resource]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
    )
}

/// `https://HOST[:443]/rest` as `http://HOST:443/rest`, the form that sends a call through the
/// dependency proxy's TLS origination; None for another URL (another scheme or port,
/// credentials in it).
pub fn origination_url(url: &str) -> Option<String> {
    let rest = url.trim().strip_prefix("https://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority.strip_suffix(":443").unwrap_or(authority);
    is_plain_host(host).then(|| format!("http://{host}:443{path}"))
}

/// The host of a URL in the form [`origination_url`] writes (`http://HOST:443` or
/// `http://HOST:443/...`), lower-cased; None for anything else.
pub fn origination_host(url: &str) -> Option<String> {
    let rest = url.trim().strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.strip_suffix(":443")?;
    is_plain_host(host).then(|| host.to_ascii_lowercase())
}

/// A DNS name or IPv4 address: letters, digits, dots and dashes.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_url_gives_its_host_back() {
        for (url, rewritten, host) in [
            (
                "https://API.example.com/v1?q=1",
                "http://API.example.com:443/v1?q=1",
                "api.example.com",
            ),
            (
                "https://api.example.com:443",
                "http://api.example.com:443",
                "api.example.com",
            ),
        ] {
            let got = origination_url(url).expect("an https URL on 443");
            assert_eq!(got, rewritten);
            assert_eq!(origination_host(&got).as_deref(), Some(host));
        }
        for refused in [
            "http://api.example.com",
            "https://api.example.com:8443/",
            "https://user@api.example.com/",
            "https://",
        ] {
            assert_eq!(origination_url(refused), None, "{refused}");
        }
        for not_ours in [
            "http://api.example.com",
            "http://api.example.com:80/",
            "http://u@h:443",
        ] {
            assert_eq!(origination_host(not_ours), None, "{not_ours}");
        }
    }
}
