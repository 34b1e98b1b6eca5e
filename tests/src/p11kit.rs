//! A test's SoftHSM token served by `p11-kit server` (Debian's `p11-kit`), reached through
//! `p11-kit-client.so` (Debian's `p11-kit-modules`) as a token on another host is: the server
//! on the test's default client socket, `$XDG_RUNTIME_DIR/p11-kit/pkcs11`, so every process of
//! the test finds it without a variable.

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::env::{softhsm_module, Env, TOKEN_LABEL};
use crate::wait::wait_until;

/// Debian's client module: a PKCS#11 module that forwards every call to a `p11-kit server`.
pub const P11_KIT_CLIENT: &str = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";

/// Where `p11-kit-client.so` looks for its server in the test's processes:
/// `$XDG_RUNTIME_DIR/p11-kit/pkcs11`.
pub fn default_client_socket(env: &Env) -> PathBuf {
    env.root().join("run/p11-kit/pkcs11")
}

/// `p11-kit server` exporting the test's token. Stopped (with every process it forked for a
/// connection, as when the link drops) by [`P11KitServer::stop`] and at drop.
pub struct P11KitServer {
    /// The label of the token it exports.
    token: String,
    socket: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl P11KitServer {
    /// Starts it on the test's default client socket and waits until it accepts connections.
    pub fn start(env: &Env) -> Self {
        Self::start_at(env, &default_client_socket(env))
    }

    /// Starts it on `socket` (as on the token's own host, for a forward to reach).
    pub fn start_at(env: &Env, socket: &std::path::Path) -> Self {
        Self::start_token_at(env, TOKEN_LABEL, socket)
    }

    /// Exporting the test's SoftHSM token `token` (a backup token) instead, on the test's
    /// default client socket.
    pub fn start_token(env: &Env, token: &str) -> Self {
        Self::start_token_at(env, token, &default_client_socket(env))
    }

    fn start_token_at(env: &Env, token: &str, socket: &std::path::Path) -> Self {
        let socket = socket.to_owned();
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        let mut server = Self {
            token: token.to_owned(),
            log: env.root().join("p11-kit-server.log"),
            socket,
            child: None,
        };
        server.restart(env);
        server
    }

    /// Starts it again on the same socket (after [`P11KitServer::stop`]).
    pub fn restart(&mut self, env: &Env) {
        assert!(self.child.is_none(), "the server is already running");
        let _ = std::fs::remove_file(&self.socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = env
            .command("p11-kit")
            .args(["server", "--foreground", "--name"])
            .arg(&self.socket)
            .arg("--provider")
            .arg(softhsm_module())
            .arg(format!("pkcs11:token={}", self.token))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group: the children it forks per connection die with it.
            .process_group(0)
            .spawn()
            .expect("p11-kit server (apt-get install p11-kit)");
        self.child = Some(child);
        wait_until(
            Duration::from_secs(20),
            || UnixStream::connect(&self.socket).ok().map(|_| ()),
            || format!("p11-kit server did not listen: {}", self.log()),
        );
    }

    /// Kills the server and the processes serving its connections: the link is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the process group this fixture made; no memory is involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for P11KitServer {
    fn drop(&mut self) {
        self.stop();
    }
}
