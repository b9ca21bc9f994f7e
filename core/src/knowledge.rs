//! Knowledge base and analysis engine.
//!
//! Rules are data: one TOML pack per service in `core/knowledge/`, turned into
//! one JSON blob by `build.rs` and validated here at load (unknown fields,
//! regexes, template keys, links, needs, fixtures), with errors naming the
//! pack and the rule. `analyze` picks the best rule for an [`ErrorContext`]
//! and fills its templates with the context's own values only, so an analysis
//! never names a resource the page did not show.
//!
//! The extension loads [`KnowledgeBase::builtin_runtime`] instead: a cut of the
//! same packs that `build.rs` writes with only what analysis reads, compiled
//! without re-validating (the native build did) and without JSON values, to
//! keep the wasm small. Tests natively and in the browser hold it to
//! byte-identical analyses.

mod fill;
mod runtime;
mod schema;
mod similarity;

pub use schema::FixtureDef;

use crate::api::{Analysis, ErrorSummary, Link, Step};
use crate::context::{DenyKind, ErrorContext, IdentityKind, PolicyType};
use fill::{Escape, Template};
use regex::{Regex, RegexBuilder};
use schema::{AccessMatchDef, RuleDef};
use similarity::SimilarityIndex;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const BUILTIN_PACKS: &str = include_str!(concat!(env!("OUT_DIR"), "/knowledge.json"));
/// The same packs cut to what analysis reads (see `build.rs`).
const RUNTIME_PACKS: &str = include_str!(concat!(env!("OUT_DIR"), "/knowledge-runtime.txt"));

/// DESIGN.md's identifier keys, the values extraction may put in the context.
pub const IDENTIFIER_KEYS: &[&str] = &[
    "aws_partition",
    "aws_region",
    "aws_service",
    "aws_account_id",
    "iam_action",
    "iam_principal_arn",
    "resource_arn",
    "s3_bucket_name",
    "ec2_instance_id",
    "ec2_instance_type",
    "ec2_ami_id",
    "availability_zone",
    "lambda_function_name",
    "iam_role_name",
    "iam_user_name",
    "iam_policy_arn",
    "kms_key_id",
    "cloudformation_stack_name",
    "dynamodb_table_name",
    "vpc_id",
    "subnet_id",
    "security_group_id",
    "log_group_name",
    "rds_db_instance_id",
    "ecs_cluster_name",
    "secret_arn",
];

/// Values the engine derives from the context, usable in every template:
/// - `error_code`: the context's error code;
/// - `caller`: who was denied, as `role NAME` / `user NAME` / `the root user`
///   (from the principal ARN in the message, else the signed-in identity);
/// - `caller_start`: `caller` capitalised, to begin a sentence (`Role NAME`);
/// - `caller_name`: the bare role or user name;
/// - `operation`: the API operation the message names (`DeleteBucket`);
/// - `console_domain`: the console host of the context's partition;
/// - `message`: the message itself, trimmed to one line of bounded length.
pub const DERIVED_KEYS: &[&str] = &[
    "error_code",
    "caller",
    "caller_start",
    "caller_name",
    "operation",
    "console_domain",
    "message",
];

/// Account facts a rule may ask Help me resolve to read (`needs`).
pub const KNOWN_NEEDS: &[&str] = &[
    "cloudformation.stack_events",
    "cloudformation.stack_resources",
    "cloudformation.stack_status",
    "cloudformation.template",
    "dynamodb.table",
    "dynamodb.table_capacity",
    "ec2.account_attributes",
    "ec2.ami",
    "ec2.default_vpc",
    "ec2.instance",
    "ec2.instance_type_offerings",
    "ec2.security_group",
    "ec2.service_quotas",
    "ec2.subnet",
    "ec2.volumes",
    "ec2.vpc",
    "ec2.vpc_dependencies",
    "ecs.cluster",
    "ecs.container_instances",
    "ecs.service",
    "ecs.task_definition",
    "iam.entity_exists",
    "iam.permissions_boundary",
    "iam.policy_document",
    "iam.policy_entities",
    "iam.policy_versions",
    "iam.principal_policies",
    "iam.role_attachments",
    "iam.role_trust_policy",
    "kms.key_policy",
    "kms.key_state",
    "lambda.execution_role",
    "lambda.function_configuration",
    "lambda.function_state",
    "logs.log_group",
    "organizations.rcps",
    "organizations.scps",
    "rds.db_instance",
    "rds.engine_versions",
    "rds.orderable_options",
    "s3.bucket_lifecycle",
    "s3.bucket_object_count",
    "s3.bucket_ownership_controls",
    "s3.bucket_policy",
    "s3.bucket_versioning",
    "s3.public_access_block",
    "secretsmanager.secret",
    "secretsmanager.secret_policy",
    "servicequotas.quota",
    "sns.topic_attributes",
    "sns.topic_policy",
    "sqs.queue_attributes",
    "sqs.queue_policy",
    "sts.caller_identity",
    "vpc.endpoint_policy",
];

/// Hosts a doc or console link may point to.
const LINK_HOSTS: &[&str] = &[
    "docs.aws.amazon.com",
    "console.aws.amazon.com",
    "console.amazonaws-us-gov.com",
    "console.amazonaws.cn",
];

/// Messages beyond this are matched on their first part only (bounded time).
const MATCH_LIMIT: usize = 16 * 1024;
/// Longest value a template may insert, in characters.
const VALUE_LIMIT: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("the built-in knowledge blob is not valid JSON: {0}")]
    Blob(#[source] serde_json::Error),
    #[error("knowledge pack {pack}: {source}")]
    Pack {
        pack: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("knowledge pack {pack}, rule {rule}: {problem}")]
    Rule {
        pack: String,
        rule: String,
        problem: RuleProblem,
    },
    #[error("knowledge pack {pack}: runbook_hosts: {reason}")]
    RunbookHosts { pack: String, reason: String },
    #[error("knowledge packs: {0}")]
    Combined(String),
    #[error("the built-in runtime knowledge cut is malformed: {0}")]
    Runtime(String),
}

/// What is wrong with one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleProblem {
    #[error("invalid rule: {0}")]
    Schema(String),
    #[error("id must look like `service.snake_case_name`")]
    BadId,
    #[error("id is already used by pack {0}")]
    DuplicateId(String),
    #[error("pattern `{pattern}` does not compile: {reason}")]
    BadRegex { pattern: String, reason: String },
    #[error("pattern `{0}` has upper-case letters; messages are matched lower-cased")]
    UppercasePattern(String),
    #[error("{field}: {reason}")]
    TemplateSyntax { field: String, reason: String },
    #[error(
        "{field} uses `{{{{{key}}}}}`, which is neither an identifier, a derived value nor a capture of this rule"
    )]
    UnknownTemplateKey { field: String, key: String },
    #[error(
        "{field} uses `{{{{{key}}}}}` without a fallback (`{{{{{key}|...}}}}`) outside a `{{{{#{key}}}}}` section"
    )]
    UnguardedKey { field: String, key: String },
    #[error("{field}: link `{url}` is not allowed: {reason}")]
    BadLink {
        field: String,
        url: String,
        reason: String,
    },
    #[error("needs `{0}` is not a known account fact")]
    UnknownNeed(String),
    #[error("access_denied: {0}")]
    BadAccessMatch(String),
    #[error("has no matcher (codes, patterns or access_denied)")]
    NoMatcher,
    #[error("has no fixture")]
    NoFixture,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PolicyTypeMatch {
    Is(PolicyType),
    Unspecified,
}

#[derive(Debug, Clone)]
struct AccessMatch {
    deny: Option<DenyKind>,
    policy_type: Option<PolicyTypeMatch>,
}

#[derive(Debug, Clone)]
struct StepTemplate {
    title: Template,
    detail: Template,
    cli: Option<Template>,
    policy: Option<Template>,
    link: Option<Template>,
}

#[derive(Debug, Clone)]
struct Rule {
    id: String,
    pack: String,
    services: Vec<String>,
    title: Template,
    codes: Vec<String>,
    match_regexes: Vec<Regex>,
    /// Compiled from `patterns` then `captures`, for reading named groups.
    capture_regexes: Vec<Regex>,
    unless: Vec<Regex>,
    require_pattern: bool,
    access: Option<AccessMatch>,
    priority: i32,
    analysis: Template,
    needs: Vec<String>,
    steps: Vec<StepTemplate>,
    docs: Vec<Link>,
    fixtures: Vec<FixtureDef>,
    similarity_text: String,
    /// Hosts besides AWS's that this rule's links may point to: an
    /// organisation's runbooks, declared by its customization pack.
    runbook_hosts: Vec<String>,
}

/// The validated rules and the structures built from them for fast matching.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    rules: Vec<Rule>,
    /// Every rule's patterns with their owning rule. Matched one by one: without
    /// the regex crate's DFA features (left out for wasm size), a combined set runs
    /// on the slow NFA engine, while single patterns skip most messages through
    /// their literal prefilter.
    patterns: Vec<MatchPattern>,
    /// Patterns keyed by a whole word every match contains: only patterns whose
    /// word occurs in the message are tried, besides those in `wordless`.
    patterns_by_word: HashMap<String, Vec<usize>>,
    wordless: Vec<usize>,
    operation: Regex,
    similarity: SimilarityIndex,
}

/// A rule as other components see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo<'a> {
    pub id: &'a str,
    pub pack: &'a str,
    pub services: &'a [String],
    pub needs: &'a [String],
    pub fixtures: &'a [FixtureDef],
}

impl KnowledgeBase {
    /// The packs shipped in `core/knowledge/`.
    pub fn builtin() -> Result<KnowledgeBase, KnowledgeError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            name: String,
            pack: serde_json::Value,
        }
        let entries: Vec<Entry> =
            serde_json::from_str(BUILTIN_PACKS).map_err(KnowledgeError::Blob)?;
        let packs: Vec<(String, serde_json::Value)> = entries
            .into_iter()
            .map(|entry| (entry.name, entry.pack))
            .collect();
        KnowledgeBase::from_packs(&packs)
    }

    /// The packs shipped in `core/knowledge/`, cut to what [`KnowledgeBase::analyze`]
    /// reads: the same analyses as [`KnowledgeBase::builtin`], but no steps,
    /// needs or fixtures (empty), and no JSON value parsing. For the extension,
    /// whose wasm size this keeps down; the backend and tests use `builtin`.
    pub fn builtin_runtime() -> Result<KnowledgeBase, KnowledgeError> {
        let mut rules: Vec<Rule> = Vec::new();
        for entry in runtime::rules(RUNTIME_PACKS).map_err(KnowledgeError::Runtime)? {
            let rule_id = entry.definition.id.clone();
            let fail = |problem: RuleProblem| KnowledgeError::Rule {
                pack: entry.pack.to_string(),
                rule: rule_id.clone(),
                problem,
            };
            let rule = compile_rule::<false>(
                entry.pack,
                entry.service,
                entry.definition,
                entry.fixture_text,
                &[],
            )
            .map_err(fail)?;
            if let Some(existing) = rules.iter().find(|existing| existing.id == rule.id) {
                return Err(fail(RuleProblem::DuplicateId(existing.pack.clone())));
            }
            rules.push(rule);
        }
        KnowledgeBase::assemble(rules)
    }

    /// The embedded knowledge blob: `[{"name": "s3.toml", "pack": {...}}, ...]`.
    pub fn builtin_packs_json() -> &'static str {
        BUILTIN_PACKS
    }

    /// Size in bytes of the embedded knowledge blob (all packs as JSON).
    pub fn builtin_blob_len() -> usize {
        BUILTIN_PACKS.len()
    }

    /// Loads packs that must not redefine each other's rules.
    pub fn from_packs(
        packs: &[(String, serde_json::Value)],
    ) -> Result<KnowledgeBase, KnowledgeError> {
        let mut rules: Vec<Rule> = Vec::new();
        for (name, value) in packs {
            for rule in compile_pack(name, value, PackOrigin::BuiltIn)? {
                if let Some(existing) = rules.iter().find(|existing| existing.id == rule.id) {
                    return Err(KnowledgeError::Rule {
                        pack: name.clone(),
                        rule: rule.id,
                        problem: RuleProblem::DuplicateId(existing.pack.clone()),
                    });
                }
                rules.push(rule);
            }
        }
        KnowledgeBase::assemble(rules)
    }

    /// Adds an organisation's pack: its rules replace built-in rules of the
    /// same id. Unlike a built-in pack it may declare `runbook_hosts`, the
    /// organisation's own https hosts its links may point to.
    pub fn with_pack(&mut self, name: &str, pack: serde_json::Value) -> Result<(), KnowledgeError> {
        let mut rules = self.rules.clone();
        for rule in compile_pack(name, &pack, PackOrigin::Organisation)? {
            match rules.iter_mut().find(|existing| existing.id == rule.id) {
                Some(existing) => *existing = rule,
                None => rules.push(rule),
            }
        }
        *self = KnowledgeBase::assemble(rules)?;
        Ok(())
    }

    fn assemble(rules: Vec<Rule>) -> Result<KnowledgeBase, KnowledgeError> {
        let mut patterns = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let own: Vec<MatchPattern> = rule
                .match_regexes
                .iter()
                .map(|regex| {
                    let literal = required_literal(regex.as_str());
                    let literal_only = literal
                        .as_deref()
                        .is_some_and(|literal| is_plain_literal(regex.as_str(), literal));
                    let trigrams = literal.as_deref().map(literal_trigrams).unwrap_or_default();
                    MatchPattern {
                        owner: index,
                        literal,
                        literal_only,
                        trigrams,
                        regex: regex.clone(),
                    }
                })
                .collect();
            // Plain literals first: when one hits, the rule's costlier regexes are skipped.
            let (literals, regexes): (Vec<MatchPattern>, Vec<MatchPattern>) =
                own.into_iter().partition(|pattern| pattern.literal_only);
            patterns.extend(literals);
            patterns.extend(regexes);
        }
        let mut patterns_by_word: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wordless = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            match pattern.literal.as_deref().and_then(interior_word) {
                Some(word) => patterns_by_word
                    .entry(word.to_string())
                    .or_default()
                    .push(index),
                None => wordless.push(index),
            }
        }
        let operation = Regex::new(
            r"(?:when calling the ([A-Za-z0-9]+) operation|operation error [A-Za-z0-9 ]+: ([A-Za-z0-9]+),)",
        )
        .map_err(|err| KnowledgeError::Combined(format!("operation pattern: {err}")))?;
        let documents: Vec<String> = rules
            .iter()
            .map(|rule| rule.similarity_text.clone())
            .collect();
        let similarity = SimilarityIndex::build(&documents);
        Ok(KnowledgeBase {
            rules,
            patterns,
            patterns_by_word,
            wordless,
            operation,
            similarity,
        })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Runs the fixtures of one pack's rules through the real extraction and
    /// this knowledge base: each must be analysed by its rule (or the one it
    /// names) and contain its phrases. An organisation's pack is checked this
    /// way before it is accepted, as the built-in packs are by the tests.
    pub fn fixture_failures(&self, pack: &str) -> Vec<String> {
        let redactor = crate::Redactor::default();
        let mut failures = Vec::new();
        for rule in self.rules.iter().filter(|rule| rule.pack == pack) {
            for (index, fixture) in rule.fixtures.iter().enumerate() {
                let snapshot = crate::Snapshot {
                    url: fixture.url.clone(),
                    content: fixture.message.clone(),
                    nav_user_label: fixture.role.clone(),
                    ..crate::Snapshot::default()
                };
                let analysis = self.analyze(&crate::extract::interpret(&snapshot, &redactor));
                let expected = fixture.expect.as_deref().unwrap_or(&rule.id);
                let name = format!("{pack}, rule {}, fixture {}", rule.id, index + 1);
                if analysis.rule.as_deref() != Some(expected) {
                    failures.push(format!(
                        "{name}: analysed by {}, expected {expected}",
                        analysis.rule.as_deref().unwrap_or("no rule")
                    ));
                }
                for phrase in &fixture.phrases {
                    if !analysis.analysis.contains(phrase.as_str()) {
                        failures.push(format!("{name}: the analysis lacks “{phrase}”"));
                    }
                }
            }
        }
        failures
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> impl Iterator<Item = RuleInfo<'_>> {
        self.rules.iter().map(Rule::info)
    }

    pub fn rule(&self, rule_id: &str) -> Option<RuleInfo<'_>> {
        self.find(rule_id).map(Rule::info)
    }

    /// Account facts Help me resolve must read for this rule (empty for an unknown id).
    pub fn needs(&self, rule_id: &str) -> &[String] {
        self.find(rule_id)
            .map(|rule| rule.needs.as_slice())
            .unwrap_or(&[])
    }

    fn find(&self, rule_id: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.id == rule_id)
    }

    /// The analysis of one error: the best matching rule's, or a careful
    /// generic one naming the nearest known classes.
    pub fn analyze(&self, context: &ErrorContext) -> Analysis {
        let best = self.best_rule(context);
        let Some((rule, confidence)) = best else {
            return self.analyze_unknown(context);
        };
        let values = Values::new(self, rule, context);
        let lookup = |key: &str| values.get(key);
        Analysis {
            identifiers: context.identifiers.clone(),
            error: ErrorSummary {
                code: reported_code(rule, context),
                class: Some(rule.id.clone()),
            },
            access_denied: context.access_denied.clone(),
            analysis: tidy(
                &rule
                    .analysis
                    .render(&lookup, Escape::Text)
                    .unwrap_or_default(),
            ),
            rule: Some(rule.id.clone()),
            confidence,
            title: tidy(&rule.title.render(&lookup, Escape::Text).unwrap_or_default()),
            docs: rule.docs.clone(),
            diagnosis_id: None,
            source: None,
        }
    }

    /// The rule's resolution steps filled from the context; empty for an unknown id.
    pub fn steps(&self, rule_id: &str, context: &ErrorContext) -> Vec<Step> {
        let Some(rule) = self.find(rule_id) else {
            return Vec::new();
        };
        let values = Values::new(self, rule, context);
        let lookup = |key: &str| values.get(key);
        rule.steps
            .iter()
            .map(|step| Step {
                title: tidy(&step.title.render(&lookup, Escape::Text).unwrap_or_default()),
                detail: tidy(
                    &step
                        .detail
                        .render(&lookup, Escape::Text)
                        .unwrap_or_default(),
                ),
                cli: step
                    .cli
                    .as_ref()
                    .and_then(|cli| cli.render(&lookup, Escape::Shell))
                    .map(|cli| tidy(&cli)),
                policy: step
                    .policy
                    .as_ref()
                    .and_then(|policy| policy.render(&lookup, Escape::Json)),
                link: step
                    .link
                    .as_ref()
                    .and_then(|link| link.render(&lookup, Escape::Url))
                    .filter(|link| check_link(link, &rule.runbook_hosts).is_ok()),
            })
            .collect()
    }

    fn best_rule(&self, context: &ErrorContext) -> Option<(&Rule, f32)> {
        let lowered = bounded(&context.message).to_ascii_lowercase();
        let mut to_try = vec![false; self.patterns.len()];
        for index in &self.wordless {
            to_try[*index] = true;
        }
        for word in lowered
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
        {
            if let Some(indices) = self.patterns_by_word.get(word) {
                for index in indices {
                    to_try[*index] = true;
                }
            }
        }
        let message_trigrams = TrigramSet::of(&lowered);
        let mut pattern_hit = vec![false; self.rules.len()];
        for (pattern, _) in self
            .patterns
            .iter()
            .zip(to_try)
            .filter(|(_, try_it)| *try_it)
        {
            if pattern_hit[pattern.owner] {
                continue;
            }
            if !pattern
                .trigrams
                .iter()
                .all(|trigram| message_trigrams.contains(*trigram))
            {
                continue;
            }
            // A substring test is far cheaper than a regex call; most patterns stop here.
            if pattern
                .literal
                .as_deref()
                .is_some_and(|literal| !lowered.contains(literal))
            {
                continue;
            }
            if pattern.literal_only || pattern.regex.is_match(&lowered) {
                pattern_hit[pattern.owner] = true;
            }
        }
        let mut best: Option<(&Rule, Score)> = None;
        for (rule, hit) in self.rules.iter().zip(pattern_hit) {
            let Some(score) = rule.score(context, &lowered, hit) else {
                continue;
            };
            let better = match &best {
                None => true,
                Some((current, current_score)) => {
                    (score.points, rule.priority, std::cmp::Reverse(&rule.id))
                        > (
                            current_score.points,
                            current.priority,
                            std::cmp::Reverse(&current.id),
                        )
                }
            };
            if better {
                best = Some((rule, score));
            }
        }
        best.map(|(rule, score)| (rule, score.confidence()))
    }

    fn analyze_unknown(&self, context: &ErrorContext) -> Analysis {
        let mut nearest = self.similarity.nearest(bounded(&context.message), 0.12);
        // Classes of the page's own service are the likelier relatives.
        if let Some(service) = context.identifiers.get("aws_service") {
            for (index, similarity) in &mut nearest {
                let same_service = self.rules.get(*index).is_some_and(|rule| {
                    rule.services
                        .iter()
                        .any(|known| known.eq_ignore_ascii_case(service))
                });
                if same_service {
                    *similarity *= 1.5;
                }
            }
            similarity::sort_stably(&mut nearest, similarity::best_first);
        }
        let mut text = String::new();
        let quoted = quote_message(&context.message);
        if quoted.is_empty() {
            text.push_str("The console showed an error without a readable message, and consoledx has no rule for it. ");
        } else {
            text.push_str(&format!(
                "consoledx has no rule for this error yet. The console reported: \"{quoted}\". "
            ));
        }
        if let Some(code) = context
            .error_code
            .as_deref()
            .map(clean_value)
            .filter(|code| !code.is_empty())
        {
            text.push_str(&format!("Its error code is {code}. "));
        }
        let service = context
            .identifiers
            .get("aws_service")
            .map(|value| clean_value(value));
        let region = context
            .identifiers
            .get("aws_region")
            .map(|value| clean_value(value));
        match (
            service.filter(|value| !value.is_empty()),
            region.filter(|value| !value.is_empty()),
        ) {
            (Some(service), Some(region)) => {
                text.push_str(&format!("It happened in {service} in {region}. "))
            }
            (Some(service), None) => text.push_str(&format!("It happened in {service}. ")),
            (None, Some(region)) => text.push_str(&format!("It happened in {region}. ")),
            (None, None) => {}
        }
        let named: Vec<String> = context
            .identifiers
            .iter()
            .filter_map(|(key, value)| {
                let label = identifier_label(key)?;
                let value = clean_value(value);
                (!value.is_empty()).then(|| format!("{label} {value}"))
            })
            .collect();
        if !named.is_empty() {
            text.push_str(&format!("The page names {}. ", named.join(", ")));
        }
        let related: Vec<&Rule> = nearest
            .iter()
            .take(3)
            .filter_map(|(index, _)| self.rules.get(*index))
            .collect();
        if !related.is_empty() {
            let empty = ErrorContext::default();
            let titles: Vec<String> = related
                .iter()
                .map(|rule| {
                    let values = Values::new(self, rule, &empty);
                    let title = tidy(
                        &rule
                            .title
                            .render(&|key: &str| values.get(key), Escape::Text)
                            .unwrap_or_default(),
                    );
                    format!("\"{title}\" ({})", rule.id)
                })
                .collect();
            text.push_str(&format!(
                "Possibly related known errors: {}. ",
                titles.join("; ")
            ));
        }
        text.push_str(
            "Read the message for the operation and resource it rejects, check that resource's current state and your \
             permissions for the operation, then retry; Help me resolve can read the account to narrow it down.",
        );
        let top = nearest
            .first()
            .map(|(_, similarity)| *similarity)
            .unwrap_or(0.0);
        Analysis {
            identifiers: context.identifiers.clone(),
            error: ErrorSummary {
                code: context.error_code.clone(),
                class: None,
            },
            access_denied: context.access_denied.clone(),
            analysis: tidy(&text),
            rule: None,
            confidence: (0.1 + 0.2 * top).clamp(0.05, 0.4),
            title: "Unrecognised error".to_string(),
            docs: Vec::new(),
            diagnosis_id: None,
            source: None,
        }
    }
}

/// The code to report for a matched rule. A code the message spells is kept;
/// one the extraction only inferred from wording (`is not authorized to
/// perform` reads as `AccessDenied`) or none at all is replaced by what the
/// API returns: for an authorization failure the denying service's own code
/// (its protocol decides the name), otherwise the rule's first code.
fn reported_code(rule: &Rule, context: &ErrorContext) -> Option<String> {
    let spelled = context
        .error_code
        .as_deref()
        .filter(|code| context.message.contains(code.trim()));
    if let Some(code) = spelled {
        return Some(code.to_string());
    }
    if rule.access.is_some() || context.access_denied.is_some() {
        let service = context
            .identifiers
            .get("iam_action")
            .and_then(|action| action.split_once(':'))
            .map(|(service, _)| service)
            .or_else(|| context.identifiers.get("aws_service").map(String::as_str));
        if let Some(service) = service {
            return Some(access_denied_code(service).to_string());
        }
        return context.error_code.clone();
    }
    rule.codes
        .first()
        .cloned()
        .or_else(|| context.error_code.clone())
}

/// The error code a service returns for an authorization failure. Query and
/// REST-XML services (and SQS, whose JSON protocol keeps its Query codes) say
/// `AccessDenied`, EC2 `UnauthorizedOperation`, SNS `AuthorizationError`, the
/// JSON-protocol services `AccessDeniedException`.
fn access_denied_code(service: &str) -> &'static str {
    match service.to_ascii_lowercase().as_str() {
        "ec2" => "UnauthorizedOperation",
        "sns" => "AuthorizationError",
        "s3"
        | "iam"
        | "sts"
        | "rds"
        | "cloudformation"
        | "sqs"
        | "elasticloadbalancing"
        | "autoscaling"
        | "elasticache"
        | "redshift"
        | "ses"
        | "cloudwatch"
        | "cloudfront"
        | "route53"
        | "elasticbeanstalk"
        | "sdb"
        | "neptune-db"
        | "docdb" => "AccessDenied",
        _ => "AccessDeniedException",
    }
}

#[derive(Debug, Clone)]
struct MatchPattern {
    owner: usize,
    /// A literal every match contains, when the pattern has one of three bytes or more.
    literal: Option<String>,
    /// The pattern is exactly its literal: the substring test decides alone.
    literal_only: bool,
    /// Hashed trigrams of the literal: if one is absent from the message, so is the literal.
    trigrams: Vec<u16>,
    regex: Regex,
}

#[derive(Debug, Clone, Copy)]
struct Score {
    points: u32,
    code: bool,
    pattern: bool,
    service: bool,
    access: bool,
}

impl Score {
    fn confidence(&self) -> f32 {
        let base: f32 = match (self.code, self.pattern) {
            (true, true) => 0.93,
            (false, true) => 0.85,
            (true, false) => 0.75,
            (false, false) => 0.62,
        };
        let bonus = if self.service { 0.02 } else { 0.0 } + if self.access { 0.03 } else { 0.0 };
        (base + bonus).min(0.98)
    }
}

impl Rule {
    fn info(&self) -> RuleInfo<'_> {
        RuleInfo {
            id: &self.id,
            pack: &self.pack,
            services: &self.services,
            needs: &self.needs,
            fixtures: &self.fixtures,
        }
    }

    fn score(&self, context: &ErrorContext, lowered: &str, pattern: bool) -> Option<Score> {
        let code = context.error_code.as_deref().is_some_and(|code| {
            self.codes
                .iter()
                .any(|known| known.eq_ignore_ascii_case(code.trim()))
        });
        let access = match (&self.access, &context.access_denied) {
            (Some(wanted), Some(actual)) => {
                let deny_ok = wanted.deny.is_none_or(|deny| deny == actual.deny);
                let type_ok = match wanted.policy_type {
                    None => true,
                    Some(PolicyTypeMatch::Unspecified) => actual.policy_type.is_none(),
                    Some(PolicyTypeMatch::Is(policy_type)) => {
                        actual.policy_type == Some(policy_type)
                    }
                };
                if !(deny_ok && type_ok) {
                    // The message says which deny it was; a rule about another kind is wrong, not weaker.
                    return None;
                }
                true
            }
            _ => false,
        };
        // A rule about one policy type is chosen by its message or by the context's
        // deny kind, never by a generic code (AccessDenied) alone; other rules may be
        // chosen by their code unless it is too generic for them (`require_pattern`).
        let about_policy_type = self
            .access
            .as_ref()
            .is_some_and(|wanted| wanted.policy_type.is_some());
        let qualifies =
            pattern || (!self.require_pattern && if about_policy_type { access } else { code });
        if !qualifies || self.unless.iter().any(|regex| regex.is_match(lowered)) {
            return None;
        }
        let service = context
            .identifiers
            .get("aws_service")
            .is_some_and(|service| {
                self.services
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(service))
            });
        let points = 45 * u32::from(code)
            + 45 * u32::from(pattern)
            + 10 * u32::from(service)
            + 20 * u32::from(access);
        Some(Score {
            points,
            code,
            pattern,
            service,
            access,
        })
    }
}

/// The values a rule's templates can read for one context.
struct Values<'c> {
    context: &'c ErrorContext,
    captures: BTreeMap<String, String>,
    operation: Option<String>,
}

impl<'c> Values<'c> {
    fn new(base: &KnowledgeBase, rule: &Rule, context: &'c ErrorContext) -> Values<'c> {
        let message = bounded(&context.message);
        let mut captures = BTreeMap::new();
        if !rule.capture_regexes.is_empty() {
            let lowered = message.to_ascii_lowercase();
            for regex in &rule.capture_regexes {
                let Some(found) = regex.captures(&lowered) else {
                    continue;
                };
                for name in regex.capture_names().flatten() {
                    if captures.contains_key(name) {
                        continue;
                    }
                    // Lower-casing keeps byte offsets, so the span reads the original spelling.
                    if let Some(span) = found.name(name)
                        && let Some(original) = message.get(span.range())
                    {
                        let value = clean_value(original);
                        if !value.is_empty() {
                            captures.insert(name.to_string(), value.into_owned());
                        }
                    }
                }
            }
        }
        // Messages that name an operation say so in words; skip the regex otherwise.
        let names_operation = message.contains(" operation") || message.contains("operation error");
        let operation = names_operation
            .then(|| base.operation.captures(message))
            .flatten()
            .and_then(|found| {
                found
                    .get(1)
                    .or_else(|| found.get(2))
                    .map(|operation| operation.as_str().to_string())
            });
        Values {
            context,
            captures,
            operation,
        }
    }

    fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        if let Some(value) = self.context.identifiers.get(key) {
            let value = clean_value(value);
            if !value.is_empty() {
                return Some(value);
            }
        }
        if let Some(value) = self.captures.get(key) {
            return Some(Cow::Borrowed(value.as_str()));
        }
        match key {
            "error_code" => self
                .context
                .error_code
                .as_deref()
                .map(clean_value)
                .filter(|code| !code.is_empty()),
            "caller" => self.caller().map(|(kind, name)| match kind {
                "root" => Cow::Borrowed("the root user"),
                _ => Cow::Owned(format!("{kind} {name}")),
            }),
            "caller_start" => self.caller().map(|(kind, name)| match kind {
                "root" => Cow::Borrowed("The root user"),
                "user" => Cow::Owned(format!("User {name}")),
                _ => Cow::Owned(format!("Role {name}")),
            }),
            "caller_name" => self
                .caller()
                .filter(|(kind, _)| *kind != "root")
                .map(|(_, name)| Cow::Owned(name)),
            "operation" => self.operation.as_deref().map(Cow::Borrowed),
            "console_domain" => Some(Cow::Borrowed(
                match self
                    .context
                    .identifiers
                    .get("aws_partition")
                    .map(String::as_str)
                {
                    Some("aws-us-gov") => "console.amazonaws-us-gov.com",
                    Some("aws-cn") => "console.amazonaws.cn",
                    _ => "console.aws.amazon.com",
                },
            )),
            "message" => Some(quote_message(&self.context.message))
                .filter(|quoted| !quoted.is_empty())
                .map(Cow::Owned),
            _ => None,
        }
    }

    /// `(kind, name)` of the denied principal: the message's principal ARN first
    /// (it is who was denied), else the console's signed-in identity.
    fn caller(&self) -> Option<(&'static str, String)> {
        if let Some(arn) = self.context.identifiers.get("iam_principal_arn")
            && let Some(found) = principal_from_arn(arn)
        {
            return Some(found);
        }
        let identity = self.context.identity.as_ref()?;
        let name = clean_value(&identity.name);
        match identity.kind {
            IdentityKind::Root => Some(("root", String::new())),
            _ if name.is_empty() => None,
            IdentityKind::Role => Some(("role", name.into_owned())),
            IdentityKind::User => Some(("user", name.into_owned())),
        }
    }
}

fn principal_from_arn(arn: &str) -> Option<(&'static str, String)> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let (kind, rest) = resource.split_once('/').unwrap_or((resource, ""));
    let name = match kind {
        "assumed-role" => rest.split('/').next().unwrap_or_default(),
        "user" | "role" => rest.rsplit('/').next().unwrap_or_default(),
        "root" => return Some(("root", String::new())),
        _ => return None,
    };
    let name = clean_value(name);
    if name.is_empty() {
        return None;
    }
    let kind = if kind == "user" { "user" } else { "role" };
    Some((kind, name.into_owned()))
}

fn identifier_label(key: &str) -> Option<&'static str> {
    Some(match key {
        "aws_account_id" => "account",
        "iam_action" => "action",
        "iam_principal_arn" => "principal",
        "resource_arn" => "resource",
        "s3_bucket_name" => "bucket",
        "ec2_instance_id" => "instance",
        "ec2_instance_type" => "instance type",
        "ec2_ami_id" => "AMI",
        "availability_zone" => "Availability Zone",
        "lambda_function_name" => "Lambda function",
        "iam_role_name" => "role",
        "iam_user_name" => "user",
        "iam_policy_arn" => "policy",
        "kms_key_id" => "KMS key",
        "cloudformation_stack_name" => "stack",
        "dynamodb_table_name" => "table",
        "vpc_id" => "VPC",
        "subnet_id" => "subnet",
        "security_group_id" => "security group",
        "log_group_name" => "log group",
        "rds_db_instance_id" => "DB instance",
        "ecs_cluster_name" => "cluster",
        "secret_arn" => "secret",
        _ => return None,
    })
}

fn bounded(message: &str) -> &str {
    if message.len() <= MATCH_LIMIT {
        return message;
    }
    let mut end = MATCH_LIMIT;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// A value safe to put in prose: no template braces, no control characters, bounded.
fn clean_value(value: &str) -> Cow<'_, str> {
    let value = value.trim();
    let clean = value.chars().count() <= VALUE_LIMIT
        && !value.contains("{{")
        && !value.contains("}}")
        && !value.chars().any(char::is_control);
    if clean {
        return Cow::Borrowed(value);
    }
    let mut out: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(VALUE_LIMIT)
        .collect();
    while out.contains("{{") || out.contains("}}") {
        out = out.replace("{{", "{").replace("}}", "}");
    }
    Cow::Owned(out.trim().to_string())
}

/// The message on one line, whitespace collapsed, cut at a word near 240 characters.
fn quote_message(message: &str) -> String {
    const QUOTE_LIMIT: usize = 240;
    let collapsed = bounded(message)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let collapsed = clean_value(&collapsed).into_owned();
    if collapsed.chars().count() <= QUOTE_LIMIT {
        return collapsed.replace('"', "'");
    }
    let cut: String = collapsed.chars().take(QUOTE_LIMIT).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > QUOTE_LIMIT / 2 => cut[..space].to_string(),
        _ => cut,
    };
    format!(
        "{}...",
        cut.trim_end_matches([',', ';', ':', '.']).replace('"', "'")
    )
}

/// Collapses the blank runs templates leave where an optional part was empty.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for c in text.chars() {
        if c == ' ' || c == '\n' || c == '\t' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            if last_space && matches!(c, '.' | ',' | ';' | ':') && out.ends_with(' ') {
                out.pop();
            }
            out.push(c);
            last_space = false;
        }
    }
    out.trim_end().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PackOrigin {
    BuiltIn,
    Organisation,
}

fn compile_pack(
    name: &str,
    value: &serde_json::Value,
    origin: PackOrigin,
) -> Result<Vec<Rule>, KnowledgeError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawPack {
        service: String,
        #[serde(default)]
        runbook_hosts: Option<Vec<String>>,
        #[serde(default, rename = "rule")]
        rules: Vec<serde_json::Value>,
    }
    let raw: RawPack =
        serde_json::from_value(value.clone()).map_err(|source| KnowledgeError::Pack {
            pack: name.to_string(),
            source,
        })?;
    let runbook_hosts = match (raw.runbook_hosts, origin) {
        (None, _) => Vec::new(),
        (Some(_), PackOrigin::BuiltIn) => {
            return Err(KnowledgeError::RunbookHosts {
                pack: name.to_string(),
                reason: "only an organisation's customization pack may declare them".to_string(),
            });
        }
        (Some(hosts), PackOrigin::Organisation) => {
            for host in &hosts {
                crate::view::check_runbook_host(host).map_err(|reason| {
                    KnowledgeError::RunbookHosts {
                        pack: name.to_string(),
                        reason,
                    }
                })?;
            }
            hosts
        }
    };
    let mut seen = BTreeSet::new();
    let mut rules = Vec::with_capacity(raw.rules.len());
    for (position, rule_value) in raw.rules.into_iter().enumerate() {
        let label = rule_value
            .get("id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{}", position + 1));
        let fail = |problem: RuleProblem| KnowledgeError::Rule {
            pack: name.to_string(),
            rule: label.clone(),
            problem,
        };
        let definition: RuleDef = serde_json::from_value(rule_value)
            .map_err(|err| fail(RuleProblem::Schema(err.to_string())))?;
        let mut rule = compile_rule::<true>(name, &raw.service, definition, "", &runbook_hosts)
            .map_err(fail)?;
        rule.runbook_hosts = runbook_hosts.clone();
        if !seen.insert(rule.id.clone()) {
            return Err(fail(RuleProblem::DuplicateId(name.to_string())));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// Compiles one rule. A pack rule (`FROM_PACK`) is validated in full and must
/// have fixtures. A rule of the runtime cut was validated as a pack rule by
/// the native build and tests, so only what compiling needs is checked (the
/// checks' code stays out of the wasm); it has no steps, needs or fixtures and
/// passes the similarity tokens of its fixture messages (each after a space).
fn compile_rule<const FROM_PACK: bool>(
    pack_name: &str,
    pack_service: &str,
    def: RuleDef,
    fixture_text: &str,
    runbook_hosts: &[String],
) -> Result<Rule, RuleProblem> {
    if FROM_PACK && !valid_id(&def.id) {
        return Err(RuleProblem::BadId);
    }
    let mut capture_names: BTreeSet<String> = BTreeSet::new();
    let mut capture_regexes = Vec::new();
    let mut match_regexes = Vec::new();
    for (index, pattern) in def.patterns.iter().chain(&def.captures).enumerate() {
        if FROM_PACK && has_uppercase(pattern) {
            return Err(RuleProblem::UppercasePattern(pattern.clone()));
        }
        let regex = RegexBuilder::new(pattern)
            .build()
            .map_err(|err| RuleProblem::BadRegex {
                pattern: pattern.clone(),
                reason: one_line(&err.to_string()),
            })?;
        let names: Vec<String> = regex
            .capture_names()
            .flatten()
            .map(str::to_string)
            .collect();
        if index < def.patterns.len() {
            match_regexes.push(regex.clone());
        }
        if !names.is_empty() {
            capture_names.extend(names);
            capture_regexes.push(regex);
        }
    }
    let mut unless = Vec::with_capacity(def.unless.len());
    for pattern in &def.unless {
        if FROM_PACK && has_uppercase(pattern) {
            return Err(RuleProblem::UppercasePattern(pattern.clone()));
        }
        unless.push(Regex::new(pattern).map_err(|err| RuleProblem::BadRegex {
            pattern: pattern.clone(),
            reason: one_line(&err.to_string()),
        })?);
    }
    let access = def.access_denied.as_ref().map(parse_access).transpose()?;
    if FROM_PACK {
        if def.codes.is_empty() && def.patterns.is_empty() && access.is_none() {
            return Err(RuleProblem::NoMatcher);
        }
        for need in &def.needs {
            if !KNOWN_NEEDS.contains(&need.as_str()) {
                return Err(RuleProblem::UnknownNeed(need.clone()));
            }
        }
        if def.fixtures.is_empty() {
            return Err(RuleProblem::NoFixture);
        }
    }
    let known = |key: &str| {
        IDENTIFIER_KEYS.contains(&key) || DERIVED_KEYS.contains(&key) || capture_names.contains(key)
    };
    let text = |field: &str, source: &str| -> Result<Template, RuleProblem> {
        let template = parse_template::<FROM_PACK>(field, source, &known)?;
        if !FROM_PACK {
            return Ok(template);
        }
        if let Some(key) = template.unguarded_keys().into_iter().next() {
            return Err(RuleProblem::UnguardedKey {
                field: field.to_string(),
                key: key.to_string(),
            });
        }
        Ok(template)
    };
    let title = text("title", &def.title)?;
    let analysis = text("analysis", &def.analysis)?;
    let mut steps = Vec::with_capacity(def.steps.len());
    for (index, step) in def.steps.iter().enumerate().filter(|_| FROM_PACK) {
        let field = |part: &str| format!("steps[{index}].{part}");
        let link = step
            .link
            .as_deref()
            .map(|link| parse_template::<FROM_PACK>(&field("link"), link, &known))
            .transpose()?;
        if let Some(link) = &link {
            let sample = link.render(&sample_value, Escape::Url).unwrap_or_default();
            check_link(&sample, runbook_hosts).map_err(|reason| RuleProblem::BadLink {
                field: field("link"),
                url: step.link.clone().unwrap_or_default(),
                reason,
            })?;
        }
        steps.push(StepTemplate {
            title: text(&field("title"), &step.title)?,
            detail: text(&field("detail"), &step.detail)?,
            cli: step
                .cli
                .as_deref()
                .map(|cli| parse_template::<FROM_PACK>(&field("cli"), cli, &known))
                .transpose()?,
            policy: step
                .policy
                .as_deref()
                .map(|policy| parse_template::<FROM_PACK>(&field("policy"), policy, &known))
                .transpose()?,
            link,
        });
    }
    for (index, doc) in def.docs.iter().enumerate().filter(|_| FROM_PACK) {
        check_link(&doc.url, runbook_hosts).map_err(|reason| RuleProblem::BadLink {
            field: format!("docs[{index}]"),
            url: doc.url.clone(),
            reason,
        })?;
    }
    let services = if def.services.is_empty() {
        vec![pack_service.to_string()]
    } else {
        def.services.clone()
    };
    let mut similarity_text = format!(
        "{} {} {}",
        title.literal_text(),
        analysis.literal_text(),
        def.codes.join(" ")
    );
    if FROM_PACK {
        for fixture in &def.fixtures {
            similarity_text.push(' ');
            similarity_text.push_str(&fixture.message);
        }
    } else {
        similarity_text.push_str(fixture_text);
    }
    Ok(Rule {
        id: def.id,
        pack: pack_name.to_string(),
        services,
        title,
        codes: def.codes,
        match_regexes,
        capture_regexes,
        unless,
        require_pattern: def.require_pattern,
        access,
        priority: def.priority,
        analysis,
        needs: def.needs,
        steps,
        docs: def
            .docs
            .into_iter()
            .map(|doc| Link {
                title: doc.title,
                url: doc.url,
            })
            .collect(),
        fixtures: def.fixtures,
        similarity_text,
        runbook_hosts: Vec::new(),
    })
}

fn parse_template<const FROM_PACK: bool>(
    field: &str,
    source: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<Template, RuleProblem> {
    let template = Template::parse(source).map_err(|reason| RuleProblem::TemplateSyntax {
        field: field.to_string(),
        reason,
    })?;
    if !FROM_PACK {
        return Ok(template);
    }
    if let Some(key) = template.keys().into_iter().find(|key| !known(key)) {
        return Err(RuleProblem::UnknownTemplateKey {
            field: field.to_string(),
            key: key.to_string(),
        });
    }
    Ok(template)
}

/// Stand-in values used to check that a link template yields an allowed URL.
fn sample_value(key: &str) -> Option<Cow<'static, str>> {
    Some(Cow::Borrowed(match key {
        "console_domain" => "console.aws.amazon.com",
        "aws_region" => "us-east-1",
        "aws_partition" => "aws",
        _ => "sample",
    }))
}

fn check_link(link: &str, runbook_hosts: &[String]) -> Result<(), String> {
    let host = link_host(link)?;
    let host = host.as_str();
    if runbook_hosts.iter().any(|allowed| allowed == host) {
        return Ok(());
    }
    let allowed = LINK_HOSTS.iter().any(|allowed| {
        host == *allowed
            // Region-prefixed console hosts (`s3.console.aws.amazon.com`); no subdomains of docs.
            || (*allowed != "docs.aws.amazon.com"
                && host.strip_suffix(allowed).is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1))
    });
    if !allowed {
        return Err(format!(
            "host `{host}` is not docs.aws.amazon.com, an AWS console host or a runbook host of the pack"
        ));
    }
    Ok(())
}

/// The host of an https link; the source packs are checked with the url crate.
#[cfg(not(target_arch = "wasm32"))]
fn link_host(link: &str) -> Result<String, String> {
    let parsed = url::Url::parse(link).map_err(|err| err.to_string())?;
    if parsed.scheme() != "https" {
        return Err("only https links are allowed".to_string());
    }
    Ok(parsed.host_str().unwrap_or_default().to_string())
}

/// In wasm, without the url crate's code: `view`'s plain parser, which reads
/// every link of the packs alike (a native test holds it to that).
#[cfg(target_arch = "wasm32")]
fn link_host(link: &str) -> Result<String, String> {
    crate::view::plain_https(link)
        .map(|url| url.host)
        .ok_or_else(|| "not a plain https URL".to_string())
}

fn parse_access(def: &AccessMatchDef) -> Result<AccessMatch, RuleProblem> {
    let deny = match def.deny.as_deref() {
        None => None,
        Some("explicit") => Some(DenyKind::Explicit),
        Some("implicit") => Some(DenyKind::Implicit),
        Some(other) => {
            return Err(RuleProblem::BadAccessMatch(format!(
                "deny `{other}` is not explicit or implicit"
            )));
        }
    };
    let policy_type = match def.policy_type.as_deref() {
        None => None,
        Some("unspecified") => Some(PolicyTypeMatch::Unspecified),
        Some(other) => {
            // Through serde, so the names are exactly those the context accepts.
            let names = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(other);
            let parsed = <PolicyType as serde::Deserialize>::deserialize(names).map_err(|_| {
                RuleProblem::BadAccessMatch(format!(
                    "policy_type `{other}` is not a known policy type"
                ))
            })?;
            Some(PolicyTypeMatch::Is(parsed))
        }
    };
    Ok(AccessMatch { deny, policy_type })
}

fn valid_id(id: &str) -> bool {
    let mut parts = id.split('.');
    let first_ok = parts.next().is_some_and(|first| {
        !first.is_empty()
            && first
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let rest: Vec<&str> = parts.collect();
    first_ok
        && !rest.is_empty()
        && rest.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Upper-case ASCII outside escapes (`\B`) and named-group syntax (`(?P<`).
fn has_uppercase(pattern: &str) -> bool {
    let bytes = pattern.replace("(?P<", "(?<");
    let bytes = bytes.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\\' {
            index += 2;
            continue;
        }
        if bytes[index].is_ascii_uppercase() {
            return true;
        }
        index += 1;
    }
    false
}

/// The longest literal that every match of `pattern` contains: a run of plain
/// characters at the top level (outside groups and classes), dropping any
/// character made optional by a quantifier. `None` when the pattern has a
/// top-level alternation or no run of three bytes or more.
fn required_literal(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut best = String::new();
    let mut run = String::new();
    let mut index = 0;
    let finish = |run: &mut String, best: &mut String| {
        if run.len() > best.len() {
            *best = run.clone();
        }
        run.clear();
    };
    while index < chars.len() {
        let c = chars[index];
        let literal = match c {
            '\\' => {
                let escaped = chars.get(index + 1).copied();
                index += 1;
                escaped.filter(|e| !e.is_ascii_alphanumeric())
            }
            '(' | '[' => {
                let (open, close) = if c == '(' { ('(', ')') } else { ('[', ']') };
                let mut depth = 0;
                while index < chars.len() {
                    match chars[index] {
                        '\\' => index += 1,
                        ch if ch == open && (open == '(' || depth == 0) => depth += 1,
                        ch if ch == close => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    index += 1;
                }
                None
            }
            '|' => return None,
            '.' | '^' | '$' | '+' | ')' | ']' => None,
            '?' | '*' | '{' => {
                // The quantified item is optional: a literal before it leaves the run.
                run.pop();
                if c == '{' {
                    while index < chars.len() && chars[index] != '}' {
                        index += 1;
                    }
                }
                None
            }
            other => Some(other),
        };
        let quantified = matches!(chars.get(index + 1), Some('?' | '*' | '{'));
        match literal {
            Some(ch) if !quantified => run.push(ch),
            _ => finish(&mut run, &mut best),
        }
        index += 1;
    }
    finish(&mut run, &mut best);
    (best.len() >= 3).then_some(best)
}

/// A 4096-bit set of the hashed byte trigrams of a text: a cheap first test
/// of whether a literal can occur in it (no false negatives).
struct TrigramSet([u64; 64]);

impl TrigramSet {
    fn of(text: &str) -> TrigramSet {
        let mut bits = [0u64; 64];
        for window in text.as_bytes().windows(3) {
            let hash = trigram_hash(window);
            bits[usize::from(hash >> 6)] |= 1 << (hash & 63);
        }
        TrigramSet(bits)
    }

    fn contains(&self, hash: u16) -> bool {
        self.0[usize::from(hash >> 6)] & (1 << (hash & 63)) != 0
    }
}

fn trigram_hash(window: &[u8]) -> u16 {
    let packed = window
        .iter()
        .fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte));
    // Top 12 bits of a multiplicative hash.
    (packed.wrapping_mul(0x9E37_79B1) >> 20) as u16
}

/// The first, middle and last trigram hashes of a literal.
fn literal_trigrams(literal: &str) -> Vec<u16> {
    let bytes = literal.as_bytes();
    if bytes.len() < 3 {
        return Vec::new();
    }
    let mut starts = vec![0, (bytes.len() - 3) / 2, bytes.len() - 3];
    starts.dedup();
    starts
        .into_iter()
        .map(|start| trigram_hash(&bytes[start..start + 3]))
        .collect()
}

/// The longest word of `literal` with a non-alphanumeric character on both
/// sides inside the literal: any text containing the literal has it as a whole word.
fn interior_word(literal: &str) -> Option<&str> {
    let bytes = literal.as_bytes();
    let mut best: Option<&str> = None;
    let mut start = None;
    for (index, byte) in bytes.iter().enumerate() {
        if byte.is_ascii_alphanumeric() {
            if start.is_none() {
                start = Some(index);
            }
        } else {
            if let Some(begin) = start.take()
                && begin > 0
                && best.is_none_or(|best| index - begin > best.len())
            {
                best = literal.get(begin..index);
            }
        }
    }
    best
}

/// Whether `pattern` matches exactly the text `literal` and nothing else.
fn is_plain_literal(pattern: &str, literal: &str) -> bool {
    let mut unescaped = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if !escaped.is_ascii_alphanumeric() => unescaped.push(escaped),
                _ => return false,
            },
            '.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' => {
                return false;
            }
            other => unescaped.push(other),
        }
    }
    unescaped == literal
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::required_literal;

    #[test]
    fn required_literals_are_really_required() {
        let cases = [
            (
                "bucket(?: you tried to delete)? is not empty",
                Some(" is not empty"),
            ),
            ("the image id .* does not exist", Some(" does not exist")),
            (
                "cannot find version [0-9][0-9a-z._-]* for [a-z-]+",
                Some("cannot find version "),
            ),
            (
                "invalidpermission\\.duplicate",
                Some("invalidpermission.duplicate"),
            ),
            ("access ?denied", Some("access")),
            (
                "requires capabilities ?: ?\\[",
                Some("requires capabilities"),
            ),
            ("a|b", None),
            ("x(?:a|b)y", None),
            ("vpc-[0-9a-f]{8,17}", Some("vpc-")),
            ("abcd{0,1}", Some("abc")),
        ];
        assert!(super::is_plain_literal(
            "invalidpermission\\.duplicate",
            "invalidpermission.duplicate"
        ));
        assert!(!super::is_plain_literal("access ?denied", "access"));
        assert_eq!(super::interior_word(" is not empty"), Some("not"));
        let message = super::TrigramSet::of("an error: the bucket is not empty");
        assert!(
            super::literal_trigrams("bucket is not")
                .iter()
                .all(|t| message.contains(*t))
        );
        assert!(
            !super::literal_trigrams("vcpulimit")
                .iter()
                .all(|t| message.contains(*t))
        );
        assert_eq!(
            super::interior_word("buckets must be empty before they"),
            Some("before")
        );
        assert_eq!(super::interior_word("bucketnotempty"), None);
        assert_eq!(
            super::interior_word("cannot find version "),
            Some("version")
        );
        for (pattern, expected) in cases {
            assert_eq!(required_literal(pattern).as_deref(), expected, "{pattern}");
        }
    }
}

#[cfg(test)]
mod runtime_parity {
    use super::KnowledgeBase;
    use crate::{Redactor, Snapshot, interpret};

    /// The runtime cut must give byte-identical analyses: every fixture through
    /// extraction, and the same words reversed without URL or code, which most
    /// rules do not match (the similarity path for unknown errors).
    #[test]
    fn the_runtime_cut_analyses_exactly_like_the_full_packs() {
        let full = KnowledgeBase::builtin().expect("the full packs load");
        let runtime = KnowledgeBase::builtin_runtime().expect("the runtime cut loads");
        let ids = |kb: &KnowledgeBase| -> Vec<(String, String, Vec<String>)> {
            kb.rules()
                .map(|rule| (rule.id.into(), rule.pack.into(), rule.services.to_vec()))
                .collect()
        };
        assert_eq!(ids(&full), ids(&runtime));
        // The wasm checks and vets doc links with the plain parser: it must read them all.
        let docs = full
            .rules
            .iter()
            .flat_map(|rule| &rule.docs)
            .map(|doc| doc.url.clone());
        let step_links = full
            .rules
            .iter()
            .flat_map(|rule| &rule.steps)
            .filter_map(|step| step.link.as_ref())
            .filter_map(|link| link.render(&super::sample_value, super::Escape::Url));
        for link in docs.chain(step_links) {
            let plain = crate::view::plain_https(&link);
            assert!(plain.is_some(), "{link}");
            assert_eq!(plain, crate::view::whatwg_https(&link), "{link}");
        }
        let mut checked = 0;
        let mut unknown = 0;
        for rule in full.rules() {
            for fixture in rule.fixtures {
                let reversed: Vec<&str> = fixture.message.split(' ').rev().collect();
                let snapshots = [
                    Snapshot {
                        url: fixture.url.clone(),
                        content: fixture.message.clone(),
                        nav_user_label: fixture.role.clone(),
                        ..Snapshot::default()
                    },
                    Snapshot {
                        content: reversed.join(" "),
                        ..Snapshot::default()
                    },
                ];
                for snapshot in snapshots {
                    let context = interpret(&snapshot, &Redactor::default());
                    let expected = full.analyze(&context);
                    let actual = runtime.analyze(&context);
                    unknown += usize::from(expected.rule.is_none());
                    checked += 1;
                    assert_eq!(
                        serde_json::to_string(&actual).ok(),
                        serde_json::to_string(&expected).ok(),
                        "{} on {:?}",
                        rule.id,
                        snapshot.content
                    );
                }
            }
        }
        assert!(
            checked > 100 && unknown > 10,
            "{checked} checked, {unknown} unknown"
        );
    }
}
