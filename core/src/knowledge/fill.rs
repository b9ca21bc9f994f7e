//! Rule templates: `{{key}}`, `{{key|fallback}}`, and sections
//! `{{#key}}...{{/key}}` (rendered when `key` has a value) and
//! `{{^key}}...{{/key}}` (rendered when it has none). Templates are parsed
//! once at load so rendering is a walk over nodes, and so validation can
//! prove that no text field can ever show a placeholder.

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Value {
        key: String,
        fallback: Option<String>,
    },
    Section {
        key: String,
        when_present: bool,
        body: Vec<Node>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    nodes: Vec<Node>,
}

/// How a value is written into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Text,
    /// A shell word: quoted unless it is made of characters the shell leaves alone.
    Shell,
    /// Inside a JSON string literal.
    Json,
    /// Inside a URL path or query.
    Url,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut stack: Vec<(String, bool, Vec<Node>)> = Vec::new();
        let mut nodes: Vec<Node> = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                push_text(current(&mut stack, &mut nodes), &rest[..start]);
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed '{{{{' at `{}`", excerpt(&rest[start..])))?;
            let tag = &after[..end];
            rest = &after[end + 2..];
            if let Some(key) = tag.strip_prefix('#').or_else(|| tag.strip_prefix('^')) {
                check_key(key)?;
                stack.push((key.to_string(), tag.starts_with('#'), Vec::new()));
            } else if let Some(key) = tag.strip_prefix('/') {
                let (open, when_present, body) = stack
                    .pop()
                    .ok_or_else(|| format!("`{{{{/{key}}}}}` closes no section"))?;
                if open != key {
                    return Err(format!("section `{open}` is closed by `{{{{/{key}}}}}`"));
                }
                current(&mut stack, &mut nodes).push(Node::Section {
                    key: open,
                    when_present,
                    body,
                });
            } else {
                let (key, fallback) = match tag.split_once('|') {
                    Some((key, fallback)) => (key, Some(fallback.to_string())),
                    None => (tag, None),
                };
                check_key(key)?;
                if let Some(fallback) = &fallback
                    && (fallback.contains('{') || fallback.contains('}'))
                {
                    return Err(format!("fallback of `{key}` contains a brace"));
                }
                current(&mut stack, &mut nodes).push(Node::Value {
                    key: key.to_string(),
                    fallback,
                });
            }
        }
        if rest.contains("}}") {
            return Err(format!("stray '}}}}' at `{}`", excerpt(rest)));
        }
        if !rest.is_empty() {
            push_text(current(&mut stack, &mut nodes), rest);
        }
        if let Some((key, _, _)) = stack.last() {
            return Err(format!("section `{key}` is never closed"));
        }
        Ok(Template { nodes })
    }

    /// Every key the template reads.
    pub fn keys(&self) -> BTreeSet<&str> {
        let mut keys = BTreeSet::new();
        collect_keys(&self.nodes, &mut keys);
        keys
    }

    /// Keys used as a bare `{{key}}` outside a `{{#key}}` section of the same key:
    /// in a text field those could leave the output incomplete.
    pub fn unguarded_keys(&self) -> BTreeSet<&str> {
        let mut keys = BTreeSet::new();
        collect_unguarded(&self.nodes, &mut Vec::new(), &mut keys);
        keys
    }

    /// Renders the template; `None` when a bare `{{key}}` has no value (the
    /// field is then left out rather than shown incomplete).
    pub fn render<'a, F>(&self, lookup: &F, escape: Escape) -> Option<String>
    where
        F: Fn(&str) -> Option<std::borrow::Cow<'a, str>>,
    {
        let mut out = String::new();
        render_nodes(&self.nodes, lookup, escape, &mut out)?;
        Some(out)
    }

    /// The template's literal text, for the similarity index.
    pub fn literal_text(&self) -> String {
        let mut out = String::new();
        collect_text(&self.nodes, &mut out);
        out
    }
}

fn current<'s>(
    stack: &'s mut [(String, bool, Vec<Node>)],
    nodes: &'s mut Vec<Node>,
) -> &'s mut Vec<Node> {
    match stack.last_mut() {
        Some((_, _, body)) => body,
        None => nodes,
    }
}

fn push_text(nodes: &mut Vec<Node>, text: &str) {
    if let Some(Node::Text(previous)) = nodes.last_mut() {
        previous.push_str(text);
    } else {
        nodes.push(Node::Text(text.to_string()));
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let valid = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{key}` is not a template key (lowercase letters, digits, '_')"
        ))
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

fn collect_keys<'t>(nodes: &'t [Node], keys: &mut BTreeSet<&'t str>) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Value { key, .. } => {
                keys.insert(key);
            }
            Node::Section { key, body, .. } => {
                keys.insert(key);
                collect_keys(body, keys);
            }
        }
    }
}

fn collect_unguarded<'t>(
    nodes: &'t [Node],
    guards: &mut Vec<&'t str>,
    keys: &mut BTreeSet<&'t str>,
) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Value { key, fallback } => {
                if fallback.is_none() && !guards.contains(&key.as_str()) {
                    keys.insert(key);
                }
            }
            Node::Section {
                key,
                when_present,
                body,
            } => {
                if *when_present {
                    guards.push(key);
                    collect_unguarded(body, guards, keys);
                    guards.pop();
                } else {
                    collect_unguarded(body, guards, keys);
                }
            }
        }
    }
}

fn collect_text(nodes: &[Node], out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => {
                out.push_str(text);
                out.push(' ');
            }
            Node::Value { fallback, .. } => {
                if let Some(fallback) = fallback {
                    out.push_str(fallback);
                    out.push(' ');
                }
            }
            Node::Section { body, .. } => collect_text(body, out),
        }
    }
}

fn render_nodes<'a, F>(nodes: &[Node], lookup: &F, escape: Escape, out: &mut String) -> Option<()>
where
    F: Fn(&str) -> Option<std::borrow::Cow<'a, str>>,
{
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Value { key, fallback } => match lookup(key) {
                Some(value) => write_escaped(&value, escape, out),
                None => out.push_str(fallback.as_deref()?),
            },
            Node::Section {
                key,
                when_present,
                body,
            } => {
                if lookup(key).is_some() == *when_present {
                    render_nodes(body, lookup, escape, out)?;
                }
            }
        }
    }
    Some(())
}

fn write_escaped(value: &str, escape: Escape, out: &mut String) {
    match escape {
        Escape::Text => out.push_str(value),
        Escape::Shell => {
            let plain = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-./:@=+,%".contains(&b));
            if plain {
                out.push_str(value);
            } else {
                out.push('\'');
                out.push_str(&value.replace('\'', r"'\''"));
                out.push('\'');
            }
        }
        Escape::Json => {
            let quoted = serde_json::to_string(value).unwrap_or_default();
            out.push_str(quoted.trim_matches('"'));
        }
        Escape::Url => {
            for byte in value.bytes() {
                if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                    out.push(char::from(byte));
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn lookup(key: &str) -> Option<Cow<'static, str>> {
        match key {
            "bucket" => Some(Cow::Borrowed("my-bucket")),
            "odd" => Some(Cow::Borrowed("a b'c")),
            _ => None,
        }
    }

    #[test]
    fn renders_values_fallbacks_and_sections() {
        let template =
            Template::parse("{{bucket|x}} {{gone|the thing}}{{#bucket}} has {{bucket}}{{/bucket}}{{^gone}}!{{/gone}}")
                .unwrap();
        assert_eq!(
            template.render(&lookup, Escape::Text).as_deref(),
            Some("my-bucket the thing has my-bucket!")
        );
        assert!(template.unguarded_keys().is_empty());
    }

    #[test]
    fn bare_missing_value_omits_the_field() {
        let template = Template::parse("aws s3 rm s3://{{gone}}").unwrap();
        assert_eq!(template.render(&lookup, Escape::Shell), None);
        assert_eq!(
            template.unguarded_keys().into_iter().collect::<Vec<_>>(),
            vec!["gone"]
        );
        let quoted = Template::parse("x {{odd}}")
            .unwrap()
            .render(&lookup, Escape::Shell);
        assert_eq!(quoted.as_deref(), Some(r"x 'a b'\''c'"));
    }

    #[test]
    fn rejects_broken_templates() {
        for bad in [
            "{{bucket",
            "{{#a}}x",
            "{{/a}}",
            "{{#a}}{{/b}}",
            "{{Bad}}",
            "x }} y",
            "{{a|{b}}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
