//! The PKCS#11 module that fails on purpose (`tests/faulty-pkcs11`): SoftHSM behind it, and the
//! calls the test names answered with the error it names. Every process of a test finds the real
//! module and the test's control file in its environment ([`Env`] sets both), so a config that
//! names [`faulty_module`] works for the agent as for `init`.

use std::path::PathBuf;

use crate::env::Env;
use crate::process::binary;

/// The module, built with the workspace (`cargo build --workspace --bins --lib`).
pub fn faulty_module() -> PathBuf {
    binary("libapisec_faulty_pkcs11.so")
}

impl Env {
    /// The file the module reads at every call that can fail (`$APISEC_FAULTY_PKCS11_CONTROL`).
    pub fn token_faults_file(&self) -> PathBuf {
        self.root().join("token-faults")
    }

    /// From now on, the calls `faults` names fail through the module: one `CALL=CKR_VALUE` per
    /// line, `CALL=CKR_VALUE xN` for N calls only; "" fails nothing. Written whole (renamed into
    /// place), so the module never reads half of it.
    pub fn set_token_faults(&self, faults: &str) {
        let path = self.token_faults_file();
        let part = path.with_extension("part");
        std::fs::write(&part, faults).unwrap();
        std::fs::rename(&part, &path).unwrap();
    }
}
