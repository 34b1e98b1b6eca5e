//! CPU placement for the latency measurement. On a VM a round trip between two threads on the same
//! core costs a few microseconds, and between two cores several tens (waking an idle virtual CPU);
//! left to the scheduler, each server lands one way or the other for a whole run, and the ratios
//! between them measure the lottery, not the servers. Pinned, every server gets the same deal.

/// Moves every thread of `pid` (or, with `pid` 0, the calling thread) onto `cpus`.
pub fn pin(pid: u32, cpus: &[usize]) -> Result<(), String> {
    // SAFETY: cpu_set_t is plain data, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET writes one bit inside `set` (it ignores CPUs beyond CPU_SETSIZE).
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    let tids: Vec<i32> = if pid == 0 {
        vec![0]
    } else {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map_err(|e| format!("cannot list the threads of {pid}: {e}"))?
            .flatten()
            .filter_map(|t| t.file_name().to_str()?.parse().ok())
            .collect()
    };
    for tid in tids {
        // SAFETY: `set` is a valid cpu_set_t of the size passed.
        let r = unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            // A thread that ended since the listing (an idle blocking-pool thread) needs no pin.
            if e.raw_os_error() == Some(libc::ESRCH) && pid != 0 {
                continue;
            }
            return Err(format!("cannot pin thread {tid}: {e}"));
        }
    }
    Ok(())
}

/// The CPUs this process may run on.
pub fn cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes at most `size_of_val(&set)` bytes into `set`.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) } != 0 {
        return vec![0];
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: CPU_ISSET reads one bit of `set`, for a CPU below CPU_SETSIZE.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}
