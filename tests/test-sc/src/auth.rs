//! Authorization in the test SC, with the real SC's rules (upstream
//! `crates/fluvio-sc/src/services/auth/{mod,basic}.rs`, `crates/fluvio-auth/src/*`):
//!
//! - `Root` (the default, an SC started without a policy): everything is allowed.
//! - `Policy`: the `--authorization-policy` file (role -> object type -> actions, the same JSON)
//!   and the `--authorization-scopes` file (principal -> roles). A connection's principal is
//!   the common name (CN) of its TLS client certificate.
//! - `ReadOnly` (an SC started with `--read-only`): every read is allowed, and of the creates
//!   only custom SPUs.
//!
//! What the handlers check, as upstream: a list checks `Read` on its object type and answers
//! an EMPTY list when denied; a create checks `Create` on its object type first of all and
//! answers `PermissionDenied` "permission denied"; a delete is never checked (upstream's
//! instance check allows every delete in all three modes); watches are not checked.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use fluvio_controlplane_metadata::extended::ObjectType;
use serde::{Deserialize, Deserializer};

/// An action a role may be given on an object type (upstream `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    All,
}

/// One entry of a role's list for an object type: `"Read"`, or `"Read:<instance>"`, which
/// only instance checks could match (the SC makes none for SPUs, so it never allows a type
/// action).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Permission {
    action: Action,
    instance: Option<String>,
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (action, instance) = match text.split_once(':') {
            Some((action, instance)) => (action, Some(instance.to_owned())),
            None => (text.as_str(), None),
        };
        let action = serde_json::from_value(serde_json::Value::String(action.to_owned()))
            .map_err(serde::de::Error::custom)?;
        Ok(Permission { action, instance })
    }
}

type Roles = HashMap<String, HashMap<ObjectType, Vec<Permission>>>;

/// A role policy and who holds which role.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    roles: Roles,
    scopes: HashMap<String, Vec<String>>,
    without_certificate: Vec<String>,
}

impl Policy {
    /// A policy in the real SC's `--authorization-policy` JSON, e.g.
    /// `{"reader": {"Spu": ["Read"], "CustomSpu": ["Read"]}}`.
    pub fn from_json(policy: &str) -> Result<Self> {
        let roles: Roles = serde_json::from_str(policy).context("authorization policy")?;
        Ok(Policy {
            roles,
            ..Policy::default()
        })
    }

    /// Principal -> roles, as in the real SC's `--authorization-scopes` JSON, e.g.
    /// `{"alice": ["admin"], "bob": ["reader"]}`. Replaces earlier bindings.
    pub fn with_scopes_json(mut self, scopes: &str) -> Result<Self> {
        self.scopes = serde_json::from_str(scopes).context("authorization scopes")?;
        Ok(self)
    }

    /// Gives `principal` (a client certificate's CN) these roles.
    pub fn bind(mut self, principal: &str, roles: &[&str]) -> Self {
        self.scopes.insert(
            principal.to_owned(),
            roles.iter().map(|r| (*r).to_owned()).collect(),
        );
        self
    }

    /// Roles of every connection that has no client certificate (plain TCP, or TLS without
    /// client authentication). The real SC cannot do this (see FIDELITY.md): it lets a test
    /// use one policy for all connections without setting up TLS.
    pub fn without_certificate(mut self, roles: &[&str]) -> Self {
        self.without_certificate = roles.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    fn roles_of(&self, principal: Option<&str>) -> Vec<String> {
        match principal {
            Some(principal) => self.scopes.get(principal).cloned().unwrap_or_default(),
            None => self.without_certificate.clone(),
        }
    }

    /// upstream `BasicRbacPolicy::evaluate` for a type action (no instance): allowed when
    /// any of the roles lists, for this object type, the action or `All` without an instance.
    fn allows(&self, roles: &[String], ty: &ObjectType, action: Action) -> bool {
        roles.iter().any(|role| {
            self.roles
                .get(role)
                .and_then(|types| types.get(ty))
                .is_some_and(|permissions| {
                    permissions.iter().any(|p| {
                        p.instance.is_none() && (p.action == action || p.action == Action::All)
                    })
                })
        })
    }

    /// Checks that every bound role is defined (a typo would silently deny everything).
    fn check(&self) -> Result<()> {
        let defined: HashSet<&String> = self.roles.keys().collect();
        let bound = self
            .scopes
            .values()
            .flatten()
            .chain(&self.without_certificate);
        for role in bound {
            if !defined.contains(role) {
                return Err(anyhow!("role `{role}` is bound but not in the policy"));
            }
        }
        Ok(())
    }
}

/// How the test SC authorizes requests.
#[derive(Debug, Clone, Default)]
pub enum Authorization {
    /// No policy: everything is allowed.
    #[default]
    Root,
    /// A role policy (`--authorization-policy` with `--authorization-scopes`).
    Policy(Policy),
    /// `--read-only`: reads, and creates of custom SPUs.
    ReadOnly,
}

impl Authorization {
    pub(crate) fn check(&self) -> Result<()> {
        match self {
            Authorization::Policy(policy) => policy.check(),
            Authorization::Root | Authorization::ReadOnly => Ok(()),
        }
    }

    /// The authorization of one connection, whose client certificate had this CN.
    pub(crate) fn for_connection(self: &Arc<Self>, principal: Option<&str>) -> ConnAuth {
        let roles = match &**self {
            Authorization::Policy(policy) => policy.roles_of(principal),
            Authorization::Root | Authorization::ReadOnly => vec![],
        };
        ConnAuth {
            mode: self.clone(),
            roles,
        }
    }
}

/// A type action the handlers check (upstream `TypeAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeAction {
    Create,
    Read,
}

/// One connection's authorization context, made once when the connection starts.
#[derive(Debug, Clone)]
pub(crate) struct ConnAuth {
    mode: Arc<Authorization>,
    roles: Vec<String>,
}

impl ConnAuth {
    pub(crate) fn allows(&self, ty: ObjectType, action: TypeAction) -> bool {
        match &*self.mode {
            Authorization::Root => true,
            // upstream ReadOnlyAuthContext: any read, and creates of custom SPUs
            Authorization::ReadOnly => {
                action == TypeAction::Read || matches!(ty, ObjectType::CustomSpu)
            }
            Authorization::Policy(policy) => {
                let action = match action {
                    TypeAction::Create => Action::Create,
                    TypeAction::Read => Action::Read,
                };
                policy.allows(&self.roles, &ty, action)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules() {
        let policy = Policy::from_json(
            r#"{"reader": {"Spu": ["Read"], "CustomSpu": ["Read"]},
                "admin": {"Spu": ["All"], "CustomSpu": ["All"]},
                "scoped": {"CustomSpu": ["Create:custom-spu-5001"]}}"#,
        )
        .unwrap()
        .bind("alice", &["admin"])
        .bind("bob", &["reader"])
        .bind("sam", &["scoped"]);
        policy.check().unwrap();
        let auth = Arc::new(Authorization::Policy(policy));
        let alice = auth.for_connection(Some("alice"));
        assert!(alice.allows(ObjectType::CustomSpu, TypeAction::Create));
        let bob = auth.for_connection(Some("bob"));
        assert!(bob.allows(ObjectType::Spu, TypeAction::Read));
        assert!(!bob.allows(ObjectType::CustomSpu, TypeAction::Create));
        assert!(!bob.allows(ObjectType::Topic, TypeAction::Read));
        let sam = auth.for_connection(Some("sam"));
        assert!(!sam.allows(ObjectType::CustomSpu, TypeAction::Create));
        let nobody = auth.for_connection(Some("carol"));
        assert!(!nobody.allows(ObjectType::Spu, TypeAction::Read));
        let plain = auth.for_connection(None);
        assert!(!plain.allows(ObjectType::Spu, TypeAction::Read));
    }

    #[test]
    fn read_only_allows_reads_and_custom_spu_creates() {
        let auth = Arc::new(Authorization::ReadOnly).for_connection(None);
        assert!(auth.allows(ObjectType::Spu, TypeAction::Read));
        assert!(auth.allows(ObjectType::CustomSpu, TypeAction::Create));
        assert!(!auth.allows(ObjectType::Topic, TypeAction::Create));
        assert!(!auth.allows(ObjectType::SpuGroup, TypeAction::Create));
    }

    #[test]
    fn unbound_roles_and_bad_actions_are_errors() {
        let policy = Policy::from_json(r#"{"reader": {"Spu": ["Read"]}}"#)
            .unwrap()
            .bind("bob", &["raeder"]);
        assert!(policy.check().is_err());
        assert!(Policy::from_json(r#"{"reader": {"Spu": ["Look"]}}"#).is_err());
        assert!(Policy::from_json(r#"{"reader": {"Spoo": ["Read"]}}"#).is_err());
    }
}
