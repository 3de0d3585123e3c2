//! Logging in the vendor format: `<L> RKNN: [HH:MM:SS.mmm] message` on
//! stderr, filtered by `RKNN_LOG_LEVEL` (0 errors, 1 +warnings, 2 +info,
//! 3 +debug, 4 and above +trace; unset means 0). Nothing goes to stdout.
//! Timestamps are UTC wall-clock time. On Android the lines go to logcat
//! instead (tag `RKNN`, see `logcat`), or to stderr if liblog cannot be
//! loaded.

use std::fmt;
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

mod logcat;

static INIT: Once = Once::new();

/// The level selected by `RKNN_LOG_LEVEL`, or `None` (with a warning) for a
/// value that is not a number from 0 to 6.
fn level_from_env() -> (u32, Option<String>) {
    match std::env::var("RKNN_LOG_LEVEL") {
        Err(_) => (0, None),
        Ok(v) => match v.trim().parse::<u32>() {
            Ok(n) if n <= 6 => (n, None),
            _ => (0, Some(format!("Unsupported log level: {v}"))),
        },
    }
}

/// The most verbose `tracing` level shown at RKNN log level `n`.
pub fn max_level(n: u32) -> Level {
    match n {
        0 => Level::ERROR,
        1 => Level::WARN,
        2 => Level::INFO,
        3 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

/// The RKNN log level in force (`RKNN_LOG_LEVEL`, read once).
pub fn rknn_level() -> u32 {
    static LEVEL: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| level_from_env().0)
}

/// Installs the vendor-format logger as the global `tracing` subscriber,
/// once. If the host program already installed one, events go there.
pub fn init() {
    INIT.call_once(|| {
        let (level, complaint) = level_from_env();
        let builder = tracing_subscriber::fmt().with_max_level(max_level(level));
        #[cfg(target_os = "android")]
        if let Some(logcat) = logcat::Logcat::open() {
            let subscriber = builder
                .with_writer(logcat)
                .event_format(logcat::MessageFormat)
                .finish();
            install(subscriber, complaint);
            return;
        }
        let subscriber = builder
            .with_writer(std::io::stderr)
            .event_format(VendorFormat)
            .finish();
        install(subscriber, complaint);
    });
}

/// Makes `subscriber` the global default (unless the host program set
/// one) and logs the complaint about a bad `RKNN_LOG_LEVEL` through it.
fn install<S>(subscriber: S, complaint: Option<String>)
where
    S: Subscriber + Send + Sync + 'static,
{
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        if let Some(msg) = complaint {
            tracing::error!("{msg}");
        }
    }
}

/// Formats events as `<L> RKNN: [HH:MM:SS.mmm] message`.
struct VendorFormat;

/// The one-letter level tag of the vendor format.
fn level_letter(level: &Level) -> char {
    match *level {
        Level::ERROR => 'E',
        Level::WARN => 'W',
        Level::INFO => 'I',
        Level::DEBUG => 'D',
        Level::TRACE => 'T',
    }
}

/// `HH:MM:SS.mmm` of a time since the Unix epoch (UTC).
pub fn timestamp(since_epoch: std::time::Duration) -> String {
    let ms_total = since_epoch.as_millis();
    let ms = ms_total % 1000;
    let secs = (ms_total / 1000) % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        ms
    )
}

impl<S, N> FormatEvent<S, N> for VendorFormat
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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        write!(
            writer,
            "{} RKNN: [{}] ",
            level_letter(event.metadata().level()),
            timestamp(now)
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamp_format() {
        let t = Duration::from_millis(((13 * 3600 + 5 * 60 + 9) * 1000 + 42) as u64);
        assert_eq!(timestamp(t), "13:05:09.042");
        assert_eq!(
            timestamp(Duration::from_millis(86_400_000 + 1)),
            "00:00:00.001"
        );
    }

    #[test]
    fn levels_map_to_vendor_meanings() {
        assert_eq!(max_level(0), Level::ERROR);
        assert_eq!(max_level(1), Level::WARN);
        assert_eq!(max_level(2), Level::INFO);
        assert_eq!(max_level(3), Level::DEBUG);
        assert_eq!(max_level(6), Level::TRACE);
        assert_eq!(level_letter(&Level::WARN), 'W');
    }
}
