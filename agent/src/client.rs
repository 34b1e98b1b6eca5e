//! A blocking client of the agent, used by `apisec`, `apisec-agent add` (to ask for a reload), the
//! tests and the benches. One request at a time per connection; replies come back in order.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::proto::{self, frame, msg, ApisecRequest, ErrorReply, FrameError, WireError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the agent at {path}: {source}")]
    Connect { path: PathBuf, source: io::Error },
    #[error("lost the connection to the agent: {0}")]
    Frame(#[from] FrameError),
    #[error("the agent sent a reply this client cannot read: {0}")]
    Wire(#[from] WireError),
    #[error("the agent does not support {0} (is it an apisec-agent, and as new as this client?)")]
    Unsupported(&'static str),
    #[error("the agent sent an unexpected reply (message type {0})")]
    Unexpected(u8),
    #[error("{0}")]
    Agent(#[from] ErrorReply),
}

pub struct Client {
    stream: UnixStream,
}

/// Refuses a socket another uid could have put there: its directory a symbolic link, or a
/// directory someone else owns inside a directory anyone may write to (`/tmp`, where the
/// fallback `/tmp/apisec-UID` lives: another user could create it first and listen in it, to
/// read every request and answer with signatures of its own).
fn check_socket_dir(socket: &Path) -> Result<(), ClientError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let planted = |why: String| ClientError::Connect {
        path: socket.to_owned(),
        source: io::Error::new(io::ErrorKind::PermissionDenied, why),
    };
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return Ok(()); // connect says what is missing
    };
    if meta.file_type().is_symlink() {
        return Err(planted(format!(
            "its directory {} is a symbolic link, which another user may have planted; \
             refusing to use it (remove it, or set APISEC_AUTH_SOCK)",
            dir.display()
        )));
    }
    // SAFETY: getuid cannot fail. (Not `hardening::current_uid`: the client side of the
    // library, which `apisec` links, is built without the daemon's modules.)
    let me = unsafe { libc::getuid() };
    let shared_parent = dir
        .parent()
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|p| p.permissions().mode() & 0o002 != 0);
    if shared_parent && meta.uid() != me && meta.uid() != 0 {
        return Err(planted(format!(
            "its directory {} is owned by uid {}, not by you (uid {me}), in a directory anyone \
             may write to; refusing to use it: another user may have created it first (remove \
             it, or set APISEC_AUTH_SOCK to the agent's real socket)",
            dir.display(),
            meta.uid()
        )));
    }
    Ok(())
}

impl Client {
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        check_socket_dir(path)?;
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self { stream })
    }

    /// Bounds every later read and write (`None`: wait forever, the default): for callers that
    /// must not hang on an agent that does not answer, such as a shell completion.
    pub fn set_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)?;
        self.stream.set_write_timeout(timeout)
    }

    /// Connects to `$APISEC_AUTH_SOCK`, or the default socket.
    pub fn from_env() -> Result<Self, ClientError> {
        Self::connect(&crate::paths::client_socket())
    }

    /// Sends one extension request and returns the reply's details. `on_progress` sees each
    /// interim `progress@apisec` line.
    pub fn call_with_progress(
        &mut self,
        request: &ApisecRequest,
        mut on_progress: impl FnMut(&str),
    ) -> Result<Vec<u8>, ClientError> {
        frame::write_blocking(&mut self.stream, &request.to_frame()).map_err(FrameError::Io)?;
        loop {
            let message = frame::read_blocking(&mut self.stream)?;
            let body = &message[1..];
            match message[0] {
                msg::EXTENSION_RESPONSE => {
                    let mut c = proto::wire::Cursor::new(body);
                    let name = c.text("reply name")?;
                    let details = &body[4 + name.len()..];
                    if name == proto::EXT_PROGRESS {
                        on_progress(&proto::decode_progress(details)?);
                        continue;
                    }
                    return Ok(details.to_vec());
                }
                msg::EXTENSION_FAILURE => return Err(ErrorReply::decode(body).into()),
                msg::FAILURE => return Err(ClientError::Unsupported(request.name())),
                other => return Err(ClientError::Unexpected(other)),
            }
        }
    }

    pub fn call(&mut self, request: &ApisecRequest) -> Result<Vec<u8>, ClientError> {
        self.call_with_progress(request, |_| {})
    }

    pub fn unlock(
        &mut self,
        names: &[String],
        on_progress: impl FnMut(&str),
    ) -> Result<proto::UnlockReply, ClientError> {
        let req = ApisecRequest::Unlock(proto::UnlockRequest {
            flags: proto::UNLOCK_WANT_PROGRESS,
            names: names.to_vec(),
        });
        Ok(proto::UnlockReply::decode(
            &self.call_with_progress(&req, on_progress)?,
        )?)
    }

    pub fn lock(&mut self, names: &[String]) -> Result<u32, ClientError> {
        let req = ApisecRequest::Lock(proto::LockRequest {
            names: names.to_vec(),
        });
        Ok(proto::decode_count(&self.call(&req)?)?)
    }

    /// Every entry's state, with the notes on what weakens each (an agent older than the
    /// notes leaves them empty).
    pub fn status(&mut self) -> Result<proto::StatusReply, ClientError> {
        let req = ApisecRequest::Status(proto::StatusRequest {
            flags: proto::STATUS_WANT_NOTES | proto::STATUS_WANT_RECIPIENTS,
        });
        let reply = match self.call(&req) {
            // An agent that predates the notes reads no details and calls the flags malformed:
            // ask again as 0.1.0 did.
            Err(ClientError::Agent(e)) if e.code == proto::ErrorCode::BadRequest => {
                self.call(&ApisecRequest::Status(proto::StatusRequest::default()))?
            }
            other => other?,
        };
        Ok(proto::StatusReply::decode(&reply)?)
    }

    pub fn sign(&mut self, request: proto::SignRequest) -> Result<proto::SignReply, ClientError> {
        Ok(proto::SignReply::decode(
            &self.call(&ApisecRequest::Sign(request))?,
        )?)
    }

    pub fn login(
        &mut self,
        request: proto::LoginRequest,
    ) -> Result<proto::LoginReply, ClientError> {
        Ok(proto::LoginReply::decode(
            &self.call(&ApisecRequest::Login(request))?,
        )?)
    }

    pub fn mac(
        &mut self,
        name: &str,
        algorithm: &str,
        data: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        let req = ApisecRequest::Mac(proto::MacRequest {
            name: name.to_owned(),
            algorithm: algorithm.to_owned(),
            data: data.to_vec(),
        });
        Ok(proto::decode_mac_reply(&self.call(&req)?)?)
    }

    pub fn reload(&mut self) -> Result<u32, ClientError> {
        Ok(proto::decode_count(&self.call(&ApisecRequest::Reload)?)?)
    }

    /// The approvals waiting for an admin's answer.
    pub fn approvals(&mut self) -> Result<Vec<proto::WaitingApproval>, ClientError> {
        Ok(proto::decode_approvals(
            &self.call(&ApisecRequest::Approvals)?,
        )?)
    }

    /// Approves (or denies) the waiting approval `id`.
    pub fn answer(&mut self, id: u32, approve: bool) -> Result<(), ClientError> {
        self.call(&ApisecRequest::Answer(proto::AnswerRequest { id, approve }))
            .map(|_| ())
    }

    pub fn shutdown(&mut self) -> Result<(), ClientError> {
        self.call(&ApisecRequest::Shutdown).map(|_| ())
    }

    /// The extensions the agent lists in its `query` reply.
    pub fn query(&mut self) -> Result<Vec<String>, ClientError> {
        let details = self.call(&ApisecRequest::Query)?;
        let mut c = proto::wire::Cursor::new(&details);
        let names = c
            .text_list("query reply")?
            .into_iter()
            .map(str::to_owned)
            .collect();
        c.finish("query reply")?;
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A directory anyone may write to, like /tmp.
    fn shared_tmp() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        dir
    }

    fn refused(path: &Path) -> String {
        match check_socket_dir(path) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("{} was accepted", path.display()),
        }
    }

    #[test]
    fn a_socket_whose_directory_is_a_planted_link_is_refused() {
        let tmp = shared_tmp();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let planted = tmp.path().join("apisec-1000");
        std::os::unix::fs::symlink(&real, &planted).unwrap();
        let why = refused(&planted.join("agent.sock"));
        assert!(why.contains("symbolic link"), "{why}");
        // A directory of our own there is fine.
        assert!(check_socket_dir(&real.join("agent.sock")).is_ok());
    }

    #[test]
    #[ignore = "needs root: gives a directory to another uid; scripts/test.sh runs it as root"]
    fn as_root_a_socket_directory_another_uid_made_in_tmp_is_refused() {
        let tmp = shared_tmp();
        let theirs = tmp.path().join("apisec-0");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let why = refused(&theirs.join("agent.sock"));
        assert!(why.contains("owned by uid 65534"), "{why}");
        // Outside a directory anyone may write to, ownership is the deployment's choice (the
        // separated deployment's socket directory is the agent user's).
        let private = tempfile::tempdir().unwrap();
        let agents = private.path().join("apisec");
        std::fs::create_dir(&agents).unwrap();
        std::os::unix::fs::chown(&agents, Some(65534), Some(65534)).unwrap();
        assert!(check_socket_dir(&agents.join("agent.sock")).is_ok());
    }
}
