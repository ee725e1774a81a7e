//! The template sources, embedded in the binary. A template's path under deployer/templates/ is
//! the path of its output: `cfn/...` renders to cfn/... (or under `--out`); `from` names a
//! source shared by several outputs.

use super::Kind;

pub struct Template {
    pub path: &'static str,
    pub source: &'static str,
}

macro_rules! templates {
    ($($path:literal $(from $source:literal)?),* $(,)?) => {
        &[$(Template {
            path: $path,
            source: templates!(@source $path $(, $source)?),
        }),*]
    };
    (@source $path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $path))
    };
    (@source $path:literal, $source:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $source))
    };
}

const ALL: &[Template] = templates![
    "cfn/faultline-setup.yaml",
    "cfn/faultline-setup-stackset.yaml" from "cfn/faultline-setup.yaml",
    "cfn/faultline-function.yaml",
    "cfn/faultline-dashboard.yaml",
    "sam-templates/faultline-function-snippet.yaml",
    "sam-templates/example-app.yaml",
    "terraform/modules/setup/main.tf",
    "terraform/modules/setup/variables.tf",
    "terraform/modules/setup/outputs.tf",
    "terraform/modules/setup/versions.tf" from "terraform/versions.tf",
    "terraform/modules/setup/README.md",
    "terraform/modules/function/main.tf",
    "terraform/modules/function/variables.tf",
    "terraform/modules/function/outputs.tf",
    "terraform/modules/function/versions.tf" from "terraform/versions.tf",
    "terraform/modules/function/README.md",
    "terraform/modules/dashboard/main.tf",
    "terraform/modules/dashboard/variables.tf",
    "terraform/modules/dashboard/outputs.tf",
    "terraform/modules/dashboard/versions.tf" from "terraform/versions.tf",
    "terraform/modules/dashboard/README.md",
    "terraform/examples/complete/main.tf",
    "terraform/examples/complete/variables.tf",
    "terraform/examples/complete/outputs.tf",
    "terraform/examples/complete/versions.tf" from "terraform/versions.tf",
    "terraform/examples/complete/README.md",
    "terraform/examples/existing-install/main.tf",
    "terraform/examples/existing-install/variables.tf",
    "terraform/examples/existing-install/outputs.tf",
    "terraform/examples/existing-install/versions.tf" from "terraform/versions.tf",
    "terraform/examples/existing-install/README.md",
];

/// The templates of one kind, in a stable order.
pub fn of(kind: Kind) -> impl Iterator<Item = &'static Template> {
    ALL.iter().filter(move |t| {
        t.path
            .strip_prefix(kind.folder())
            .is_some_and(|rest| rest.starts_with('/'))
    })
}
