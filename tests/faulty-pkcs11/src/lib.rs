//! A PKCS#11 module for tests that fails on purpose: every call goes to the real module named
//! by `$APISEC_FAULTY_PKCS11_MODULE` (SoftHSM in the tests), except the calls that
//! `$APISEC_FAULTY_PKCS11_FAIL` names, which return the value it gives without reaching it.
//!
//! `APISEC_FAULTY_PKCS11_FAIL="C_DeriveKey=CKR_DEVICE_ERROR"` is a token whose link dropped in
//! the middle of `init`'s trial ECDH; `C_DeriveKey=CKR_MECHANISM_INVALID` one that cannot
//! derive. Several are separated by commas. Calls that can fail: `C_DeriveKey`, `C_Decrypt`,
//! `C_Sign`. A variable that names anything else makes `C_GetFunctionList` fail with
//! `CKR_ARGUMENTS_BAD` and say why on standard error, so that a test never runs against a
//! module that does not fail as it was told to.

#![allow(non_snake_case)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use cryptoki_sys::*;

/// What each call that can fail returns; 0 (`CKR_OK`): forwarded to the real module.
static DERIVE: AtomicU64 = AtomicU64::new(0);
static DECRYPT: AtomicU64 = AtomicU64::new(0);
static SIGN: AtomicU64 = AtomicU64::new(0);

/// The real module's functions, with the failing ones replaced; built at the first
/// `C_GetFunctionList`, kept for the life of the process (as the real module, never unloaded).
static LIST: OnceLock<Result<CK_FUNCTION_LIST, String>> = OnceLock::new();

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

fn configure() -> Result<CK_FUNCTION_LIST, String> {
    let real = std::env::var("APISEC_FAULTY_PKCS11_MODULE")
        .map_err(|_| "APISEC_FAULTY_PKCS11_MODULE is not set: name the real module".to_owned())?;
    for item in std::env::var("APISEC_FAULTY_PKCS11_FAIL")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let (call, value) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not CALL=CKR_VALUE"))?;
        let rv = VALUES
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, rv)| *rv)
            .ok_or_else(|| format!("{value:?} is not one of the values this module returns"))?;
        let slot = match call {
            "C_DeriveKey" => &DERIVE,
            "C_Decrypt" => &DECRYPT,
            "C_Sign" => &SIGN,
            other => return Err(format!("{other:?} is not a call this module can fail")),
        };
        slot.store(rv, Ordering::SeqCst);
    }
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
    let mut ours = unsafe { *list };
    ours.C_GetFunctionList = Some(C_GetFunctionList);
    if DERIVE.load(Ordering::SeqCst) != CKR_OK {
        ours.C_DeriveKey = Some(failed_derive);
    }
    if DECRYPT.load(Ordering::SeqCst) != CKR_OK {
        ours.C_Decrypt = Some(failed_crypt::<1>);
    }
    if SIGN.load(Ordering::SeqCst) != CKR_OK {
        ours.C_Sign = Some(failed_crypt::<2>);
    }
    Ok(ours)
}

unsafe extern "C" fn failed_derive(
    _: CK_SESSION_HANDLE,
    _: *mut CK_MECHANISM,
    _: CK_OBJECT_HANDLE,
    _: *mut CK_ATTRIBUTE,
    _: CK_ULONG,
    _: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    DERIVE.load(Ordering::SeqCst)
}

/// `C_Decrypt` (1) and `C_Sign` (2), which have the same signature.
unsafe extern "C" fn failed_crypt<const CALL: u8>(
    _: CK_SESSION_HANDLE,
    _: *mut CK_BYTE,
    _: CK_ULONG,
    _: *mut CK_BYTE,
    _: *mut CK_ULONG,
) -> CK_RV {
    if CALL == 1 { &DECRYPT } else { &SIGN }.load(Ordering::SeqCst)
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
    match LIST.get_or_init(configure) {
        Ok(ours) => {
            // The caller may not write through it (PKCS#11: the list is the module's).
            *list = ours as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST;
            CKR_OK
        }
        Err(why) => {
            eprintln!("apisec-faulty-pkcs11: {why}");
            CKR_ARGUMENTS_BAD
        }
    }
}
