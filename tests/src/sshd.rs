//! A private `sshd` on 127.0.0.1 (its own host key, one authorized client key, stream-local
//! forwarding allowed), and `ssh` to it as root: for the tests of recipes that forward a socket
//! over SSH. Run as root only (sshd needs `/run/sshd` and to switch users).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::env::Env;
use crate::wait::wait_until;

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub client_key: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// Starts it under the test's temp dir and waits until it accepts connections.
    pub fn start(env: &Env) -> Self {
        let dir = env.root().join("sshd");
        std::fs::create_dir_all(&dir).unwrap();
        let keygen = |path: &std::path::Path| {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path)
                .status()
                .unwrap();
            assert!(ok.success());
        };
        keygen(&dir.join("host_key"));
        keygen(&dir.join("client_key"));
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nAllowStreamLocalForwarding yes\nStreamLocalBindUnlink yes\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd (apt-get install openssh-server)");
        wait_until(
            Duration::from_secs(10),
            || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
            || {
                format!(
                    "sshd did not start: {}",
                    std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
                )
            },
        );
        Self {
            child,
            port,
            client_key: dir.join("client_key"),
        }
    }

    /// `ssh` to it as root with the client key, no config file, no host-key prompt, failing
    /// (not going on without) when a forward cannot be set up; the caller adds `-L`/`-R` and
    /// the destination `root@127.0.0.1`.
    pub fn ssh(&self) -> Command {
        let mut ssh = Command::new("ssh");
        ssh.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["-F", "/dev/null", "-i"])
            .arg(&self.client_key)
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "StreamLocalBindUnlink=yes",
                "-p",
                &self.port.to_string(),
            ]);
        ssh
    }
}
