//! `signature!`: DSPy's string signatures, parsed at compile time with the runtime's grammar (`dspy-syntax`).

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, LitStr, Path, Token, Visibility};

use crate::ast::{Kind, Model, ModelField, doc_values, joined_doc};
use crate::attr::{self, Errors, ItemArgs};
use crate::{expand, fallback};
use dspy_syntax::{Const, SyntaxError};

const NOT_A_LITERAL: &str = "`signature!` takes a string literal, checked at compile time: \
     `signature!(\"question -> answer\")` (for a string known only at run time, use `Signature::parse`)";

/// What `signature!` was given.
enum MacroInput {
    /// `signature!("question -> answer")`
    Expr(LitStr),
    /// `signature! { /// Docs. \n pub Name = "question -> answer" }`
    Items(Vec<Item>),
}

/// `#[doc = ..]* vis Name = "signature"`
struct Item {
    attrs: Vec<Attribute>,
    vis: Visibility,
    ident: Ident,
    lit: LitStr,
}

impl Parse for MacroInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error("expected a string signature: `signature!(\"question -> answer\")`"));
        }
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            if !input.is_empty() {
                let rest: TokenStream = input.parse()?;
                return Err(syn::Error::new_spanned(rest, "unexpected tokens after the signature string"));
            }
            return Ok(MacroInput::Expr(lit));
        }
        let item_like =
            input.peek(Token![#]) || input.peek(Token![pub]) || (input.peek(Ident) && input.peek2(Token![=]));
        if !item_like {
            let rest: TokenStream = input.parse()?;
            return Err(syn::Error::new_spanned(rest, NOT_A_LITERAL));
        }
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(input.parse()?);
            if !input.is_empty() {
                input.parse::<Token![;]>()?;
            }
        }
        Ok(MacroInput::Items(items))
    }
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let ident: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        if !input.peek(LitStr) {
            let rest: TokenStream = input.fork().parse()?;
            return Err(syn::Error::new_spanned(rest, NOT_A_LITERAL));
        }
        let lit = input.parse()?;
        Ok(Item { attrs, vis, ident, lit })
    }
}

/// Expands `signature!`; `sources` is the text of each item as written (the item form).
pub fn expand(tokens: TokenStream, sources: Vec<Option<String>>) -> syn::Result<TokenStream> {
    match syn::parse2::<MacroInput>(tokens)? {
        MacroInput::Expr(lit) => {
            let krate: Path = syn::parse_quote!(::dspy);
            let ident = Ident::new("StringSignature", Span::call_site());
            let definitions = build(&lit, krate, Visibility::Inherited, ident.clone(), None, Errors::default()).definitions();
            Ok(quote! {
                {
                    #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::default::Default)]
                    struct #ident;
                    #definitions
                    #ident
                }
            })
        }
        MacroInput::Items(items) => {
            let sources = sources.into_iter().chain(std::iter::repeat(None));
            Ok(items.into_iter().zip(sources).map(|(item, source)| expand_item(item, source)).collect())
        }
    }
}

/// One item; its run-time signature's `source` is the item as written, in its `signature!` call.
fn expand_item(item: Item, source: Option<String>) -> TokenStream {
    let Item { attrs, vis, ident, lit } = item;
    let source = source.unwrap_or_else(|| quote!(#(#attrs)* #vis #ident = #lit).to_string());
    let source = format!("signature! {{\n{}\n}}", source.lines().map(|l| format!("    {l}").trim_end().to_string()).collect::<Vec<_>>().join("\n"));
    let mut errors = Errors::default();
    let mut krate = None;
    for attr in &attrs {
        if attr.path().is_ident("signature") {
            if let Some(args) = errors.handle(attr::attr_args::<ItemArgs>(attr)) {
                krate = args.krate.or(krate);
            }
        } else if !attr.path().is_ident("doc") {
            errors.push(syn::Error::new_spanned(
                attr,
                "only doc comments and `#[signature(crate = \"...\")]` are allowed on a `signature!` item",
            ));
        }
    }
    let krate = attr::krate_or_default(krate);
    let docs = doc_values(&attrs);
    let instructions = joined_doc(&docs);
    let mut built = build(&lit, krate, vis.clone(), ident.clone(), instructions, errors);
    built.model.source = Some(source);
    let definitions = built.definitions();
    let struct_doc = if docs.is_empty() {
        let text = format!("The signature `{}`.", lit.value());
        quote!(#[doc = #text])
    } else {
        quote!(#(#[doc = #docs])*)
    };
    quote! {
        #struct_doc
        #[derive(
            ::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::default::Default,
            ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash
        )]
        #vis struct #ident;
        #definitions
    }
}

/// A signature's model (with the fields that resolved) and the errors found building it.
struct Built {
    model: Model,
    /// The only input is a `String`: the input struct converts from `&str` and `String`.
    single_string: bool,
    /// Every input resolved, so the tuple conversion has the right arity even with errors.
    inputs_complete: bool,
    errors: Errors,
}

impl Built {
    /// The input and output structs, the `TypedSignature` impl and the input conversions; with
    /// errors, the errors and the fallback's stand-ins.
    fn definitions(self) -> TokenStream {
        let Built { model, single_string, inputs_complete, errors } = self;
        let conversions = || expand::input_conversions(&model, single_string);
        match errors.finish() {
            Ok(()) => {
                let typed = expand::typed_signature(&model);
                let example = expand::example_type(&model);
                let conversions = conversions();
                quote! {
                    #typed
                    #example
                    #conversions
                }
            }
            Err(error) => {
                let error = error.into_compile_error();
                let stubs = fallback::signature(&model);
                let conversions = inputs_complete.then(conversions);
                quote! {
                    #error
                    #stubs
                    #conversions
                }
            }
        }
    }
}

/// Parses the literal and builds the model, every field checked.
fn build(
    lit: &LitStr,
    krate: Path,
    vis: Visibility,
    ident: Ident,
    instructions: Option<TokenStream>,
    mut errors: Errors,
) -> Built {
    let source = lit.value();
    let span = lit.span();
    let mut fields = Vec::new();
    let mut string_inputs = 0;
    let mut inputs_complete = true;
    let decl = dspy_syntax::parse_signature(&source)
        .map_err(|e| errors.push(error_at(lit, &source, e.position, &format!("invalid signature: {}", e.message))))
        .ok();
    let (inputs, outputs) = match &decl {
        Some(decl) => (&decl.inputs[..], &decl.outputs[..]),
        None => {
            inputs_complete = false;
            (&[][..], &[][..])
        }
    };
    for (decls, kind) in [(inputs, Kind::Input), (outputs, Kind::Output)] {
        for d in decls {
            let field = (|| -> Result<ModelField, (usize, String)> {
                let ident = rust_ident(&d.name, span, false).map_err(|m| (d.position, format!("field name {m}")))?;
                let ty = match &d.ty {
                    None => PyType::Str,
                    Some(expr) => PyType::resolve(expr, d.position, &mut |name, _| Ok(name.to_string()))
                        .map_err(|SyntaxError { position, message }| (position, message))?,
                };
                let type_position = d.ty.as_ref().and_then(|t| t.position()).unwrap_or(d.position);
                let rust_ty =
                    ty.rust_type(&krate, span).map_err(|m| (type_position, format!("field `{}`: {m}", d.name)))?;
                if kind == Kind::Input && ty.is_string() {
                    string_inputs += 1;
                }
                let field_type = ty.field_type(&krate, span).map_err(|m| (type_position, m))?;
                let text = format!("The `{}` {} (`{}`).", d.name, kind.attr_name(), ty.name());
                Ok(ModelField {
                    ident,
                    name: d.name.clone(),
                    name_span: span,
                    kind,
                    ty: rust_ty,
                    field_type,
                    desc: None,
                    prefix: None,
                    renamed: false,
                    unlabeled: false,
                    docs: quote_spanned!(span=> #[doc = #text]),
                    ty_span: span,
                })
            })();
            match field {
                Ok(f) => fields.push(f),
                Err((position, message)) => {
                    inputs_complete &= kind == Kind::Output;
                    errors.push(error_at(lit, &source, position, &message));
                }
            }
        }
    }
    let single_string = inputs.len() == 1 && string_inputs == 1;
    let model = Model {
        input_ident: quote::format_ident!("{}Input", ident),
        output_ident: quote::format_ident!("{}Output", ident),
        example_ident: quote::format_ident!("{}Example", ident),
        name: syn::ext::IdentExt::unraw(&ident).to_string(),
        ident,
        krate,
        vis,
        instructions,
        fields,
        span,
        source: None,
    };
    Built { model, single_string, inputs_complete, errors }
}

/// An error on the literal, naming the character position and pointing at it.
fn error_at(lit: &LitStr, source: &str, position: usize, message: &str) -> syn::Error {
    let mut text = format!("{message} (at character {position})");
    if !source.contains('\n') && source.chars().count() <= 120 {
        let caret: String = " ".repeat(position);
        text.push_str(&format!("\n  {source}\n  {caret}^"));
    }
    syn::Error::new(lit.span(), text)
}

/// A Rust identifier for a Python name: keywords become raw identifiers (`r#type`).
fn rust_ident(name: &str, span: Span, path_segment: bool) -> Result<Ident, String> {
    if syn::parse_str::<Ident>(name).is_ok() {
        return Ok(Ident::new(name, span));
    }
    if path_segment && matches!(name, "crate" | "self" | "super") {
        return Ok(Ident::new(name, span));
    }
    if !matches!(name, "crate" | "self" | "super" | "Self" | "_")
        && syn::parse_str::<Ident>(&format!("r#{name}")).is_ok()
    {
        return Ok(Ident::new_raw(name, span));
    }
    Err(format!("`{name}` cannot be a Rust identifier, not even a raw one (`r#{name}`); rename it"))
}

/// A resolved type of `signature!`: user types stay names, resolved in the caller's scope.
type PyType = dspy_syntax::PyType<String>;

/// What the macro generates for a resolved type: the Rust type of the field and the expression
/// building its run-time `FieldType`.
trait Expand {
    fn is_string(&self) -> bool;
    fn rust_type(&self, krate: &Path, span: Span) -> Result<TokenStream, String>;
    fn field_type(&self, krate: &Path, span: Span) -> Result<TokenStream, String>;
}

impl Expand for PyType {
    /// Whether the Rust type is `String` (`str`, or a `Literal` of strings).
    fn is_string(&self) -> bool {
        match self {
            PyType::Str => true,
            PyType::Literal(values) => values.iter().all(|v| matches!(v, Const::Str(_))),
            _ => false,
        }
    }

    /// The Rust type of a field of this type.
    fn rust_type(&self, krate: &Path, span: Span) -> Result<TokenStream, String> {
        Ok(match self {
            PyType::Str => quote!(::std::string::String),
            PyType::Int => quote!(i64),
            PyType::Float => quote!(f64),
            PyType::Bool => quote!(bool),
            PyType::Any => quote!(#krate::__private::serde_json::Value),
            PyType::NoneType => {
                return Err("`None` is only supported inside `Optional[...]` (`T | None`)".into());
            }
            PyType::Image => quote!(#krate::Image),
            PyType::Audio => quote!(#krate::Audio),
            PyType::List(t) => {
                let t = t.rust_type(krate, span)?;
                quote!(::std::vec::Vec<#t>)
            }
            PyType::Dict(_, v) => {
                let v = v.rust_type(krate, span)?;
                quote!(::std::collections::BTreeMap<::std::string::String, #v>)
            }
            PyType::Tuple(ts) => {
                if ts.is_empty() {
                    return Err("an empty `tuple` is not supported".into());
                }
                let ts = ts.iter().map(|t| t.rust_type(krate, span)).collect::<Result<Vec<_>, _>>()?;
                quote!((#(#ts,)*))
            }
            PyType::Union(members) => {
                let some: Vec<&PyType> = members.iter().filter(|m| **m != PyType::NoneType).collect();
                if some.len() == 1 && some.len() < members.len() {
                    let t = some[0].rust_type(krate, span)?;
                    quote!(::core::option::Option<#t>)
                } else {
                    return Err(format!(
                        "`{}` is not supported: a Rust field has one type, so the only unions allowed are \
                         `Optional[T]` and `T | None` (use a named enum, or `Any`)",
                        self.name()
                    ));
                }
            }
            PyType::Literal(values) => literal_rust_type(values, krate),
            PyType::Named(name) => named_path(name, span)?.into_token_stream(),
        })
    }

    /// An expression building this type's `FieldType`.
    fn field_type(&self, krate: &Path, span: Span) -> Result<TokenStream, String> {
        let ft = quote!(#krate::FieldType);
        let all = |ts: &[PyType]| ts.iter().map(|t| t.field_type(krate, span)).collect::<Result<Vec<_>, _>>();
        Ok(match self {
            PyType::Str => quote!(#ft::Str),
            PyType::Int => quote!(#ft::Int),
            PyType::Float => quote!(#ft::Float),
            PyType::Bool => quote!(#ft::Bool),
            PyType::Any => quote!(#ft::Any),
            PyType::NoneType => quote!(#ft::NoneType),
            PyType::Image => quote!(#ft::Image),
            PyType::Audio => quote!(#ft::Audio),
            PyType::List(t) => {
                let t = t.field_type(krate, span)?;
                quote!(#ft::List(::std::boxed::Box::new(#t)))
            }
            PyType::Dict(k, v) => {
                let (k, v) = (k.field_type(krate, span)?, v.field_type(krate, span)?);
                quote!(#ft::Dict(::std::boxed::Box::new(#k), ::std::boxed::Box::new(#v)))
            }
            PyType::Tuple(ts) => {
                let ts = all(ts)?;
                quote!(#ft::Tuple(::std::vec![#(#ts),*]))
            }
            PyType::Union(ts) => {
                let ts = all(ts)?;
                quote!(#ft::Union(::std::vec![#(#ts),*]))
            }
            PyType::Literal(values) => {
                let value = quote!(#krate::__private::serde_json::Value);
                let values = values.iter().map(|v| match v {
                    Const::Str(s) => quote!(#value::String(::std::string::String::from(#s))),
                    Const::Int(i) => {
                        let i = Literal::i64_suffixed(*i);
                        quote!(#value::from(#i))
                    }
                    Const::Float(f) if f.is_finite() => {
                        let f = Literal::f64_suffixed(*f);
                        quote!(#value::from(#f))
                    }
                    // `json!(inf)` is `null`, as serde_json writes non-finite floats.
                    Const::Float(_) | Const::None => quote!(#value::Null),
                    Const::Bool(b) => quote!(#value::Bool(#b)),
                });
                quote!(#ft::Literal(::std::vec![#(#values),*]))
            }
            PyType::Named(name) => {
                let path = named_path(name, span)?;
                quote!(#krate::named_type::<#path>())
            }
        })
    }
}

/// The Rust type of a `Literal[...]` field: its values' common type.
fn literal_rust_type(values: &[Const], krate: &Path) -> TokenStream {
    let all = |pred: fn(&Const) -> bool| values.iter().filter(|v| **v != Const::None).all(pred);
    let some = values.iter().any(|v| *v != Const::None);
    let base = if !some {
        None
    } else if all(|v| matches!(v, Const::Str(_))) {
        Some(quote!(::std::string::String))
    } else if all(|v| matches!(v, Const::Int(_))) {
        Some(quote!(i64))
    } else if all(|v| matches!(v, Const::Bool(_))) {
        Some(quote!(bool))
    } else if all(|v| matches!(v, Const::Int(_) | Const::Float(_))) {
        Some(quote!(f64))
    } else {
        None
    };
    match base {
        Some(t) if values.contains(&Const::None) => quote!(::core::option::Option<#t>),
        Some(t) => t,
        None => quote!(#krate::__private::serde_json::Value),
    }
}

/// `models.Verdict` → `models::Verdict`, spanned at the literal so "cannot find type" points there.
fn named_path(name: &str, span: Span) -> Result<Path, String> {
    let mut segments = Vec::new();
    for (i, segment) in name.split('.').enumerate() {
        segments
            .push(rust_ident(segment, span, i == 0).map_err(|_| format!("`{name}` is not a valid Rust type path"))?);
    }
    Ok(syn::parse_quote_spanned!(span=> #(#segments)::*))
}
