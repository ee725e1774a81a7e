//! Certificates for tests and benchmarks that need real TLS: a CA made for the run and, signed
//! by it, a server certificate for the names a test gives (made with the `openssl` command).

use std::path::{Path, PathBuf};

/// Runs `openssl` with `args` in `dir`; panics (a test failure) when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|err| panic!("openssl does not run: {err}"));
    assert!(status.success(), "openssl {args:?} failed");
}

/// The files of a test CA and its server certificate.
pub struct TestCerts {
    /// The CA certificate (PEM): what a client trusts.
    pub ca: PathBuf,
    /// The server certificate (PEM), RSA 2048, signed by the CA.
    pub cert: PathBuf,
    /// The server certificate's key (PKCS#8 PEM).
    pub key: PathBuf,
}

/// A CA named `name` and, signed by it, a server certificate for `names` (`DNS:host`,
/// `DNS:*.domain` or `IP:127.0.0.1`), all in `dir`. Each name gives other files, so one folder
/// can hold several CAs.
pub fn test_certs(dir: &Path, name: &str, names: &[&str]) -> TestCerts {
    let (ca_key, ca) = (format!("{name}.key"), format!("{name}.pem"));
    let (key, csr, cert) = (
        format!("{name}-server.key"),
        format!("{name}-server.csr"),
        format!("{name}-server.pem"),
    );
    let ext = format!("{name}-ext.cnf");
    std::fs::write(
        dir.join(&ext),
        format!(
            "subjectAltName={}\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            names.join(",")
        ),
    )
    .unwrap_or_else(|err| panic!("writing {ext}: {err}"));
    let subject = format!("/CN=faultline test CA {name}");
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", &subject,
            "-keyout", &ca_key, "-out", &ca,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=faultline test server",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            &cert,
            "-extfile",
            &ext,
        ],
    );
    TestCerts {
        ca: dir.join(ca),
        cert: dir.join(cert),
        key: dir.join(key),
    }
}
