//! A terminal for a test: a pseudo-terminal whose other end is a child's controlling terminal,
//! so that what reads a password from `/dev/tty` with echo off (`softhsm2-util`, `read -s`,
//! `apisec-agent add`'s prompts) is driven as a user at a keyboard would drive it: wait for the
//! prompt, then type.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Terminal {
    master: File,
    child: Child,
    /// Everything the child wrote to the terminal so far.
    seen: Vec<u8>,
    /// Where the next `expect` starts looking.
    cursor: usize,
}

impl Terminal {
    /// Starts `cmd` in a new session whose controlling terminal is a fresh pseudo-terminal, its
    /// standard input, output and error all on it.
    pub fn spawn(mut cmd: Command) -> Self {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two descriptors; the pointers for name, termios and size may be
        // null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened and are owned here.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let slave_fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; they make the terminal the new
        // session's controlling terminal, which `/dev/tty` then names.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start the command on the terminal");
        drop(cmd); // the parent's copies of the slave end: EOF reaches us when the child is done
        Self {
            master: File::from(master),
            child,
            seen: Vec::new(),
            cursor: 0,
        }
    }

    /// Reads what arrives within `wait`.
    fn read_some(&mut self, wait: Duration) -> Arrived {
        let mut fds = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = wait.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut fds, 1, ms) } <= 0 {
            return Arrived::Nothing;
        }
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(0) | Err(_) => Arrived::Closed, // EIO: every slave end is closed
            Ok(n) => {
                self.seen.extend_from_slice(&buf[..n]);
                Arrived::Text
            }
        }
    }

    /// Waits until the terminal shows `text` (after what earlier `expect`s matched).
    pub fn expect(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let shown = String::from_utf8_lossy(&self.seen[self.cursor..]).into_owned();
            if let Some(at) = shown.find(text) {
                // `at` counts in the lossy text, so move by the bytes of what was matched.
                self.cursor += shown[..at + text.len()].len();
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero()
                || self.read_some(left.min(Duration::from_millis(200))) == Arrived::Closed
            {
                panic!(
                    "the terminal never showed {text:?}; it shows:\n{}",
                    self.transcript()
                );
            }
        }
    }

    /// Types `line` and Enter at a password prompt: once the program has turned the terminal's
    /// echo off, as a user who waits for the prompt does (typed before, it would be echoed).
    pub fn type_hidden(&mut self, line: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            // SAFETY: a zeroed termios is a valid buffer for tcgetattr to fill; on a pty's master
            // it reads the terminal's (the slave's) settings.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            let echo_off = unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) } == 0
                && t.c_lflag & libc::ECHO == 0;
            if echo_off {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the terminal's echo was never turned off for a password; it shows:\n{}",
                self.transcript()
            );
            self.read_some(Duration::from_millis(5));
        }
        self.type_line(line);
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .expect("type on the terminal");
    }

    /// Everything shown so far.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Waits for the child to end (reading what it still shows); its status and the transcript.
    /// What it left running in the background may keep the terminal open: the transcript is
    /// what arrived until a moment after the child ended.
    pub fn finish(mut self, within: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                panic!("still running after {within:?}:\n{}", self.transcript());
            }
            if self.read_some(Duration::from_millis(100)) == Arrived::Closed {
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        while self.read_some(Duration::from_millis(100)) == Arrived::Text {}
        (status, self.transcript())
    }
}

#[derive(PartialEq)]
enum Arrived {
    Text,
    Nothing,
    Closed,
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
