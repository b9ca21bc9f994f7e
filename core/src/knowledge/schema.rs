//! The knowledge packs' on-disk shape. Every struct rejects unknown fields so
//! a typo in a pack is a load error, not a silently ignored matcher.

use serde::Deserialize;

/// One rule of a pack. A pack is `service = "s3"` (the default service of
/// its rules; `any` for rules about every service) and `[[rule]]` tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// `service.snake_case_name`, e.g. `s3.bucket_not_empty`.
    pub id: String,
    pub title: String,
    /// Services (`aws_service` identifier values) this rule is about; defaults to the pack's.
    #[serde(default)]
    pub services: Vec<String>,
    /// AWS error codes that identify the class (compared case-insensitively).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Regexes matched against the lowercased message; any one matching counts.
    /// Named groups become template values.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Regexes that rule this class out when any of them matches the lowercased message.
    #[serde(default)]
    pub unless: Vec<String>,
    /// Regexes that only capture template values, never affect matching.
    #[serde(default)]
    pub captures: Vec<String>,
    /// The code alone is too generic for this rule: a pattern must match too.
    #[serde(default)]
    pub require_pattern: bool,
    #[serde(default)]
    pub access_denied: Option<AccessMatchDef>,
    /// Breaks ties between equally scored rules; higher wins.
    #[serde(default)]
    pub priority: i32,
    pub analysis: String,
    /// Account facts that Help me resolve reads to prove the cause.
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub steps: Vec<StepDef>,
    #[serde(default)]
    pub docs: Vec<DocDef>,
    #[serde(default)]
    pub fixtures: Vec<FixtureDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessMatchDef {
    /// `explicit` or `implicit`; absent matches both.
    #[serde(default)]
    pub deny: Option<String>,
    /// A DESIGN.md policy type, or `unspecified` for messages that name none; absent matches all.
    #[serde(default)]
    pub policy_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub cli: Option<String>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocDef {
    pub title: String,
    pub url: String,
}

/// A message the rule must recognise, run by the test suite through the real
/// extraction (`interpret`) and the engine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureDef {
    pub message: String,
    pub url: String,
    /// Signed-in role or user as the console's navigation shows it (`ReadOnly/alice`).
    #[serde(default)]
    pub role: Option<String>,
    /// Rule the analysis must come from; defaults to the rule holding the fixture.
    #[serde(default)]
    pub expect: Option<String>,
    /// Phrases the analysis must contain.
    #[serde(default)]
    pub phrases: Vec<String>,
}
