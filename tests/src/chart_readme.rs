//! The chart's README, written from the comments in its `values.yaml`, so
//! the list of values a platform team reads is never behind the values the
//! chart takes.
//!
//! A comment block that starts with `# -- ` documents the key right below
//! it; a key under a documented map is covered by its parent's line. Other
//! comments (section notes) stay in `values.yaml` only. The defaults come
//! from parsing the file, not from the comment.

use anyhow::{Context, Result, bail};

/// Where the generated README says it comes from.
pub const GENERATED_BY: &str = "cargo run -p portcullis-e2e --bin chart-readme";

/// One documented value: its dotted key, default (JSON) and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentedValue {
    /// Dotted path, e.g. `webhook.timeoutSeconds`.
    pub key: String,
    /// The default as compact JSON.
    pub default: String,
    /// The `# -- ` comment, joined into one line.
    pub description: String,
}

/// The values documented in `values_yaml`, in file order.
pub fn documented_values(values_yaml: &str) -> Result<Vec<DocumentedValue>> {
    let parsed: serde_yaml::Value = serde_yaml::from_str(values_yaml)?;
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<Vec<String>> = None;
    let mut found = Vec::new();
    for line in values_yaml.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(text) = trimmed.strip_prefix("# -- ") {
            pending = Some(vec![text.trim().to_owned()]);
            continue;
        }
        if let Some(text) = trimmed.strip_prefix('#') {
            if let Some(lines) = pending.as_mut() {
                lines.push(text.trim().to_owned());
            }
            continue;
        }
        let Some(key) = key_of(trimmed) else {
            pending = None;
            continue;
        };
        path.retain(|(depth, _)| *depth < indent);
        path.push((indent, key.to_owned()));
        if let Some(lines) = pending.take() {
            let keys: Vec<&str> = path.iter().map(|(_, key)| key.as_str()).collect();
            let default = lookup(&parsed, &keys)
                .with_context(|| format!("{} is not in the parsed values", keys.join(".")))?;
            found.push(DocumentedValue {
                key: keys.join("."),
                default: serde_json::to_string(&default)?,
                description: lines.join(" "),
            });
        }
    }
    Ok(found)
}

/// The key a `key: value` line starts with.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    plain.then_some(key)
}

fn lookup(values: &serde_yaml::Value, keys: &[&str]) -> Option<serde_yaml::Value> {
    keys.iter()
        .try_fold(values, |value, key| value.get(*key))
        .cloned()
}

/// Every leaf of `values_yaml` (a scalar, a list, an empty map) that no
/// documented key covers, itself or through a parent.
pub fn undocumented_leaves(values_yaml: &str) -> Result<Vec<String>> {
    let parsed: serde_yaml::Value = serde_yaml::from_str(values_yaml)?;
    let documented = documented_values(values_yaml)?;
    let covered = |leaf: &str| {
        documented
            .iter()
            .any(|value| leaf == value.key || leaf.starts_with(&format!("{}.", value.key)))
    };
    let mut leaves = Vec::new();
    collect_leaves(&parsed, String::new(), &mut leaves);
    Ok(leaves.into_iter().filter(|leaf| !covered(leaf)).collect())
}

fn collect_leaves(value: &serde_yaml::Value, prefix: String, into: &mut Vec<String>) {
    match value.as_mapping() {
        Some(map) if !map.is_empty() => {
            for (key, child) in map {
                let key = key.as_str().unwrap_or_default();
                let path = if prefix.is_empty() {
                    key.to_owned()
                } else {
                    format!("{prefix}.{key}")
                };
                collect_leaves(child, path, into);
            }
        }
        _ => into.push(prefix),
    }
}

/// The README for the chart whose values are `values_yaml`.
pub fn render(values_yaml: &str) -> Result<String> {
    let values = documented_values(values_yaml)?;
    if values.is_empty() {
        bail!("values.yaml documents no value (`# -- ` comments)");
    }
    let mut out = format!(
        "<!-- Generated from values.yaml by `{GENERATED_BY}`; edit the comments there. -->\n\
         # The Portcullis chart\n\n\
         Installs the Portcullis operator: the `OidcSettings` CRD, the operator \
         Deployment with its RBAC, and the webhook that injects the sidecar into \
         pods labelled `portcullis.dev/inject: <OidcSettings name>`. The \
         walk-through is the project README's *Kubernetes quickstart*.\n\n\
         ```sh\n\
         helm install portcullis charts/portcullis --namespace portcullis --create-namespace\n\
         ```\n\n\
         Every key is checked by `values.schema.json`: a misspelled key or a \
         wrong type fails the install naming the field.\n\n\
         ## Values\n\n\
         | Key | Default | Description |\n|---|---|---|\n"
    );
    for value in values {
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            value.key,
            value.default.replace('|', "\\|"),
            value.description.replace('|', "\\|")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: &str = "\
# A section note, not a value.
image:
  # -- Repository of the image.
  repository: localhost/app
  tag: \"\"
# -- Resources,
# requests and limits.
resources:
  limits: {memory: 64Mi}
plain: 1
";

    #[test]
    fn a_dash_comment_documents_the_key_below_it_with_its_parsed_default() {
        let found = documented_values(VALUES).expect("parses");
        assert_eq!(
            found,
            [
                DocumentedValue {
                    key: "image.repository".into(),
                    default: "\"localhost/app\"".into(),
                    description: "Repository of the image.".into(),
                },
                DocumentedValue {
                    key: "resources".into(),
                    default: "{\"limits\":{\"memory\":\"64Mi\"}}".into(),
                    description: "Resources, requests and limits.".into(),
                },
            ]
        );
    }

    #[test]
    fn leaves_without_a_documented_key_or_parent_are_named() {
        assert_eq!(
            undocumented_leaves(VALUES).expect("parses"),
            ["image.tag", "plain"]
        );
    }
}
