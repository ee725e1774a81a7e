//! The configuration `disable` wants for a function.

use super::{FunctionConfig, Plan, PlanError, SAVED, Saved, readable};

/// The configuration `disable` wants: every variable enabling set goes back to its previous
/// value (or away), faultline's layer goes (or back to the version that was there), other
/// layers and variables stay as they are now. A function that is not enabled plans no change.
pub fn plan_disable(
    current: &FunctionConfig,
    is_ours: impl Fn(&str) -> bool,
) -> Result<Plan, PlanError> {
    readable(current)?;
    let Some(saved) = Saved::of(current)? else {
        return Ok(Plan {
            layers: current.layers.clone(),
            env: current.env.clone(),
            warnings: Vec::new(),
        });
    };
    let mut env = current.env.clone();
    env.remove(SAVED);
    for (key, previous) in &saved.env {
        match previous {
            Some(value) => env.insert(key.clone(), value.clone()),
            None => env.remove(key),
        };
    }
    let mut layers = Vec::with_capacity(current.layers.len());
    for layer in &current.layers {
        if is_ours(layer) {
            if let Some(previous) = &saved.layer {
                layers.push(previous.clone());
            }
        } else {
            layers.push(layer.clone());
        }
    }
    Ok(Plan {
        layers,
        env,
        warnings: Vec::new(),
    })
}
