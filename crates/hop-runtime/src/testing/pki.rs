//! [`TestPki`]: a throw-away certificate authority for the mutual-TLS tests, and the
//! certificates it issues (valid for `localhost`, `127.0.0.1` and the given name, for both server
//! and client use), as PEM files in a temporary folder.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::security::TlsFiles;

/// A CA and the files of what it issued.
pub struct TestPki {
    dir: tempfile::TempDir,
    ca: Certificate,
    ca_key: KeyPair,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl TestPki {
    /// A new CA named `name` (two PKIs never trust each other's certificates).
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("a folder for the certificates");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("a CA key");
        let ca = params.self_signed(&ca_key).expect("a self-signed CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("CA file written");
        Self { dir, ca, ca_key }
    }

    /// The CA certificate's file.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The folder of the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A certificate for `name` (and `localhost`, `127.0.0.1`) signed by this CA, with its key:
    /// `<name>.pem`, `<name>-key.pem`, and the CA.
    pub fn issue(&self, name: &str) -> TlsFiles {
        let sans = vec![name.to_owned(), "localhost".into(), "127.0.0.1".into()];
        let mut params = CertificateParams::new(sans).expect("certificate parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("a signed certificate");
        let files = TlsFiles {
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}-key.pem")),
            ca: self.ca(),
        };
        std::fs::write(&files.cert, cert.pem()).expect("certificate written");
        std::fs::write(&files.key, key.serialize_pem()).expect("key written");
        files
    }
}

/// `tls_cert=...`, `tls_key=...`, `tls_ca=...` for `--set`.
pub fn tls_settings(files: &TlsFiles) -> Vec<String> {
    vec![
        format!("tls_cert={}", files.cert.display()),
        format!("tls_key={}", files.key.display()),
        format!("tls_ca={}", files.ca.display()),
    ]
}
