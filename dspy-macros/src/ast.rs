//! The parsed model: darling receivers for `#[derive(Signature)]`, and the [`Model`] both
//! macros generate code from.

use darling::FromDeriveInput;
use darling::ast::Data;
use darling::util::Ignored;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Attribute, Expr, Ident, Lit, LitStr, Meta, Path, Type, Visibility};

use crate::attr::{self, Errors};
use crate::types;

/// `#[derive(Signature)]` input as darling reads it.
#[derive(FromDeriveInput)]
#[darling(attributes(signature), forward_attrs(doc), supports(struct_named))]
pub struct DeriveReceiver {
    pub ident: Ident,
    pub vis: Visibility,
    pub attrs: Vec<Attribute>,
    pub data: Data<Ignored, FieldReceiver>,
    /// `#[signature(crate = "path")]`
    #[darling(rename = "crate", default, with = attr::crate_path)]
    pub krate: Option<Path>,
    /// `#[signature(unlabeled)]`: no output has gold labels in the data.
    pub unlabeled: darling::util::Flag,
}

/// One field of the derive input.
#[derive(darling::FromField)]
#[darling(forward_attrs(input, output, doc))]
pub struct FieldReceiver {
    pub ident: Option<Ident>,
    pub ty: Type,
    pub attrs: Vec<Attribute>,
}

/// Input or output.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Input,
    Output,
}

impl Kind {
    pub fn attr_name(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Output => "output",
        }
    }
}

/// A typed signature to generate: the signature type, its input and output structs, its fields.
pub struct Model {
    /// The path of the `dspy` crate (`::dspy`).
    pub krate: Path,
    /// Visibility of the generated types.
    pub vis: Visibility,
    /// The signature type (`impl TypedSignature for #ident`).
    pub ident: Ident,
    /// The generated input struct.
    pub input_ident: Ident,
    /// The generated output struct.
    pub output_ident: Ident,
    /// The generated example struct (inputs and gold outputs).
    pub example_ident: Ident,
    /// The run-time signature's name.
    pub name: String,
    /// An expression of type `&str`: the raw doc comment, cleandoc'd at run time.
    pub instructions: Option<TokenStream>,
    /// Inputs and outputs in declaration order.
    pub fields: Vec<ModelField>,
    /// Where errors about the whole signature point.
    pub span: Span,
    /// The declaration as written (the run-time signature's `source`), when known.
    pub source: Option<String>,
}

impl Model {
    pub fn inputs(&self) -> impl Iterator<Item = &ModelField> {
        self.fields.iter().filter(|f| f.kind == Kind::Input)
    }

    pub fn outputs(&self) -> impl Iterator<Item = &ModelField> {
        self.fields.iter().filter(|f| f.kind == Kind::Output)
    }
}

/// One field of a [`Model`].
pub struct ModelField {
    /// The Rust field name (possibly raw, `r#type`).
    pub ident: Ident,
    /// The name in prompts.
    pub name: String,
    /// Where errors about the name point (the `rename` value or the field name).
    pub name_span: Span,
    pub kind: Kind,
    /// The Rust type.
    pub ty: TokenStream,
    /// An expression building its `FieldType`.
    pub field_type: TokenStream,
    /// An expression for the description (`&str` or `String`).
    pub desc: Option<TokenStream>,
    pub prefix: Option<LitStr>,
    /// Whether serde needs `#[serde(rename = "name")]`.
    pub renamed: bool,
    /// An output without gold labels: `Option<_>` in the example type.
    pub unlabeled: bool,
    /// Doc attributes for the generated struct field.
    pub docs: TokenStream,
    /// The span of the field's type: errors about the generated field (a missing `Serialize`
    /// impl, say) point there.
    pub ty_span: Span,
}

/// The `#[doc = ...]` values of some attributes, in order (`#[doc(hidden)]` and the like are skipped).
pub fn doc_values(attrs: &[Attribute]) -> Vec<&Expr> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => Some(&nv.value),
            _ => None,
        })
        .collect()
}

/// A `&str` expression joining doc lines with `\n`, or `None` without doc lines. Literal lines
/// are joined here; others (`#[doc = include_str!(..)]`) with `concat!`.
pub fn joined_doc(values: &[&Expr]) -> Option<TokenStream> {
    if values.is_empty() {
        return None;
    }
    let literals: Option<Vec<String>> = values
        .iter()
        .map(|v| match v {
            Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
            _ => None,
        })
        .collect();
    Some(match literals {
        Some(lines) => {
            let joined = lines.join("\n");
            quote!(#joined)
        }
        None => {
            let mut parts = Vec::new();
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    parts.push(quote!("\n"));
                }
                parts.push(quote!(#v));
            }
            quote!(::core::concat!(#(#parts),*))
        }
    })
}

impl Model {
    /// Builds the model of `#[derive(Signature)]`, reporting every field error at once.
    pub fn from_derive(receiver: DeriveReceiver) -> syn::Result<Model> {
        let krate = receiver.krate.unwrap_or_else(|| syn::parse_quote!(::dspy));
        let instructions = joined_doc(&doc_values(&receiver.attrs));
        let fields = receiver.data.take_struct().map(|f| f.fields).unwrap_or_default();
        let mut errors = Errors::default();
        let mut model_fields = Vec::new();
        for field in fields {
            let Some(ident) = field.ident.clone() else { continue };
            let parsed = errors.handle(attr::field_attrs(&field, &ident));
            let field_type = errors.handle(types::field_type(&field.ty, &krate));
            let (Some(parsed), Some(field_type)) = (parsed, field_type) else { continue };
            let (name, name_span, renamed) = match &parsed.args.rename {
                Some(lit) => (lit.value(), lit.span(), true),
                None => (ident.unraw().to_string(), ident.span(), false),
            };
            let field_docs = doc_values(&field.attrs);
            let desc = match (&parsed.args.desc, joined_doc(&field_docs)) {
                (Some(lit), _) => Some(quote!(#lit)),
                (None, Some(doc)) => Some(quote!(#krate::__private::cleandoc(#doc))),
                (None, None) => None,
            };
            let ty = &field.ty;
            let ty_span = syn::spanned::Spanned::span(ty);
            let docs = if field_docs.is_empty() {
                let text = format!("The `{name}` {}.", parsed.kind.attr_name());
                quote_spanned!(ty_span=> #[doc = #text])
            } else {
                quote_spanned!(ty_span=> #(#[doc = #field_docs])*)
            };
            model_fields.push(ModelField {
                ident,
                name,
                name_span,
                kind: parsed.kind,
                ty: quote!(#ty),
                field_type,
                desc,
                prefix: parsed.args.prefix,
                renamed,
                unlabeled: parsed.args.unlabeled.is_present() || receiver.unlabeled.is_present(),
                docs,
                ty_span,
            });
        }
        errors.finish()?;
        Ok(Model {
            input_ident: format_ident!("{}Input", receiver.ident),
            output_ident: format_ident!("{}Output", receiver.ident),
            example_ident: format_ident!("{}Example", receiver.ident),
            name: receiver.ident.unraw().to_string(),
            span: receiver.ident.span(),
            ident: receiver.ident,
            krate,
            vis: receiver.vis,
            instructions,
            fields: model_fields,
            source: None,
        })
    }
}
