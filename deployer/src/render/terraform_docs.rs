//! The inputs and outputs tables of a Terraform module's README, in terraform-docs' layout,
//! read from the module's rendered `variables.tf`, `outputs.tf` and `versions.tf`: the README
//! is rendered from the same source as the module, so it cannot drift from it.

use hcl_edit::Decorate;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Body};

/// Where a README template wants the generated section.
pub const MARKER: &str = "<!-- TF_DOCS -->";

/// One `variable` block.
struct Input {
    name: String,
    description: String,
    kind: String,
    default: Option<String>,
}

/// One `output` block.
struct Output {
    name: String,
    description: String,
}

fn parse(path: &str, text: &str) -> Result<Body, String> {
    hcl_edit::parser::parse_body(text).map_err(|err| format!("{path} does not parse: {err}"))
}

fn blocks<'a>(body: &'a Body, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.iter()
        .filter_map(|structure| structure.as_block())
        .filter(move |block| block.ident.as_str() == ident)
}

fn label(block: &Block) -> String {
    block
        .labels
        .first()
        .map(|label| label.as_str().to_string())
        .unwrap_or_default()
}

/// An attribute's expression as HCL text (a string literal as its value).
fn attribute(block: &Block, key: &str) -> Option<String> {
    let value = &block.body.get_attribute(key)?.value;
    Some(match value {
        Expression::String(text) => text.value().to_string(),
        other => {
            let mut expr = other.clone();
            expr.decor_mut().clear();
            expr.to_string()
        }
    })
}

/// A table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

/// A code cell: the value in backticks, as terraform-docs writes it (`"x"` for a string).
fn code(value: &str, was_string: bool) -> String {
    let shown = if was_string {
        format!("\"{value}\"")
    } else {
        value.to_string()
    };
    format!("`{}`", cell(&shown))
}

/// The generated section for a module folder: requirements, inputs and outputs.
pub fn section(variables: &str, outputs: &str, versions: &str) -> Result<String, String> {
    let variables = parse("variables.tf", variables)?;
    let outputs_body = parse("outputs.tf", outputs)?;
    let versions = parse("versions.tf", versions)?;

    let mut requirements = Vec::new();
    for terraform in blocks(&versions, "terraform") {
        if let Some(version) = attribute(terraform, "required_version") {
            requirements.push(("terraform".to_string(), version));
        }
        for providers in terraform
            .body
            .iter()
            .filter_map(|s| s.as_block())
            .filter(|b| b.ident.as_str() == "required_providers")
        {
            for provider in providers.body.iter().filter_map(|s| s.as_attribute()) {
                let version = match &provider.value {
                    Expression::Object(object) => object
                        .iter()
                        .find(|(key, _)| matches!(key, ObjectKey::Ident(ident) if ident.as_str() == "version"))
                        .and_then(|(_, value)| value.expr().as_str().map(str::to_string)),
                    _ => None,
                };
                requirements.push((
                    provider.key.as_str().to_string(),
                    version.unwrap_or_default(),
                ));
            }
        }
    }

    let mut inputs: Vec<(Input, bool)> = blocks(&variables, "variable")
        .map(|block| {
            let default_is_string = matches!(
                block.body.get_attribute("default").map(|a| &a.value),
                Some(Expression::String(_))
            );
            (
                Input {
                    name: label(block),
                    description: attribute(block, "description").unwrap_or_default(),
                    kind: attribute(block, "type").unwrap_or_else(|| "any".into()),
                    default: attribute(block, "default"),
                },
                default_is_string,
            )
        })
        .collect();
    // terraform-docs lists required inputs first, each group by name.
    inputs.sort_by(|(a, _), (b, _)| {
        (a.default.is_some(), &a.name).cmp(&(b.default.is_some(), &b.name))
    });
    let mut outputs: Vec<Output> = blocks(&outputs_body, "output")
        .map(|block| Output {
            name: label(block),
            description: attribute(block, "description").unwrap_or_default(),
        })
        .collect();
    outputs.sort_by(|a, b| a.name.cmp(&b.name));

    let mut text = String::from("<!-- BEGIN_TF_DOCS -->\n## Requirements\n\n");
    text.push_str("| Name | Version |\n|------|---------|\n");
    for (name, version) in &requirements {
        text.push_str(&format!(
            "| <a name=\"requirement_{name}\"></a> [{name}](#requirement\\_{name}) | {} |\n",
            cell(version)
        ));
    }
    text.push_str("\n## Inputs\n\n");
    if inputs.is_empty() {
        text.push_str("No inputs.\n");
    } else {
        text.push_str("| Name | Description | Type | Default | Required |\n");
        text.push_str("|------|-------------|------|---------|:--------:|\n");
        for (input, default_is_string) in &inputs {
            let name = &input.name;
            text.push_str(&format!(
                "| <a name=\"input_{name}\"></a> [{name}](#input\\_{}) | {} | {} | {} | {} |\n",
                name.replace('_', "\\_"),
                cell(&input.description),
                code(&input.kind, false),
                input
                    .default
                    .as_deref()
                    .map_or_else(|| "n/a".to_string(), |d| code(d, *default_is_string)),
                if input.default.is_some() { "no" } else { "yes" },
            ));
        }
    }
    text.push_str("\n## Outputs\n\n");
    if outputs.is_empty() {
        text.push_str("No outputs.\n");
    } else {
        text.push_str("| Name | Description |\n|------|-------------|\n");
        for output in &outputs {
            let name = &output.name;
            text.push_str(&format!(
                "| <a name=\"output_{name}\"></a> [{name}](#output\\_{}) | {} |\n",
                name.replace('_', "\\_"),
                cell(&output.description),
            ));
        }
    }
    text.push_str("<!-- END_TF_DOCS -->\n");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_and_outputs_become_tables() {
        let variables = r#"
variable "name" {
  description = "Name | prefix."
  type        = string
  default     = "faultline"
}
variable "role_name" {
  description = "The role."
  type        = string
}
variable "arches" {
  description = "Architectures."
  type        = list(string)
  default     = ["x86_64", "arm64"]
}
"#;
        let outputs = r#"
output "secret_arn" {
  description = "The secret's ARN."
  value       = 1
}
"#;
        let versions = include_str!("../../templates/terraform/versions.tf");
        let text = section(variables, outputs, versions).expect("parses");
        let role = text.find("input_role_name").expect("role_name listed");
        let name = text.find("input_name\"").expect("name listed");
        assert!(role < name, "required inputs first:\n{text}");
        assert!(
            text.contains("| Name \\| prefix. | `string` | `\"faultline\"` | no |"),
            "{text}"
        );
        assert!(
            text.contains("| The role. | `string` | n/a | yes |"),
            "{text}"
        );
        assert!(
            text.contains("`list(string)` | `[\"x86_64\", \"arm64\"]` | no |"),
            "{text}"
        );
        assert!(
            text.contains("[secret_arn](#output\\_secret\\_arn) | The secret's ARN. |"),
            "{text}"
        );
        assert!(
            text.contains("[terraform](#requirement\\_terraform) | >= 1.5.0 |"),
            "{text}"
        );
        assert!(
            text.contains("[aws](#requirement\\_aws) | >= 5.0 |"),
            "{text}"
        );
    }
}
