//! A function's (and a layer's) architecture.

use serde::{Deserialize, Serialize};

/// A function's architecture, as Lambda names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Arch {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    pub fn parse(text: &str) -> Option<Arch> {
        match text.trim() {
            "x86_64" => Some(Arch::X86_64),
            "arm64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// `--arch` values, in order, without repeats; the error names the bad value.
    pub fn parse_list(texts: &[String]) -> Result<Vec<Arch>, String> {
        let mut arches = Vec::new();
        for text in texts {
            let arch = Arch::parse(text)
                .ok_or_else(|| format!("--arch {text}: expected x86_64 or arm64"))?;
            if !arches.contains(&arch) {
                arches.push(arch);
            }
        }
        Ok(arches)
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
