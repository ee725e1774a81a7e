//! `deployer render`: the IaC templates (CloudFormation, SAM, Terraform), one handlebars source
//! each, embedded in the binary. The committed cfn/, sam-templates/ and terraform/ folders are
//! what this renders with the default parameters; a test fails when they drift.

mod context;
pub mod dashboard;
pub mod example;
mod templates;
mod terraform_docs;

pub use context::{Defaults, RenderParams};

use handlebars::Handlebars;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Which set of templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// CloudFormation: the setup stack, a function wired to it and the dashboard (cfn/)
    Cfn,
    /// SAM: a function snippet and an example application with the dashboard (sam-templates/)
    Sam,
    /// Terraform: modules/setup, modules/function, modules/dashboard and examples (terraform/)
    Terraform,
}

impl Kind {
    /// The folder the committed output lives in, and the templates' folder.
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Cfn => "cfn",
            Kind::Sam => "sam-templates",
            Kind::Terraform => "terraform",
        }
    }
}

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("template {path}: {source}")]
    Template {
        path: &'static str,
        #[source]
        source: Box<handlebars::RenderError>,
    },
    #[error("template {path} does not parse: {source}")]
    Parse {
        path: &'static str,
        #[source]
        source: Box<handlebars::TemplateError>,
    },
    #[error("{0}")]
    Params(String),
}

/// One rendered file, its path relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub text: String,
}

/// Render every template of `kind`.
pub fn render(kind: Kind, params: &RenderParams) -> Result<Vec<RenderedFile>, RenderError> {
    let context = context::build(params)?;
    let mut engine = Handlebars::new();
    engine.set_strict_mode(true);
    // Values are quoted for YAML and HCL by the context itself; HTML escaping would mangle them.
    engine.register_escape_fn(handlebars::no_escape);
    let mut files = Vec::new();
    for template in templates::of(kind) {
        engine
            .register_template_string(template.path, template.source)
            .map_err(|source| RenderError::Parse {
                path: template.path,
                source: Box::new(source),
            })?;
        // One source, two setup templates: the StackSet's reads its layer zips from a bucket
        // in each Region.
        let mut context = context.clone();
        context["stackset"] = serde_json::Value::Bool(template.path.contains("stackset"));
        let text =
            engine
                .render(template.path, &context)
                .map_err(|source| RenderError::Template {
                    path: template.path,
                    source: Box::new(source),
                })?;
        let relative = template
            .path
            .strip_prefix(kind.folder())
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(template.path);
        files.push(RenderedFile {
            path: PathBuf::from(relative),
            text,
        });
    }
    fill_terraform_docs(&mut files)?;
    Ok(files)
}

/// Puts the inputs and outputs tables into each Terraform README, from the `.tf` files rendered
/// beside it.
fn fill_terraform_docs(files: &mut [RenderedFile]) -> Result<(), RenderError> {
    let sibling = |files: &[RenderedFile], folder: &Path, name: &str| {
        files
            .iter()
            .find(|f| f.path.parent() == Some(folder) && f.path.file_name() == Some(name.as_ref()))
            .map(|f| f.text.clone())
            .unwrap_or_default()
    };
    for index in 0..files.len() {
        let Some(file) = files.get(index) else {
            continue;
        };
        if file.path.file_name() != Some("README.md".as_ref())
            || !file.text.contains(terraform_docs::MARKER)
        {
            continue;
        }
        let folder = file.path.parent().unwrap_or(Path::new("")).to_path_buf();
        let section = terraform_docs::section(
            &sibling(files, &folder, "variables.tf"),
            &sibling(files, &folder, "outputs.tf"),
            &sibling(files, &folder, "versions.tf"),
        )
        .map_err(|reason| RenderError::Params(format!("{}: {reason}", folder.display())))?;
        if let Some(file) = files.get_mut(index) {
            file.text = file
                .text
                .replace(terraform_docs::MARKER, section.trim_end());
        }
    }
    Ok(())
}

/// Write the files under `out`, creating folders; returns the paths written.
pub fn write(out: &Path, files: &[RenderedFile]) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let path = out.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.text)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_renders_with_the_defaults() {
        for kind in [Kind::Cfn, Kind::Sam, Kind::Terraform] {
            let files = render(kind, &RenderParams::default()).expect("renders");
            assert!(!files.is_empty());
            for file in files {
                assert!(file.path.is_relative());
                assert!(!file.text.contains("{{"), "{}", file.path.display());
            }
        }
    }

    #[test]
    fn names_and_ports_reach_the_templates() {
        let params = RenderParams {
            name: "chaos".into(),
            ports: crate::plan::Ports {
                runtime_api: 6033,
                dependency_proxy: 6034,
                sdk: 6032,
            },
            ..RenderParams::default()
        };
        let all: String = [Kind::Cfn, Kind::Sam, Kind::Terraform]
            .into_iter()
            .flat_map(|kind| render(kind, &params).expect("renders"))
            .map(|f| f.text)
            .collect();
        for wanted in [
            "chaos-config",
            "chaos-x86_64",
            "chaos-read-config-",
            "http://localhost:6034",
            "localhost:6033",
            "GREMLIN_SIDECAR_PORT",
        ] {
            assert!(all.contains(wanted), "{wanted} missing");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        let params = RenderParams {
            name: "bad name\"".into(),
            ..RenderParams::default()
        };
        assert!(matches!(
            render(Kind::Cfn, &params),
            Err(RenderError::Params(_))
        ));
    }
}
