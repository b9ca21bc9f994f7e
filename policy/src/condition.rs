//! The `Condition` element: operators, set qualifiers, `…IfExists`, missing-key rules.

use crate::document::{kind, string_values};
use crate::pattern::{Pattern, Syntax, VariableSource, split_arn_pattern};
use serde_json::Value;
use std::net::IpAddr;

/// Request context as conditions see it: lower-case key → values.
pub(crate) trait ContextSource: VariableSource {
    fn values(&self, key: &str) -> Option<&[String]>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Comparison),
    Date(Comparison),
    Bool,
    Binary,
    IpAddress,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, PartialEq)]
enum PolicyValue {
    Text(Pattern),
    Arn(ArnPattern),
    Number(f64),
    Date(i128),
    Bool(bool),
    Ip(IpNetwork),
    /// A typed value written with policy variables: resolved, then parsed, per request.
    Deferred(Pattern),
}

#[derive(Debug, Clone, PartialEq)]
struct ArnPattern {
    whole: Pattern,
    /// The six colon-separated segments, each matched on its own (as `ArnLike` documents).
    segments: Option<Vec<Pattern>>,
    colon_free: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

/// One operator applied to one key, e.g. `StringLike` on `s3:prefix`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    family: Family,
    negated: bool,
    if_exists: bool,
    set: SetQualifier,
    /// Lower-case: condition key names are case-insensitive.
    key: String,
    values: Vec<PolicyValue>,
}

/// Parses a statement's `Condition` object.
pub(crate) fn parse_block(block: &Value, variables: bool) -> Result<Vec<Condition>, String> {
    let Value::Object(operators) = block else {
        return Err(format!("Condition must be an object, got {}", kind(block)));
    };
    let mut conditions = Vec::new();
    for (operator, keys) in operators {
        let (family, negated, if_exists, set) = parse_operator(operator)?;
        let Value::Object(keys) = keys else {
            return Err(format!(
                "Condition operator {operator} must map to an object of keys, got {}",
                kind(keys)
            ));
        };
        if keys.is_empty() {
            return Err(format!("Condition operator {operator} has no keys"));
        }
        for (key, raw_values) in keys {
            if key.is_empty() {
                return Err(format!("Condition operator {operator} has an empty key"));
            }
            let texts = string_values(raw_values)
                .map_err(|got| format!("{operator} {key}: values must be strings, numbers or booleans (or a list of them), got {got}"))?;
            if texts.is_empty() {
                return Err(format!("{operator} {key}: empty value list"));
            }
            let values = texts
                .iter()
                .map(|text| parse_value(family, text, variables))
                .collect::<Result<_, _>>()
                .map_err(|reason| format!("{operator} {key}: {reason}"))?;
            conditions.push(Condition {
                family,
                negated,
                if_exists,
                set,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(conditions)
}

fn parse_operator(name: &str) -> Result<(Family, bool, bool, SetQualifier), String> {
    let unknown = || format!("unknown condition operator `{name}`");
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (SetQualifier::ForAllValues, rest)
    } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (SetQualifier::ForAnyValue, rest)
    } else {
        (SetQualifier::None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    use Comparison::*;
    let (family, negated) = match base {
        "StringEquals" => (Family::StringEquals, false),
        "StringNotEquals" => (Family::StringEquals, true),
        "StringEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, true),
        "StringLike" => (Family::StringLike, false),
        "StringNotLike" => (Family::StringLike, true),
        "NumericEquals" => (Family::Numeric(Equal), false),
        "NumericNotEquals" => (Family::Numeric(Equal), true),
        "NumericLessThan" => (Family::Numeric(Less), false),
        "NumericLessThanEquals" => (Family::Numeric(LessOrEqual), false),
        "NumericGreaterThan" => (Family::Numeric(Greater), false),
        "NumericGreaterThanEquals" => (Family::Numeric(GreaterOrEqual), false),
        "DateEquals" => (Family::Date(Equal), false),
        "DateNotEquals" => (Family::Date(Equal), true),
        "DateLessThan" => (Family::Date(Less), false),
        "DateLessThanEquals" => (Family::Date(LessOrEqual), false),
        "DateGreaterThan" => (Family::Date(Greater), false),
        "DateGreaterThanEquals" => (Family::Date(GreaterOrEqual), false),
        "Bool" => (Family::Bool, false),
        "BinaryEquals" => (Family::Binary, false),
        "IpAddress" => (Family::IpAddress, false),
        "NotIpAddress" => (Family::IpAddress, true),
        "ArnEquals" | "ArnLike" => (Family::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
        "Null" if !if_exists => (Family::Null, false),
        _ => return Err(unknown()),
    };
    if family == Family::Null && set != SetQualifier::None {
        return Err(unknown());
    }
    Ok((family, negated, if_exists, set))
}

fn parse_value(family: Family, text: &str, variables: bool) -> Result<PolicyValue, String> {
    let literal_syntax = Syntax {
        wildcards: false,
        variables,
    };
    let wildcard_syntax = Syntax {
        wildcards: true,
        variables,
    };
    // Typed values with variables can only be checked once the variables are known.
    let deferred = || -> Result<Option<PolicyValue>, String> {
        let pattern = Pattern::parse(text, literal_syntax)?;
        Ok(pattern
            .has_variables()
            .then_some(PolicyValue::Deferred(pattern)))
    };
    Ok(match family {
        Family::StringEquals | Family::StringEqualsIgnoreCase | Family::Binary => {
            PolicyValue::Text(Pattern::parse(text, literal_syntax)?)
        }
        Family::StringLike => PolicyValue::Text(Pattern::parse(text, wildcard_syntax)?),
        Family::Arn => PolicyValue::Arn(parse_arn_pattern(text, wildcard_syntax)?),
        Family::Numeric(_) => match deferred()? {
            Some(value) => value,
            None => PolicyValue::Number(
                parse_number(text).ok_or_else(|| format!("`{text}` is not a number"))?,
            ),
        },
        Family::Date(_) => match deferred()? {
            Some(value) => value,
            None => PolicyValue::Date(
                parse_date(text)
                    .ok_or_else(|| format!("`{text}` is not an ISO 8601 date or epoch seconds"))?,
            ),
        },
        Family::Bool | Family::Null => match deferred()? {
            Some(value) => value,
            None => PolicyValue::Bool(
                parse_bool(text).ok_or_else(|| format!("`{text}` is not true or false"))?,
            ),
        },
        Family::IpAddress => match deferred()? {
            Some(value) => value,
            None => PolicyValue::Ip(
                parse_network(text)
                    .ok_or_else(|| format!("`{text}` is not an IP address or CIDR block"))?,
            ),
        },
    })
}

fn parse_arn_pattern(text: &str, syntax: Syntax) -> Result<ArnPattern, String> {
    let parts = split_arn_pattern(text, 6);
    let segments = if parts.len() == 6 {
        Some(
            parts
                .iter()
                .map(|part| Pattern::parse(part, syntax))
                .collect::<Result<_, _>>()?,
        )
    } else {
        None
    };
    Ok(ArnPattern {
        whole: Pattern::parse(text, syntax)?,
        colon_free: parts.len() == 1,
        segments,
    })
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Nanoseconds since the Unix epoch, from epoch seconds or an ISO 8601 date/time.
pub(crate) fn parse_date(text: &str) -> Option<i128> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    use time::{Date, OffsetDateTime, PrimitiveDateTime};
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .map(|s| i128::from(s) * 1_000_000_000);
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at.unix_timestamp_nanos());
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(at.unix_timestamp_nanos());
    }
    // Without an offset AWS reads the time as UTC.
    if let Ok(at) = PrimitiveDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(at.assume_utc().unix_timestamp_nanos());
    }
    Date::parse(text, &Iso8601::DEFAULT)
        .ok()
        .map(|date| date.midnight().assume_utc().unix_timestamp_nanos())
}

fn parse_network(text: &str) -> Option<IpNetwork> {
    let text = text.trim();
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u8>().ok()?
        }
        Some(_) => return None,
    };
    (prefix <= max).then_some(IpNetwork { address, prefix })
}

impl IpNetwork {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.address, ip) {
            // An IPv4-mapped IPv6 request address still belongs to an IPv4 block.
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (_, ip) => ip,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl Condition {
    /// Whether this operator/key pair holds for the request.
    pub(crate) fn holds(&self, context: &dyn ContextSource) -> bool {
        // A value naming a variable the request lacks (and with no default) makes the
        // condition false: the statement does not apply.
        if !self.values.iter().all(|v| value_resolvable(v, context)) {
            return false;
        }
        let request = context.values(&self.key).unwrap_or(&[]);
        if self.family == Family::Null {
            let absent = request.is_empty();
            return self.values.iter().any(|value| match value {
                PolicyValue::Bool(want_absent) => *want_absent == absent,
                PolicyValue::Deferred(p) => p
                    .render(context)
                    .and_then(|t| parse_bool(&t))
                    .is_some_and(|want_absent| want_absent == absent),
                _ => false,
            });
        }
        let present = !request.is_empty();
        match self.set {
            SetQualifier::None => {
                if !present {
                    // Negated operators hold for a missing key, as the condition operator docs state.
                    return self.if_exists || self.negated;
                }
                let any = request.iter().any(|r| self.any_value_matches(r, context));
                any != self.negated
            }
            SetQualifier::ForAnyValue => {
                if !present {
                    return self.if_exists;
                }
                request
                    .iter()
                    .any(|r| self.any_value_matches(r, context) != self.negated)
            }
            SetQualifier::ForAllValues => {
                // An empty set (no key, an empty list, or an empty string) satisfies ForAllValues.
                if !present || (request.len() == 1 && request[0].is_empty()) {
                    return true;
                }
                request
                    .iter()
                    .all(|r| self.any_value_matches(r, context) != self.negated)
            }
        }
    }

    fn any_value_matches(&self, request: &str, context: &dyn ContextSource) -> bool {
        self.values
            .iter()
            .any(|value| self.value_matches(value, request, context))
    }

    fn value_matches(
        &self,
        value: &PolicyValue,
        request: &str,
        context: &dyn ContextSource,
    ) -> bool {
        match (self.family, value) {
            (Family::StringEquals | Family::StringLike | Family::Binary, PolicyValue::Text(p)) => {
                p.matches(request, false, context)
            }
            (Family::StringEqualsIgnoreCase, PolicyValue::Text(p)) => p
                .render(context)
                .is_some_and(|text| text.to_lowercase() == request.to_lowercase()),
            (Family::Arn, PolicyValue::Arn(arn)) => arn_matches(arn, request, context),
            (_, PolicyValue::Deferred(p)) => match p.render(context) {
                Some(text) => match parse_value(self.family, &text, false) {
                    Ok(PolicyValue::Deferred(_)) | Err(_) => false,
                    Ok(resolved) => self.value_matches(&resolved, request, context),
                },
                None => false,
            },
            (Family::Numeric(cmp), PolicyValue::Number(want)) => {
                parse_number(request).is_some_and(|got| compare(got, *want, cmp))
            }
            (Family::Date(cmp), PolicyValue::Date(want)) => {
                parse_date(request).is_some_and(|got| compare(got, *want, cmp))
            }
            (Family::Bool, PolicyValue::Bool(want)) => parse_bool(request) == Some(*want),
            (Family::IpAddress, PolicyValue::Ip(network)) => request
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| network.contains(ip)),
            _ => false,
        }
    }
}

fn value_resolvable(value: &PolicyValue, context: &dyn ContextSource) -> bool {
    match value {
        PolicyValue::Text(p) | PolicyValue::Deferred(p) => p.resolvable(context),
        PolicyValue::Arn(arn) => arn.whole.resolvable(context),
        _ => true,
    }
}

fn arn_matches(arn: &ArnPattern, request: &str, context: &dyn ContextSource) -> bool {
    match &arn.segments {
        Some(segments) => {
            let mut parts = request.splitn(6, ':');
            let all_match = segments.iter().all(|pattern| {
                parts
                    .next()
                    .is_some_and(|part| pattern.matches(part, false, context))
            });
            // Both must have exactly six segments.
            all_match && parts.next().is_none()
        }
        // A value without colons (`*`) is matched whole; a partial ARN matches nothing.
        None if arn.colon_free => arn.whole.matches(request, false, context),
        None => false,
    }
}

fn compare<T: PartialOrd>(got: T, want: T, cmp: Comparison) -> bool {
    match cmp {
        Comparison::Equal => got == want,
        Comparison::Less => got < want,
        Comparison::LessOrEqual => got <= want,
        Comparison::Greater => got > want,
        Comparison::GreaterOrEqual => got >= want,
    }
}
