//! Attribute arguments, all read with darling: the field attributes of `#[derive(Signature)]`
//! (`#[input(...)]`, `#[output(...)]`), the options of `signature!` items, `#[module(...)]`,
//! `#[tool(...)]` and `#[arg(...)]`, and the value parsers they share.

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::Flag;
use proc_macro2::TokenStream;
use syn::{Attribute, Expr, Ident, Lit, LitStr, Meta, Path};

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

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
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
    /// An output without gold labels in the data: optional in the generated example type.
    pub unlabeled: Flag,
}

/// `key = "string"`, with a clearer error than darling's "Unexpected literal type".
pub fn string_literal(meta: &Meta) -> darling::Result<Option<LitStr>> {
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

/// `crate = "path"`: where the `dspy` crate is.
pub fn crate_path(meta: &Meta) -> darling::Result<Option<Path>> {
    let message = "`crate` takes the path of the `dspy` crate as a string: `crate = \"::dspy\"`";
    match meta {
        Meta::NameValue(syn::MetaNameValue { value: Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }), .. }) => {
            s.parse::<Path>().map(Some).map_err(|_| darling::Error::custom(message).with_span(s))
        }
        other => Err(darling::Error::custom(message).with_span(other)),
    }
}

/// The path of the `dspy` crate, `::dspy` unless given.
pub fn krate_or_default(krate: Option<Path>) -> Path {
    krate.unwrap_or_else(|| syn::parse_quote!(::dspy))
}

/// `#[signature(crate = "path")]` on a `signature!` item.
#[derive(Default, FromMeta)]
pub struct ItemArgs {
    #[darling(rename = "crate", default, with = crate_path)]
    pub krate: Option<Path>,
}

/// `#[module(crate = "path", no_clone)]`.
#[derive(Default, FromMeta)]
pub struct ModuleArgs {
    #[darling(rename = "crate", default, with = crate_path)]
    pub krate: Option<Path>,
    /// Do not derive `Clone`.
    pub no_clone: Flag,
}

/// `#[tool(name = "...", desc = "...", crate = "path")]`.
#[derive(Default, FromMeta)]
pub struct ToolArgs {
    /// The tool's name (default: the function's).
    #[darling(default, with = string_literal)]
    pub name: Option<LitStr>,
    /// The description (default: the doc comment).
    #[darling(default, with = string_literal)]
    pub desc: Option<LitStr>,
    #[darling(rename = "crate", default, with = crate_path)]
    pub krate: Option<Path>,
}

/// `#[arg(desc = "...")]` on a tool parameter.
#[derive(Default, FromMeta)]
pub struct ArgArgs {
    /// The parameter's `description` in its schema.
    #[darling(default, with = string_literal)]
    pub desc: Option<LitStr>,
}

/// The arguments of an attribute macro (`#[module(...)]`, `#[tool(...)]`).
pub fn macro_args<T: FromMeta>(args: TokenStream) -> syn::Result<T> {
    let items = NestedMeta::parse_meta_list(args)?;
    Ok(T::from_list(&items)?)
}

/// The arguments of a helper attribute, `#[name(...)]`; a bare `#[name]` is the defaults.
pub fn attr_args<T: FromMeta + Default>(attr: &Attribute) -> syn::Result<T> {
    match &attr.meta {
        Meta::Path(_) => Ok(T::default()),
        Meta::List(list) => macro_args(list.tokens.clone()),
        Meta::NameValue(nv) => {
            let name = attr.path().get_ident().map(ToString::to_string).unwrap_or_default();
            Err(syn::Error::new_spanned(nv, format!("expected `#[{name}(...)]`")))
        }
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
            if kind == Kind::Input && args.unlabeled.is_present() {
                return Err(syn::Error::new(args.unlabeled.span(), "`unlabeled` is for outputs: inputs are always in the data"));
            }
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
        Meta::NameValue(nv) => {
            let name = attr.path().get_ident().map(ToString::to_string).unwrap_or_default();
            Err(syn::Error::new_spanned(
                nv,
                format!("expected `#[{name}]` or `#[{name}(desc = \"...\", prefix = \"...\", rename = \"...\")]`"),
            ))
        }
        _ => attr_args(attr),
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
