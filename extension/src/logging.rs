//! Log lines for CloudWatch: `[faultline] LEVEL message`, no timestamps (Lambda adds them), no
//! colours. The level can be switched to debug once the config is known.

use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::reload;

struct LambdaFormat;

impl<S, N> FormatEvent<S, N> for LambdaFormat
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
        write!(writer, "[faultline] {} ", event.metadata().level())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Switches the log level after start-up.
#[derive(Clone)]
pub struct LogLevel {
    handle: Option<reload::Handle<EnvFilter, tracing_subscriber::Registry>>,
    forced: Option<bool>,
}

fn filter(debug: bool) -> EnvFilter {
    // Our own crate at debug; dependencies (hyper, the AWS SDK) stay at warn.
    let directive = if debug {
        "warn,faultline=debug,faultline_extension=debug"
    } else {
        "warn,faultline=info,faultline_extension=info"
    };
    EnvFilter::new(directive)
}

/// Installs the global subscriber writing to stderr. `forced` is GREMLIN_DEBUG, which overrides
/// the config's `debug` key.
pub fn init(forced: Option<bool>) -> LogLevel {
    let (layer, handle) = reload::Layer::new(filter(forced.unwrap_or(false)));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .event_format(LambdaFormat);
    let installed = tracing_subscriber::registry()
        .with(layer)
        .with(fmt)
        .try_init()
        .is_ok();
    LogLevel {
        handle: installed.then_some(handle),
        forced,
    }
}

impl LogLevel {
    /// Applies the config's `debug` key unless GREMLIN_DEBUG decided.
    pub fn apply_config(&self, debug: bool) {
        if self.forced.is_some() {
            return;
        }
        if let Some(handle) = &self.handle {
            let _ = handle.reload(filter(debug));
        }
    }
}
