//! Where a fleet runs, found rather than listed: every active account under an organizational unit
//! (`--accounts-from-org`, AWS Organizations) and every Region enabled in an account
//! (`--regions all-enabled`, the Account API's ListRegions).

use crate::aws::Aws;
use crate::error::{DeployError, aws};
use aws_sdk_account::types::RegionOptStatus;
use aws_sdk_organizations::types::{AccountState, AccountStatus};

/// Whether `id` names an organization root (`r-` and 4 to 32 lowercase letters or digits) or an
/// organizational unit (`ou-`, the root's 4 to 32, `-`, 8 to 32 more), as Organizations spells
/// them.
pub fn is_parent_id(id: &str) -> bool {
    let part = |s: &str, min: usize| {
        (min..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if let Some(root) = id.strip_prefix("r-") {
        return part(root, 4);
    }
    match id.strip_prefix("ou-").and_then(|rest| rest.split_once('-')) {
        Some((root, unit)) => part(root, 4) && part(unit, 8),
        None => false,
    }
}

/// The active accounts under `parent` and every organizational unit beneath it, in the order
/// Organizations lists them (as the credentials' account: the management account or a delegated
/// administrator).
pub async fn org_accounts(aws_: &Aws, parent: &str) -> Result<Vec<String>, DeployError> {
    let client = aws_.organizations();
    let mut accounts = Vec::new();
    let mut parents = vec![parent.to_string()];
    while let Some(parent) = parents.pop() {
        let mut pages = client
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                aws(
                    format!(
                        "listing the accounts of {parent} (organizations:ListAccountsForParent)"
                    ),
                    err,
                )
            })?;
            for account in page.accounts() {
                // State replaced Status in 2026; an answer with only Status is read by it.
                let active = match account.state() {
                    Some(state) => *state == AccountState::Active,
                    None => account.status() == Some(&AccountStatus::Active),
                };
                if let (true, Some(id)) = (active, account.id()) {
                    accounts.push(id.to_string());
                }
            }
        }
        let mut pages = client
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| {
                aws(
                    format!(
                        "listing the organizational units of {parent} \
                         (organizations:ListOrganizationalUnitsForParent)"
                    ),
                    err,
                )
            })?;
            parents.extend(
                page.organizational_units()
                    .iter()
                    .filter_map(|unit| unit.id().map(str::to_string)),
            );
        }
    }
    accounts.sort();
    accounts.dedup();
    Ok(accounts)
}

/// The Regions enabled in the account of `aws_` (enabled by default, or opted in), sorted.
pub async fn enabled_regions(aws_: &Aws) -> Result<Vec<String>, DeployError> {
    let mut regions = Vec::new();
    let mut items = aws_
        .account_api()
        .list_regions()
        .region_opt_status_contains(RegionOptStatus::Enabled)
        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
        .into_paginator()
        .items()
        .send();
    while let Some(region) = items.next().await {
        let region = region.map_err(|err| {
            aws(
                "listing the account's enabled Regions (account:ListRegions)",
                err,
            )
        })?;
        if let Some(name) = region.region_name() {
            regions.push(name.to_string());
        }
    }
    regions.sort();
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_units_are_told_from_anything_else() {
        assert!(is_parent_id("r-ab12"));
        assert!(is_parent_id("ou-ab12-cdefgh34"));
        assert!(!is_parent_id("ou-ab12"));
        assert!(!is_parent_id("ou-AB12-cdefgh34"));
        assert!(!is_parent_id("r-a"));
        assert!(!is_parent_id("111111111111"));
        assert!(!is_parent_id(""));
    }
}
