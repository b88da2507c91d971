//! Field attributes of `#[derive(Signature)]`: `#[input(...)]` and `#[output(...)]`.

use darling::FromMeta;
use darling::ast::NestedMeta;
use syn::{Attribute, Ident, LitStr, Meta};

use crate::ast::{FieldReceiver, Kind};

/// Collects errors so that one expansion reports all of them, as serde and thiserror do.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn handle<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// The arguments of `#[input(...)]` / `#[output(...)]`.
#[derive(Default, FromMeta)]
pub struct FieldArgs {
    /// The description shown in prompts.
    #[darling(default, with = string_literal)]
    pub desc: Option<LitStr>,
    /// The legacy prefix (`Question:`).
    #[darling(default, with = string_literal)]
    pub prefix: Option<LitStr>,
    /// The name in prompts.
    #[darling(default, with = string_literal)]
    pub rename: Option<LitStr>,
}

/// `key = "string"`, with a clearer error than darling's "Unexpected literal type".
fn string_literal(meta: &Meta) -> darling::Result<Option<LitStr>> {
    let key = meta.path().get_ident().map(ToString::to_string).unwrap_or_default();
    let expected = || format!("`{key}` takes a string literal: `{key} = \"...\"`");
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Ok(Some(s.clone())),
            other => Err(darling::Error::custom(expected()).with_span(other)),
        },
        other => Err(darling::Error::custom(expected()).with_span(other)),
    }
}

/// A field's parsed attributes.
pub struct FieldAttrs {
    pub kind: Kind,
    pub args: FieldArgs,
}

/// Reads the `#[input]` / `#[output]` attribute of a field: exactly one must be present.
pub fn field_attrs(field: &FieldReceiver, ident: &Ident) -> syn::Result<FieldAttrs> {
    let mut found: Option<(Kind, FieldArgs)> = None;
    let mut errors = Errors::default();
    for attr in &field.attrs {
        let kind = if attr.path().is_ident("input") {
            Kind::Input
        } else if attr.path().is_ident("output") {
            Kind::Output
        } else {
            continue;
        };
        match &found {
            Some((previous, _)) if *previous == kind => {
                errors.push(syn::Error::new_spanned(attr, format!("duplicate `#[{}]` attribute", kind.attr_name())));
                continue;
            }
            Some(_) => {
                errors.push(syn::Error::new_spanned(
                    attr,
                    format!(
                        "field `{}` cannot be both an input and an output; keep one of `#[input]` and `#[output]`",
                        ident.unraw_name()
                    ),
                ));
                continue;
            }
            None => {}
        }
        if let Some(args) = errors.handle(parse_args(attr)) {
            found = Some((kind, args));
        } else {
            found = Some((kind, FieldArgs::default()));
        }
    }
    errors.finish()?;
    match found {
        Some((kind, args)) => {
            if let Some(rename) = &args.rename
                && rename.value().trim().is_empty()
            {
                return Err(syn::Error::new(rename.span(), "`rename` needs a non-empty field name"));
            }
            Ok(FieldAttrs { kind, args })
        }
        None => Err(syn::Error::new(
            ident.span(),
            format!(
                "field `{}` is neither an input nor an output: mark it `#[input]` or `#[output]`",
                ident.unraw_name()
            ),
        )),
    }
}

fn parse_args(attr: &Attribute) -> syn::Result<FieldArgs> {
    match &attr.meta {
        Meta::Path(_) => Ok(FieldArgs::default()),
        Meta::List(list) => {
            let items = NestedMeta::parse_meta_list(list.tokens.clone())?;
            Ok(FieldArgs::from_list(&items)?)
        }
        Meta::NameValue(nv) => {
            let name = attr.path().get_ident().map(ToString::to_string).unwrap_or_default();
            Err(syn::Error::new_spanned(
                nv,
                format!("expected `#[{name}]` or `#[{name}(desc = \"...\", prefix = \"...\", rename = \"...\")]`"),
            ))
        }
    }
}

trait UnrawName {
    fn unraw_name(&self) -> String;
}

impl UnrawName for Ident {
    fn unraw_name(&self) -> String {
        syn::ext::IdentExt::unraw(self).to_string()
    }
}
