//! Chain specs: `node[,node…]` where a node is `name` or `name(key=value;key=value)`.
//!
//! # What
//! The textual form of a linear processing chain used by `tutti process --chain`, `tutti live`, the
//! conference's per-leg DSP and the C ABI, e.g. `hpf,aec(tail_ms=500),ns(level=high),agc(target_dbfs=-18)`.
//!
//! # How
//! A small hand-written scanner: nodes are separated by commas outside parentheses; arguments inside the
//! parentheses are separated by `;`. Every error quotes the offending token and its byte offset. Names and
//! keys are checked against the node registry by [`resolve`].

use std::fmt;

use tutti_engine::NodeType;

/// One node of a parsed chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Node type name.
    pub name: String,
    /// `key=value` arguments in order.
    pub args: Vec<(String, String)>,
    /// The node's text as written (for error messages).
    pub text: String,
}

/// A chain-spec error, quoting the offending token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainError {
    /// The token at fault.
    pub token: String,
    /// Byte offset of the token in the spec.
    pub offset: usize,
    /// What is wrong.
    pub detail: String,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chain spec: '{}' (at byte {}): {}",
            self.token, self.offset, self.detail
        )
    }
}

impl std::error::Error for ChainError {}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Parses a chain spec into node specs (syntax only; see [`resolve`] for names and arguments).
pub fn parse(spec: &str) -> Result<Vec<NodeSpec>, ChainError> {
    let err = |token: &str, offset: usize, detail: &str| ChainError {
        token: token.to_string(),
        offset,
        detail: detail.to_string(),
    };
    if spec.trim().is_empty() {
        return Err(err(spec, 0, "empty chain"));
    }
    // Split at top-level commas.
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in spec.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(err(&spec[start..=i], start, "unbalanced ')'"));
                }
            }
            ',' if depth == 0 => {
                parts.push((start, &spec[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(err(&spec[start..], start, "missing ')'"));
    }
    parts.push((start, &spec[start..]));

    let mut nodes = Vec::new();
    for (off, raw) in parts {
        let lead = raw.len() - raw.trim_start().len();
        let text = raw.trim();
        let off = off + lead;
        if text.is_empty() {
            return Err(err(
                raw,
                off,
                "empty node (two commas in a row, or a trailing comma)",
            ));
        }
        let (name, args_text) = match text.find('(') {
            Some(p) => {
                if !text.ends_with(')') {
                    return Err(err(text, off, "text after ')'"));
                }
                (
                    text[..p].trim(),
                    Some((off + p + 1, &text[p + 1..text.len() - 1])),
                )
            }
            None => (text, None),
        };
        if !is_ident(name) {
            return Err(err(name, off, "not a node name"));
        }
        if name.contains('.') {
            return Err(err(name, off, "not a node name"));
        }
        let mut args = Vec::new();
        if let Some((aoff, body)) = args_text {
            if body.contains('(') || body.contains(')') {
                return Err(err(body, aoff, "nested parentheses"));
            }
            let mut pos = aoff;
            let items: Vec<&str> = body.split(';').collect();
            for (n, item) in items.iter().enumerate() {
                let item_off = pos + (item.len() - item.trim_start().len());
                pos += item.len() + 1;
                let item = item.trim();
                if item.is_empty() {
                    // `name()` and a trailing `;` are allowed; an empty argument in between is not.
                    if n + 1 == items.len() {
                        break;
                    }
                    return Err(err(item, item_off, "empty argument"));
                }
                let Some((k, v)) = item.split_once('=') else {
                    return Err(err(item, item_off, "expected key=value"));
                };
                let (k, v) = (k.trim(), v.trim());
                if !is_ident(k) || k.contains('.') {
                    return Err(err(k, item_off, "not a parameter name"));
                }
                if v.is_empty() {
                    return Err(err(item, item_off, "missing value"));
                }
                if args.iter().any(|(a, _): &(String, String)| a == k) {
                    return Err(err(item, item_off, "parameter given twice"));
                }
                args.push((k.to_string(), v.to_string()));
            }
        }
        nodes.push(NodeSpec {
            name: name.to_string(),
            args,
            text: text.to_string(),
        });
    }
    Ok(nodes)
}

/// Looks up every node of `chain` in `types`, quoting the node's text in the error.
pub fn resolve(chain: &[NodeSpec], types: &[NodeType]) -> Result<Vec<NodeType>, String> {
    chain
        .iter()
        .map(|n| {
            types.iter().find(|t| t.name == n.name).copied().ok_or_else(|| {
                format!(
                    "chain spec: '{}': unknown node type '{}' (see `tutti nodes`)",
                    n.text, n.name
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_example() {
        let c = parse("hpf,aec(tail_ms=500),ns(level=high),agc(target_dbfs=-18)").unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(c[1].name, "aec");
        assert_eq!(c[1].args, vec![("tail_ms".to_string(), "500".to_string())]);
        assert_eq!(c[3].args[0].1, "-18");
        let c = parse(" gain( db = -6 ; ) , delay(ms=25)").unwrap();
        assert_eq!(c[0].args, vec![("db".to_string(), "-6".to_string())]);
        assert_eq!(c[0].text, "gain( db = -6 ; )");
    }

    #[test]
    fn errors_quote_the_token() {
        let cases = [
            ("", ""),
            ("hpf,,gain", ""),
            ("hpf(hz=100", "hpf(hz=100"),
            ("gain(;db=1)", ""),
            ("hpf)hz", "hpf)"),
            ("hpf(hz)", "hz"),
            ("hpf(hz=)", "hz="),
            ("hpf(1x=3)", "1x"),
            ("9pf", "9pf"),
            ("gain(db=1;db=2)", "db=2"),
            ("gain(db=1)x", "gain(db=1)x"),
            ("hpf,", ""),
        ];
        for (spec, token) in cases {
            let e = parse(spec).unwrap_err();
            assert_eq!(e.token, token, "spec {spec:?}: {e}");
            assert!(e.to_string().contains(&format!("'{token}'")));
        }
    }
}
