//! A PKCS#11 module for tests that fails on purpose: every call goes to the real module named
//! by `$APISEC_FAULTY_PKCS11_MODULE` (SoftHSM in the tests), except the calls a test names,
//! which return the value it gives without reaching it.
//!
//! The faults are in the file `$APISEC_FAULTY_PKCS11_CONTROL`, read again at every call that
//! can fail, so that a test changes them under a running process (the agent): one `CALL=VALUE`
//! per line, and `CALL=VALUE xN` to fail N calls only (counted from when the file last
//! changed). `C_DeriveKey=CKR_DEVICE_ERROR` is a token whose link dropped in the middle of
//! `init`'s trial ECDH, `C_DeriveKey=CKR_MECHANISM_INVALID` one that cannot derive. An empty or
//! missing file fails nothing.
//!
//! Calls that can fail: `C_DeriveKey`, `C_Decrypt`, `C_Sign`. A file that names anything else
//! makes the call fail with `CKR_ARGUMENTS_BAD`, saying why on standard error, so that a test
//! never runs against a module that does not fail as it was told to.

#![allow(non_snake_case)]

use std::sync::{Mutex, OnceLock};

use cryptoki_sys::*;

/// The calls that can fail, in the order of [`Faults`]'s entries.
const CALLS: [&str; 3] = ["C_DeriveKey", "C_Decrypt", "C_Sign"];
const DERIVE: usize = 0;
const DECRYPT: usize = 1;
const SIGN: usize = 2;

/// The return values a test can name, by their names in the PKCS#11 specification.
const VALUES: &[(&str, CK_RV)] = &[
    ("CKR_GENERAL_ERROR", CKR_GENERAL_ERROR),
    ("CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED),
    ("CKR_DEVICE_ERROR", CKR_DEVICE_ERROR),
    ("CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED),
    ("CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID),
    ("CKR_MECHANISM_INVALID", CKR_MECHANISM_INVALID),
    ("CKR_MECHANISM_PARAM_INVALID", CKR_MECHANISM_PARAM_INVALID),
    ("CKR_FUNCTION_NOT_SUPPORTED", CKR_FUNCTION_NOT_SUPPORTED),
];

/// Per call: the value it returns instead of reaching the module, and how many more times
/// (`None`: every time).
type Faults = [Option<(CK_RV, Option<u64>)>; 3];

fn parse(text: &str) -> Result<Faults, String> {
    let mut faults: Faults = [None; 3];
    for item in text.lines().map(str::trim).filter(|s| !s.is_empty()) {
        let (call, rest) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not CALL=CKR_VALUE"))?;
        let (value, times) = match rest.split_once(" x") {
            Some((value, n)) => {
                let n = n
                    .parse()
                    .map_err(|_| format!("{item:?}: {n:?} is not a number of calls"))?;
                (value, Some(n))
            }
            None => (rest, None),
        };
        let rv = VALUES
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, rv)| *rv)
            .ok_or_else(|| format!("{value:?} is not one of the values this module returns"))?;
        let index = CALLS
            .iter()
            .position(|c| *c == call)
            .ok_or_else(|| format!("{call:?} is not a call this module can fail"))?;
        faults[index] = Some((rv, times));
    }
    Ok(faults)
}

struct Module {
    real: CK_FUNCTION_LIST,
    ours: CK_FUNCTION_LIST,
    control: Option<String>,
    /// The control file's text when last read, and what is left of its faults.
    controlled: Mutex<(String, Faults)>,
}

static MODULE: OnceLock<Result<Module, String>> = OnceLock::new();

fn module() -> &'static Module {
    match MODULE.get() {
        Some(Ok(m)) => m,
        // Only reachable after C_GetFunctionList succeeded, which built it.
        _ => unreachable!("a call before C_GetFunctionList"),
    }
}

/// What `call` returns this time instead of reaching the module, if anything.
fn fault(call: usize) -> Option<CK_RV> {
    let m = module();
    let path = m.control.as_ref()?;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut controlled = m.controlled.lock().unwrap_or_else(|p| p.into_inner());
    if controlled.0 != text {
        match parse(&text) {
            Ok(faults) => *controlled = (text, faults),
            Err(why) => {
                eprintln!("apisec-faulty-pkcs11: {path}: {why}");
                return Some(CKR_ARGUMENTS_BAD);
            }
        }
    }
    match &mut controlled.1[call] {
        Some((rv, None)) => Some(*rv),
        Some((rv, Some(left))) if *left > 0 => {
            *left -= 1;
            Some(*rv)
        }
        _ => None,
    }
}

fn load() -> Result<Module, String> {
    let real = std::env::var("APISEC_FAULTY_PKCS11_MODULE")
        .map_err(|_| "APISEC_FAULTY_PKCS11_MODULE is not set: name the real module".to_owned())?;
    // SAFETY: loading the module the test named runs its initialisers, as any PKCS#11
    // application loading it would; it stays loaded for the life of the process.
    let library = unsafe { libloading::Library::new(&real) }
        .map_err(|e| format!("cannot load {real}: {e}"))?;
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: C_GetFunctionList has this signature in every PKCS#11 module.
    let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
        unsafe { library.get(b"C_GetFunctionList\0") }
            .map_err(|e| format!("{real} has no C_GetFunctionList: {e}"))?;
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: `list` is a valid place for the module to write its list's address to.
    let rv = unsafe { get(&mut list) };
    if rv != CKR_OK || list.is_null() {
        return Err(format!("{real}'s C_GetFunctionList returned {rv:#x}"));
    }
    // SAFETY: the module returned a valid list, which lives as long as the module.
    let real_list = unsafe { *list };
    let mut ours = real_list;
    ours.C_GetFunctionList = Some(C_GetFunctionList);
    ours.C_DeriveKey = Some(derive_key);
    ours.C_Decrypt = Some(crypt::<DECRYPT>);
    ours.C_Sign = Some(crypt::<SIGN>);
    Ok(Module {
        real: real_list,
        ours,
        control: std::env::var("APISEC_FAULTY_PKCS11_CONTROL").ok(),
        controlled: Mutex::new((String::new(), [None; 3])),
    })
}

unsafe extern "C" fn derive_key(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    base: CK_OBJECT_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    match (fault(DERIVE), module().real.C_DeriveKey) {
        (Some(rv), _) => rv,
        (None, Some(real)) => real(session, mechanism, base, template, count, key),
        (None, None) => CKR_FUNCTION_NOT_SUPPORTED,
    }
}

/// `C_Decrypt` (`CALL` = `DECRYPT`) and `C_Sign` (`SIGN`), which have the same signature.
unsafe extern "C" fn crypt<const CALL: usize>(
    session: CK_SESSION_HANDLE,
    input: *mut CK_BYTE,
    input_len: CK_ULONG,
    output: *mut CK_BYTE,
    output_len: *mut CK_ULONG,
) -> CK_RV {
    let real = if CALL == DECRYPT {
        module().real.C_Decrypt
    } else {
        module().real.C_Sign
    };
    match (fault(CALL), real) {
        (Some(rv), _) => rv,
        (None, Some(real)) => real(session, input, input_len, output, output_len),
        (None, None) => CKR_FUNCTION_NOT_SUPPORTED,
    }
}

/// The module's one entry point.
///
/// # Safety
///
/// `list` must be valid for a write of one pointer, as PKCS#11 requires of its caller.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    if list.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    match MODULE.get_or_init(load) {
        Ok(m) => {
            // The caller may not write through it (PKCS#11: the list is the module's).
            *list = &m.ours as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST;
            CKR_OK
        }
        Err(why) => {
            eprintln!("apisec-faulty-pkcs11: {why}");
            CKR_ARGUMENTS_BAD
        }
    }
}
