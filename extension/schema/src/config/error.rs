use thiserror::Error;

/// Why a config document was refused. `path` is the key path in the document
/// (`experiments[1].effect.latency`), or `.` for the document itself.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("config is not valid YAML{}: {reason}", location_suffix(.line, .column))]
    /// The document is not YAML.
    Syntax {
        /// What the YAML parser said.
        reason: String,
        /// Line of the problem, when known.
        line: Option<usize>,
        /// Column of the problem, when known.
        column: Option<usize>,
    },
    #[error("config key `{path}`: {reason}")]
    /// A key has a bad value (or is unknown): `path` says which, `reason` why.
    Invalid {
        /// The key path (`experiments[1].rate`).
        path: String,
        /// Why the value was refused.
        reason: String,
    },
}

fn location_suffix(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        (Some(line), None) => format!(" (line {line})"),
        _ => String::new(),
    }
}

impl ConfigError {
    /// Classifies a serde_yaml error: a scanner/parser error is a syntax error, anything else
    /// (wrong type, unknown key, bad value) is an invalid key at `path`.
    pub(crate) fn from_serde(path: String, err: serde_yaml_ng::Error) -> ConfigError {
        let location = err.location();
        let message = strip_location(&err.to_string());
        let is_syntax = message.contains("while scanning")
            || message.contains("while parsing")
            || message.contains("did not find expected")
            || message.contains("found character that cannot start");
        if is_syntax {
            return ConfigError::Syntax {
                reason: message,
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
            };
        }
        let path = if path.is_empty() || path == "." {
            ".".to_string()
        } else {
            path
        };
        // serde_yaml prefixes some messages with the path we report separately.
        let message = message
            .strip_prefix(&format!("{path}: "))
            .map(str::to_string)
            .unwrap_or(message);
        let reason = match location {
            Some(l) => format!("{message} (line {})", l.line()),
            None => message,
        };
        ConfigError::Invalid { path, reason }
    }

    /// The key path the error is about, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Syntax { .. } => None,
            ConfigError::Invalid { path, .. } => Some(path),
        }
    }
}

/// serde_yaml appends " at line L column C"; we report the location in our own words.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}
