//! Reads the final stage of a Dockerfile: the files it copies in and the
//! run-time config it sets. Only what a `FROM scratch` stage of ours uses is
//! understood; anything else in the final stage (`RUN`, `ADD`, a base image
//! other than `scratch`) is refused by name, because it could not be
//! reproduced without a builder. Pure: text in, [`FinalStage`] out.

use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeMap;

/// One `COPY` of the final stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    /// `--from=<stage>`, or `None` for the build context.
    pub from: Option<String>,
    /// The source path, as written.
    pub source: String,
    /// The destination path in the image (absolute).
    pub dest: String,
}

/// What the final stage of a Dockerfile puts in an image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinalStage {
    /// Files copied in, in order.
    pub copies: Vec<Copy>,
    /// `USER`.
    pub user: Option<String>,
    /// `ENTRYPOINT` (exec form).
    pub entrypoint: Vec<String>,
    /// `CMD` (exec form).
    pub cmd: Vec<String>,
    /// `LABEL`s.
    pub labels: BTreeMap<String, String>,
    /// `ENV`s.
    pub env: BTreeMap<String, String>,
    /// `EXPOSE`d ports, as written (`8080`, `53/udp`).
    pub exposed: Vec<String>,
}

impl FinalStage {
    /// The image's file paths (no leading `/`), in copy order.
    pub fn files(&self) -> Vec<String> {
        self.copies
            .iter()
            .map(|copy| copy.dest.trim_start_matches('/').to_owned())
            .collect()
    }
}

/// Parses the final stage of `text`.
pub fn parse(text: &str) -> Result<FinalStage> {
    let instructions = instructions(text);
    let start = instructions
        .iter()
        .rposition(|(keyword, _)| keyword == "FROM")
        .context("the Dockerfile has no FROM")?;
    let base = instructions[start]
        .1
        .split_whitespace()
        .next()
        .unwrap_or("");
    ensure!(
        base == "scratch",
        "the final stage starts FROM {base}; only FROM scratch can be built without a registry"
    );
    let mut stage = FinalStage::default();
    for (keyword, args) in &instructions[start + 1..] {
        match keyword.as_str() {
            "COPY" => stage.copies.push(copy(args)?),
            "USER" => stage.user = Some(args.trim().to_owned()),
            "ENTRYPOINT" => stage.entrypoint = exec_form(keyword, args)?,
            "CMD" => stage.cmd = exec_form(keyword, args)?,
            "LABEL" => stage.labels.extend(pairs(args)?),
            "ENV" => stage.env.extend(pairs(args)?),
            "EXPOSE" => stage
                .exposed
                .extend(args.split_whitespace().map(str::to_owned)),
            other => bail!("{other} in the final stage cannot be built without a builder"),
        }
    }
    Ok(stage)
}

/// Instructions as (upper-case keyword, arguments), continuation lines
/// joined, comments and blank lines dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((current.as_str(), ""));
        out.push((keyword.to_ascii_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    out
}

fn copy(args: &str) -> Result<Copy> {
    let mut from = None;
    let mut paths = Vec::new();
    for word in args.split_whitespace() {
        if let Some(stage) = word.strip_prefix("--from=") {
            from = Some(stage.to_owned());
        } else if word.starts_with("--") {
            bail!("COPY {word} is not supported here");
        } else {
            paths.push(word.to_owned());
        }
    }
    let [source, dest] = <[String; 2]>::try_from(paths).map_err(|paths| {
        anyhow::anyhow!("COPY takes one source and one destination here, not {paths:?}")
    })?;
    ensure!(
        dest.starts_with('/') && !dest.ends_with('/'),
        "COPY destination {dest} must be an absolute file path"
    );
    ensure!(
        !source.contains(['*', '?']),
        "COPY source {source} must name one file"
    );
    Ok(Copy { from, source, dest })
}

fn exec_form(keyword: &str, args: &str) -> Result<Vec<String>> {
    serde_json::from_str(args)
        .with_context(|| format!("{keyword} must be in exec form (a JSON array), not {args}"))
}

/// `key=value` pairs, values optionally in double quotes.
fn pairs(args: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .with_context(|| format!("expected key=value in {rest}"))?;
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .with_context(|| format!("unterminated quote in {rest}"))?;
            (quoted[..end].to_owned(), &quoted[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        out.push((key.trim().to_owned(), value));
        rest = after.trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_STAGES: &str = r#"
FROM rust AS build
RUN cargo build
COPY x /y

FROM scratch
# a comment
LABEL org.opencontainers.image.title="app" \
      org.opencontainers.image.version=1.0
COPY --from=build /out/app /usr/local/bin/app
COPY config.toml /etc/app.toml
ENV RUST_LOG=info
USER 65532:65532
EXPOSE 8080 53/udp
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["--port", "8080"]
"#;

    #[test]
    fn the_final_stage_is_read_and_earlier_stages_ignored() {
        let stage = parse(TWO_STAGES).expect("no error");
        assert_eq!(
            stage.copies,
            vec![
                Copy {
                    from: Some("build".into()),
                    source: "/out/app".into(),
                    dest: "/usr/local/bin/app".into()
                },
                Copy {
                    from: None,
                    source: "config.toml".into(),
                    dest: "/etc/app.toml".into()
                },
            ]
        );
        assert_eq!(stage.files(), ["usr/local/bin/app", "etc/app.toml"]);
        assert_eq!(stage.user.as_deref(), Some("65532:65532"));
        assert_eq!(stage.entrypoint, ["/usr/local/bin/app"]);
        assert_eq!(stage.cmd, ["--port", "8080"]);
        assert_eq!(stage.labels["org.opencontainers.image.title"], "app");
        assert_eq!(stage.labels["org.opencontainers.image.version"], "1.0");
        assert_eq!(stage.env["RUST_LOG"], "info");
        assert_eq!(stage.exposed, ["8080", "53/udp"]);
    }

    #[test]
    fn a_final_stage_with_a_base_image_is_refused() {
        let error = parse("FROM debian\nCOPY a /a\n").expect_err("an error");
        assert!(error.to_string().contains("FROM debian"), "{error}");
    }

    #[test]
    fn a_run_in_the_final_stage_is_refused_by_name() {
        let error = parse("FROM scratch\nRUN true\n").expect_err("an error");
        assert!(error.to_string().starts_with("RUN"), "{error}");
    }

    #[test]
    fn a_shell_form_entrypoint_is_refused() {
        let error = parse("FROM scratch\nENTRYPOINT /app\n").expect_err("an error");
        assert!(error.to_string().contains("exec form"), "{error}");
    }

    #[test]
    fn a_copy_to_a_folder_is_refused() {
        assert!(parse("FROM scratch\nCOPY a /usr/\n").is_err());
        assert!(parse("FROM scratch\nCOPY a b /usr/x\n").is_err());
        assert!(parse("FROM scratch\nCOPY --chown=1 a /x\n").is_err());
    }
}
