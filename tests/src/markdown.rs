//! The fenced YAML blocks of a Markdown page, so tests can apply what the
//! README and the guides tell people to apply.

/// The contents of every ```` ```yaml ```` block of `markdown`, in order.
pub fn yaml_blocks(markdown: &str) -> Vec<String> {
    markdown
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yaml_blocks_are_taken_whole() {
        let page = "# Title\n```yaml\na: 1\n```\ntext\n```sh\nls\n```\n```yaml\nb: 2\nc: 3\n```\n";
        assert_eq!(yaml_blocks(page), ["a: 1\n", "b: 2\nc: 3\n"]);
    }
}
