//! Android logcat output: `__android_log_write` from `liblog.so`, resolved
//! at run time with `dlopen`/`dlsym`, so building for Android needs no NDK.
//! Lines carry the tag `RKNN` and the Android priority of their level.
//! Where liblog cannot be loaded, the caller falls back to stderr.
//!
//! The loader and the line preparation compile on every Unix target so
//! the host tests exercise them; only Android routes logs here.

#![cfg_attr(not(target_os = "android"), allow(dead_code))]

use std::ffi::{c_char, c_int, CStr, CString};
use std::fmt;
use std::io;
use std::sync::OnceLock;

use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The logcat tag of every line.
pub const TAG: &CStr = c"RKNN";

/// `int __android_log_write(int prio, const char* tag, const char* text)`.
type LogWrite = unsafe extern "C" fn(c_int, *const c_char, *const c_char) -> c_int;

/// Android priority (`android_LogPriority`) of a log level: the vendor
/// letters E, W, I, D, T map to ERROR (6), WARN (5), INFO (4), DEBUG (3)
/// and VERBOSE (2).
pub fn priority(level: &Level) -> c_int {
    match *level {
        Level::ERROR => 6,
        Level::WARN => 5,
        Level::INFO => 4,
        Level::DEBUG => 3,
        Level::TRACE => 2,
    }
}

/// One formatted event as logcat text: without the trailing newline, and
/// with interior NUL bytes (which would end a C string early) replaced.
pub fn line_text(bytes: &[u8]) -> CString {
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let clean: Vec<u8> = trimmed
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    CString::new(clean).unwrap_or_default()
}

/// Resolves `symbol` in the shared library `library`, keeping the library
/// loaded for the life of the process. `None` if either is missing.
fn resolve(library: &CStr, symbol: &CStr) -> Option<*mut libc::c_void> {
    // SAFETY: both arguments are NUL-terminated strings; dlopen has no
    // other preconditions. The handle is never closed, so a symbol taken
    // from it stays valid for the process lifetime.
    let handle = unsafe { libc::dlopen(library.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return None;
    }
    // SAFETY: `handle` is a live handle from dlopen; `symbol` is
    // NUL-terminated.
    let sym = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
    (!sym.is_null()).then_some(sym)
}

/// `__android_log_write` from `library`, if it can be loaded.
fn load(library: &CStr) -> Option<LogWrite> {
    let sym = resolve(library, c"__android_log_write")?;
    // SAFETY: liblog's `__android_log_write` has exactly the `LogWrite`
    // signature (android/log.h); the pointer is non-null and stays valid
    // because the library is never unloaded.
    Some(unsafe { std::mem::transmute::<*mut libc::c_void, LogWrite>(sym) })
}

/// The process-wide `__android_log_write`, loaded once from `liblog.so`.
pub fn android_log_write() -> Option<LogWrite> {
    static WRITE: OnceLock<Option<LogWrite>> = OnceLock::new();
    *WRITE.get_or_init(|| load(c"liblog.so"))
}

/// A `MakeWriter` that sends each formatted event to logcat with the
/// priority of its level.
#[derive(Clone, Copy)]
pub struct Logcat {
    write: LogWrite,
}

impl Logcat {
    /// Logcat output, or `None` when liblog cannot be loaded.
    pub fn open() -> Option<Logcat> {
        android_log_write().map(|write| Logcat { write })
    }
}

/// Formats an event as its message alone: logcat records the time, the
/// priority and the tag itself.
pub struct MessageFormat;

impl<S, N> FormatEvent<S, N> for MessageFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The writer for one event: the fmt layer writes the whole formatted
/// event in one `write` call.
pub struct LogcatLine {
    write: LogWrite,
    priority: c_int,
}

impl io::Write for LogcatLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = line_text(buf);
        // SAFETY: `write` is liblog's `__android_log_write`; tag and text
        // are NUL-terminated strings that outlive the call.
        unsafe { (self.write)(self.priority, TAG.as_ptr(), text.as_ptr()) };
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logcat {
    type Writer = LogcatLine;

    fn make_writer(&'a self) -> LogcatLine {
        LogcatLine {
            write: self.write,
            priority: priority(&Level::INFO),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LogcatLine {
        LogcatLine {
            write: self.write,
            priority: priority(meta.level()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn vendor_levels_map_to_android_priorities() {
        assert_eq!(priority(&Level::ERROR), 6);
        assert_eq!(priority(&Level::WARN), 5);
        assert_eq!(priority(&Level::INFO), 4);
        assert_eq!(priority(&Level::DEBUG), 3);
        assert_eq!(priority(&Level::TRACE), 2);
    }

    #[test]
    fn line_text_drops_the_newline_and_nul_bytes() {
        assert_eq!(
            line_text(b"[10:00:00.000] init\n").as_bytes(),
            b"[10:00:00.000] init"
        );
        assert_eq!(line_text(b"a\0b").as_bytes(), b"a b");
        assert_eq!(line_text(b"").as_bytes(), b"");
    }

    #[cfg(not(target_os = "android"))]
    #[test]
    fn missing_liblog_means_no_logcat() {
        assert!(load(c"liblog.so").is_none());
        assert!(load(c"librknnrt-no-such-library.so").is_none());
    }

    /// What the stand-in `__android_log_write` received.
    static SEEN: Mutex<Vec<(c_int, String, String)>> = Mutex::new(Vec::new());

    unsafe extern "C" fn fake_write(prio: c_int, tag: *const c_char, text: *const c_char) -> c_int {
        // SAFETY: the writer passes NUL-terminated strings.
        let (tag, text) = unsafe { (CStr::from_ptr(tag), CStr::from_ptr(text)) };
        SEEN.lock().unwrap().push((
            prio,
            tag.to_string_lossy().into_owned(),
            text.to_string_lossy().into_owned(),
        ));
        0
    }

    #[test]
    fn each_event_becomes_one_tagged_logcat_line() {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_writer(Logcat { write: fake_write })
            .event_format(MessageFormat)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("low memory: {} bytes", 42);
            tracing::error!("rknn_init, bad model");
        });
        let seen = SEEN.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                (5, "RKNN".to_string(), "low memory: 42 bytes".to_string()),
                (6, "RKNN".to_string(), "rknn_init, bad model".to_string()),
            ]
        );
    }
}
