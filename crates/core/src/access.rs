//! Who may do what: the roles of tokens and people, and the plans and add-ons a
//! tenant (a merchant, "empresa") is entitled by (seed 000 sells instant events by plan).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// `ALL` (in declaration order), `as_str`, `Display` and `FromStr` for an enum whose
/// variants each have one stored and shown name.
macro_rules! names {
    ($ty:ident, $what:literal, [$($v:ident => $name:literal),+ $(,)?]) => {
        impl $ty {
            #[doc = concat!("Every ", $what, ", in order.")]
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$v),+];

            #[doc = concat!("The ", $what, " as stored and shown.")]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$v => $name,)+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownName(s.to_owned()))
            }
        }
    };
}

/// What a token or a person may do; each role includes the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything of its tenant.
    Viewer,
    /// Also runs ERP actions, resends, runs tasks and syncs, and moves stock.
    Operator,
    /// Also manages channels and credentials, settings, tokens and users.
    Admin,
}

names!(Role, "role", [Viewer => "viewer", Operator => "operator", Admin => "admin"]);

impl Role {
    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// A name that is not one of the known values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value `{0}`")]
pub struct UnknownName(pub String);

/// A tenant's plan (seed 000's presets).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// Básico: no instant events, not even as an add-on.
    Basico,
    /// Avançado: instant events as an add-on.
    Avancado,
    /// PRO: instant events included.
    Pro,
    /// Master: everything included (a self-hosted ponte's default tenant).
    Master,
}

names!(Plan, "plan", [Basico => "basico", Avancado => "avancado", Pro => "pro", Master => "master"]);

impl Plan {
    /// The add-ons this plan includes.
    pub fn includes(self, addon: Addon) -> bool {
        match addon {
            Addon::InstantEvents => matches!(self, Plan::Pro | Plan::Master),
        }
    }

    /// Whether a tenant on this plan may buy the add-on.
    pub fn offers(self, addon: Addon) -> bool {
        match addon {
            Addon::InstantEvents => self != Plan::Basico,
        }
    }
}

/// Something a plan includes or a tenant buys on top of it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Addon {
    /// Webhooks import at once (otherwise polling does the work).
    InstantEvents,
}

names!(Addon, "add-on", [InstantEvents => "instant_events"]);

/// What a tenant is entitled to: its plan and the add-ons bought on top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlements {
    /// The plan.
    pub plan: Plan,
    /// Add-ons bought on top of the plan.
    pub addons: Vec<Addon>,
}

impl Entitlements {
    /// Whether the tenant has this add-on (by plan or bought).
    pub fn has(&self, addon: Addon) -> bool {
        self.plan.includes(addon) || self.addons.contains(&addon)
    }

    /// Why the tenant cannot have `addons` on its plan: the first add-on the plan does
    /// not offer.
    pub fn refused_addon(plan: Plan, addons: &[Addon]) -> Option<Addon> {
        addons.iter().copied().find(|a| !plan.offers(*a))
    }

    /// What to tell a tenant that lacks `addon`: the plans and add-on that include it.
    pub fn how_to_get(addon: Addon) -> String {
        let plans: Vec<&str> = Plan::ALL
            .into_iter()
            .filter(|p| p.includes(addon))
            .map(Plan::as_str)
            .collect();
        let offered: Vec<&str> = Plan::ALL
            .into_iter()
            .filter(|p| p.offers(addon) && !p.includes(addon))
            .map(Plan::as_str)
            .collect();
        let mut s = format!("`{addon}` is included in the plans {}", plans.join(", "));
        if !offered.is_empty() {
            s.push_str(&format!(
                " and is an add-on of the plan {}",
                offered.join(", ")
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_before() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Admin));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn instant_events_follow_seed_000() {
        let e = |plan, addons: &[Addon]| Entitlements {
            plan,
            addons: addons.to_vec(),
        };
        let ie = Addon::InstantEvents;
        assert!(e(Plan::Master, &[]).has(ie));
        assert!(e(Plan::Pro, &[]).has(ie));
        assert!(!e(Plan::Avancado, &[]).has(ie));
        assert!(e(Plan::Avancado, &[ie]).has(ie));
        assert!(!e(Plan::Basico, &[]).has(ie));
        assert_eq!(Entitlements::refused_addon(Plan::Basico, &[ie]), Some(ie));
        assert_eq!(Entitlements::refused_addon(Plan::Avancado, &[ie]), None);
        let how = Entitlements::how_to_get(ie);
        assert!(
            how.contains("pro, master") && how.contains("avancado"),
            "{how}"
        );
        for p in Plan::ALL {
            assert_eq!(p.as_str().parse::<Plan>(), Ok(p));
        }
    }
}
