//! CPU time and context switches of a server process, read from /proc, so a throughput phase can
//! say what each request cost the server (not only how many went through).

/// A reading of one process: CPU time of all its threads and their context switches.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    cpu_s: f64,
    switches: u64,
}

impl ProcSample {
    /// Reads `/proc/PID/stat` (utime + stime of every thread) and sums the voluntary and
    /// involuntary context switches in `/proc/PID/task/*/status`.
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces: fields start after the last ')'.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf has no memory-safety preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let mut switches = 0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            switches += status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .sum::<u64>();
        }
        Some(Self {
            cpu_s: ticks as f64 / hz,
            switches,
        })
    }
}

/// What a phase of `requests` requests cost the server between two readings.
#[derive(Clone, Copy, Debug)]
pub struct PerRequest {
    pub cpu_us: f64,
    pub switches: f64,
}

pub fn per_request(before: ProcSample, after: ProcSample, requests: f64) -> PerRequest {
    PerRequest {
        cpu_us: (after.cpu_s - before.cpu_s) * 1e6 / requests,
        switches: (after.switches - before.switches) as f64 / requests,
    }
}
