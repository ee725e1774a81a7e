//! The TLS client settings of every HTTPS connection faultline opens itself: rustls with ring,
//! the system's trust store, and optionally more roots from a PEM file.

use std::path::Path;
use std::sync::Arc;

/// The client settings, trusting the system's roots and those in `ca_file` (named by
/// `ca_var` in errors). Errors name what could not be read.
pub fn client_config(ca: Option<(&str, &Path)>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some((ca_var, path)) = ca {
        use rustls_pki_types::pem::PemObject as _;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|err| format!("{ca_var}: cannot read {}: {err}", path.display()))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|err| {
                format!(
                    "{ca_var}: {} is not PEM certificates: {err}",
                    path.display()
                )
            })?;
            roots.add(cert).map_err(|err| {
                format!(
                    "{ca_var}: a certificate in {} is unusable: {err}",
                    path.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("{ca_var}: {} holds no certificate", path.display()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS set-up failed: {err}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
