//! The source text of a macro's input as the user wrote it, recorded at compile time so that
//! programs can show their real code to the prompt model (DSPy's `inspect.getsource`).
//!
//! `proc_macro` gives the text of each token as written (a group's text is its whole body,
//! comments and formatting included) and where it starts and ends; the text between top-level
//! tokens is rebuilt from those positions. This uses `proc_macro` directly: `proc_macro2`
//! reports positions only with its `span-locations` feature.

use proc_macro::{Spacing, TokenStream, TokenTree};

/// The text of `tokens` as written, its common indentation removed; `None` when the compiler
/// has no text for them (e.g. tokens made by another macro).
pub fn text(tokens: TokenStream) -> Option<String> {
    let mut out = String::new();
    let mut last_end: Option<(usize, usize)> = None;
    for tree in tokens {
        let span = tree.span();
        let text = span.source_text()?;
        let (start, end) = (span.start(), span.end());
        let (start, end) = ((start.line(), start.column()), (end.line(), end.column()));
        match last_end {
            // A doc comment is `#` and `[doc = ".."]`, both spanning the comment.
            Some(last) if start < last => continue,
            // One line break at most: the line of the macro's own attribute is not in the input.
            Some(last) if start.0 > last.0 => {
                out.push('\n');
                out.push_str(&" ".repeat(start.1.saturating_sub(1)));
            }
            Some(last) => out.push_str(&" ".repeat(start.1 - last.1)),
            None => out.push_str(&" ".repeat(start.1.saturating_sub(1))),
        }
        out.push_str(&text);
        last_end = Some(end);
    }
    (!out.trim().is_empty()).then(|| dedent(&out))
}

/// The text of each `;`-separated item of `tokens` (the item form of `signature!`).
pub fn items(tokens: TokenStream) -> Vec<Option<String>> {
    let mut items = Vec::new();
    let mut current = Vec::new();
    for tree in tokens {
        if matches!(&tree, TokenTree::Punct(p) if p.as_char() == ';' && p.spacing() == Spacing::Alone) {
            items.push(text(std::mem::take(&mut current).into_iter().collect()));
        } else {
            current.push(tree);
        }
    }
    if !current.is_empty() {
        items.push(text(current.into_iter().collect()));
    }
    items
}

/// `textwrap.dedent`: removes the indentation all non-blank lines share.
fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines().map(|l| l.get(indent..).unwrap_or(l.trim_start())).collect::<Vec<_>>().join("\n")
}
