//! `${VAR}` interpolation of config strings from the environment (`$${` is a literal `${`).

use serde_json::Value;

/// Replace `${VAR}` in `input` with values from `env`. `$${` is a literal `${`.
/// Returns the names of missing variables as the error.
pub fn interpolate(
    input: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(input.len());
    let mut missing = Vec::new();
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(stripped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = stripped;
        } else if let Some(body) = after.strip_prefix("${") {
            match body.find('}') {
                Some(end) => {
                    let name = &body[..end];
                    match env(name) {
                        Some(v) => out.push_str(&v),
                        None => missing.push(name.to_owned()),
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str(after);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// [`interpolate`] every string inside `value` (lists included); the error lists every missing
/// variable.
pub(crate) fn interpolate_value(
    value: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, Vec<String>> {
    match value {
        Value::String(s) => interpolate(&s, env).map(Value::String),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut missing = Vec::new();
            for item in items {
                match interpolate_value(item, env) {
                    Ok(v) => out.push(v),
                    Err(mut m) => missing.append(&mut m),
                }
            }
            if missing.is_empty() {
                Ok(Value::Array(out))
            } else {
                Err(missing)
            }
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_reports_missing_vars_and_keeps_escapes() {
        let env = |k: &str| (k == "A").then(|| "1".to_owned());
        assert_eq!(interpolate("x${A}y$${B}", &env), Ok("x1y${B}".into()));
        assert_eq!(
            interpolate("${B}${C}", &env),
            Err(vec!["B".into(), "C".into()])
        );
    }
}
