//! `apisec-agent setup-system`: the separated deployment (docs/operations.md, "The separated
//! deployment"). The agent runs as its own system user owning everything it keeps; each bot runs
//! as its own uid and shares only the socket, through a group. Idempotent: each step changes only
//! what is missing or wrong, and the layout check refuses what would let another user write the
//! agent's files. The Debian package's `postinst` is meant to do the same steps (see the docs).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use apisec_agent::accounts;
use apisec_agent::config::ConfigFile;

use super::args::SetupSystemArgs;
use super::{CliError, CmdResult};

/// The config the agent's user writes with `init` and the system units point at.
pub fn config_path(state_dir: &Path) -> PathBuf {
    state_dir.join("config.toml")
}

pub fn run(a: SetupSystemArgs) -> CmdResult {
    if apisec_agent::hardening::current_uid() != 0 {
        return Err(CliError::new(
            "setup-system creates users, groups and directories: run it as root (sudo)",
        ));
    }
    if !a.check {
        ensure_group(&a.group)?;
        ensure_user(&a.user, &a.state_dir)?;
    }
    let (uid, gid) = accounts::user_ids(&a.user).ok_or_else(|| {
        CliError::new(format!(
            "no user {}: run without --check to create it",
            a.user
        ))
    })?;
    let group = accounts::group_id(&a.group).ok_or_else(|| {
        CliError::new(format!(
            "no group {}: run without --check to create it",
            a.group
        ))
    })?;
    let bots = uids_of(&a.bots)?;
    let admins = uids_of(&a.admins)?;
    if let Some((name, _)) = bots
        .iter()
        .find(|(_, b)| admins.iter().any(|(_, a)| a == b))
    {
        return Err(CliError::new(format!(
            "{name} is given as both a bot and an admin: a bot that is also an admin could \
             answer its own approvals; give each user one role"
        )));
    }
    if let Some((name, _)) = bots.iter().chain(&admins).find(|(_, u)| *u == uid) {
        return Err(CliError::new(format!(
            "{name} is the agent's own user: a bot or admin must be another user, or it could \
             read the agent's files"
        )));
    }
    if !a.check {
        ensure_dir(&a.state_dir, uid, gid, 0o700)?;
        ensure_dir(&a.socket_dir, uid, group, 0o750)?;
        // The agent's user too: it gives the socket and its directory to the group.
        add_to_group(&a.user, &a.group)?;
        for (name, _) in bots.iter().chain(&admins) {
            add_to_group(name, &a.group)?;
        }
        let config = config_path(&a.state_dir);
        if config.exists() {
            write_agent_keys(&config, &a, &bots, &admins)?;
            chown(&config, uid, gid)?;
        }
    }
    check_layout(&a.state_dir, uid)?;
    check_socket_dir(&a.socket_dir, uid, group)?;
    let config = config_path(&a.state_dir);
    println!(
        "{} owns {} (0700) and {} (0750, group {}); bots: {}; admins: {}",
        a.user,
        a.state_dir.display(),
        a.socket_dir.display(),
        a.group,
        names(&bots),
        names(&admins)
    );
    if config.exists() {
        println!("config: {} (its [agent] keys set)", config.display());
    } else {
        println!(
            "next: create the config as {user}, then run this again to set its [agent] keys:\n  \
             sudo -u {user} apisec-agent --config {cfg} init --pkcs11-module MODULE \\\n    \
             --token-label LABEL --key-label apisec-wrap --generate --pin-file {dir}/pin \\\n    \
             --store {dir}/store --socket {sock}/agent.sock",
            user = a.user,
            cfg = config.display(),
            dir = a.state_dir.display(),
            sock = a.socket_dir.display()
        );
    }
    Ok(())
}

fn names(list: &[(String, u32)]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|(n, u)| format!("{n} (uid {u})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn uids_of(users: &[String]) -> Result<Vec<(String, u32)>, CliError> {
    users
        .iter()
        .map(|n| {
            accounts::user_ids(n)
                .map(|(u, _)| (n.clone(), u))
                .ok_or_else(|| CliError::new(format!("no user {n} on this host")))
        })
        .collect()
}

fn tool(program: &str, args: &[&str]) -> CmdResult {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| CliError::new(format!("cannot run {program}: {e}")))?;
    if !out.status.success() {
        return Err(CliError::new(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn ensure_group(group: &str) -> CmdResult {
    if accounts::group_id(group).is_none() {
        tool("groupadd", &["--system", group])?;
        println!("created the group {group}");
    }
    Ok(())
}

fn ensure_user(user: &str, home: &Path) -> CmdResult {
    if accounts::user_ids(user).is_none() {
        let home = home.display().to_string();
        tool(
            "useradd",
            &[
                "--system",
                "--user-group",
                "--home-dir",
                &home,
                "--shell",
                "/usr/sbin/nologin",
                user,
            ],
        )?;
        println!("created the system user {user} (home {home})");
    }
    Ok(())
}

fn add_to_group(user: &str, group: &str) -> CmdResult {
    tool("usermod", &["--append", "--groups", group, user])
}

fn chown(path: &Path, uid: u32, gid: u32) -> CmdResult {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(|e| CliError::new(format!("cannot chown {}: {e}", path.display())))
}

fn ensure_dir(dir: &Path, uid: u32, gid: u32, mode: u32) -> CmdResult {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(CliError::new(format!(
                "{} is a symbolic link; refusing to follow it: remove it",
                dir.display()
            )))
        }
        Ok(_) => {}
        Err(_) => fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?,
    }
    chown(dir, uid, gid)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .map_err(|e| CliError::new(format!("cannot chmod {}: {e}", dir.display())))
}

/// Every file and directory under the state directory is the agent's user's, and writable by no
/// one else; the directories above it are root's and writable by no one else (or another user
/// could swap the state directory itself).
fn check_layout(state_dir: &Path, uid: u32) -> CmdResult {
    let mut above = state_dir.parent();
    while let Some(dir) = above {
        let m = fs::metadata(dir)
            .map_err(|e| CliError::new(format!("cannot read {}: {e}", dir.display())))?;
        if m.uid() != 0 || m.permissions().mode() & 0o022 != 0 {
            return Err(CliError::new(format!(
                "{} (above the agent's state) is owned by uid {} with mode {:o}: another user \
                 could replace the state directory; use a state directory under root-owned \
                 directories writable only by root",
                dir.display(),
                m.uid(),
                m.permissions().mode() & 0o7777
            )));
        }
        above = dir.parent();
    }
    let mut stack = vec![state_dir.to_owned()];
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p)
            .map_err(|e| CliError::new(format!("cannot read {}: {e}", p.display())))?;
        let mode = m.permissions().mode() & 0o7777;
        if m.uid() != uid || (!m.file_type().is_symlink() && mode & 0o022 != 0) {
            return Err(CliError::new(format!(
                "{} is owned by uid {} with mode {mode:o}: only the agent's user (uid {uid}) may \
                 own and write the agent's files; run `chown -R {uid} {dir}` and `chmod -R \
                 go-w {dir}`",
                p.display(),
                m.uid(),
                dir = state_dir.display()
            )));
        }
        if p == state_dir && mode & 0o077 != 0 {
            return Err(CliError::new(format!(
                "{} has mode {mode:o}: the agent's state directory must be 0700",
                p.display()
            )));
        }
        if m.is_dir() {
            for e in fs::read_dir(&p)
                .map_err(|e| CliError::new(format!("cannot list {}: {e}", p.display())))?
            {
                stack.push(e?.path());
            }
        }
    }
    Ok(())
}

fn check_socket_dir(dir: &Path, uid: u32, group: u32) -> CmdResult {
    let m = fs::symlink_metadata(dir)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", dir.display())))?;
    let mode = m.permissions().mode() & 0o7777;
    if m.file_type().is_symlink() || m.uid() != uid || m.gid() != group || mode & 0o027 != 0 {
        return Err(CliError::new(format!(
            "the socket directory {} must be a directory of the agent's user (uid {uid}) and the \
             socket group (gid {group}), mode 0750; it is uid {} gid {} mode {mode:o}",
            dir.display(),
            m.uid(),
            m.gid()
        )));
    }
    Ok(())
}

fn write_agent_keys(
    config: &Path,
    a: &SetupSystemArgs,
    bots: &[(String, u32)],
    admins: &[(String, u32)],
) -> CmdResult {
    let mut file = ConfigFile::load(config)?;
    file.agent.socket_group = Some(a.group.clone());
    for (_, u) in bots {
        if !file.agent.allowed_uids.contains(u) {
            file.agent.allowed_uids.push(*u);
        }
    }
    for (_, u) in admins {
        if !file.agent.admin_uids.contains(u) {
            file.agent.admin_uids.push(*u);
        }
    }
    file.agent.state_dir = Some(a.state_dir.join("state"));
    if !admins.is_empty() && file.approval.over_socket.is_none() {
        file.approval.over_socket = Some(true);
    }
    file.write(config)?;
    Ok(())
}
