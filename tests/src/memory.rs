//! Searching a live process's memory for a secret: `find_in_memory`.

use std::io::Read;

/// Where `needle` occurs in the memory of process `pid`: (address, mapping name). Reads
/// `/proc/PID/mem` region by region as `/proc/PID/maps` lists them; needs root (the agent is not
/// dumpable, so only CAP_SYS_PTRACE can read it).
pub fn find_in_memory(pid: u32, needle: &[u8]) -> Vec<(u64, String)> {
    use std::io::{Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open mem (as root)");
    let mut found = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        let name = line.split_whitespace().nth(5).unwrap_or("").to_owned();
        if !perms.starts_with('r')
            || name == "[vvar]"
            || name == "[vsyscall]"
            || name == "[vvar_vclock]"
        {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (
            u64::from_str_radix(start, 16).unwrap(),
            u64::from_str_radix(end, 16).unwrap(),
        );
        let mut buf = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue;
        }
        let mut from = 0;
        while let Some(i) = buf[from..].windows(needle.len()).position(|w| w == needle) {
            found.push((start + (from + i) as u64, name.clone()));
            from += i + 1;
        }
    }
    found
}
