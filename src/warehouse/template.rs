//! The one template renderer for every statement under `sql/`.
//!
//! Placeholders are written `{name}`. A line holding only a placeholder that renders empty is
//! dropped (optional clauses such as `REGION` or Redshift's table attributes); an unknown
//! placeholder is left in place (templates are compiled in, so that is a bug, caught by the
//! golden and `no_placeholder_left` tests) rather than panicking at run time.

/// Fills `{name}` placeholders of `template` from `vars`.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    for line in template.split_inclusive('\n') {
        let rendered = render_line(line, vars);
        let trimmed = line.trim();
        let only_placeholder =
            trimmed.starts_with('{') && trimmed.ends_with('}') && trimmed.matches('{').count() == 1;
        if only_placeholder && rendered.trim().is_empty() {
            continue;
        }
        out.push_str(&rendered);
    }
    out
}

fn render_line(line: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match vars.iter().find(|(k, _)| *k == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_keeps_unknown() {
        assert_eq!(render("{a}-{b}-{c", &[("a", "1"), ("b", "2")]), "1-2-{c");
        assert_eq!(render("x{zz}y", &[]), "x{zz}y");
    }

    #[test]
    fn drops_empty_optional_lines() {
        let t = "COPY x\n{region}\nMAXERROR {n};\n{unknown}\n";
        assert_eq!(
            render(t, &[("region", ""), ("n", "3")]),
            "COPY x\nMAXERROR 3;\n{unknown}\n"
        );
    }
}
