//! `#[tool]`: a plain Rust function as an agent tool.
//!
//! The function stays as written; a sibling `{name}_tool()` returns the `Tool`: the function's
//! name, its doc comment (trimmed like `inspect.cleandoc`) as the description, one JSON schema
//! per parameter (`arg_schema::<T>()`, `Option<T>` parameters optional), and a closure that
//! deserialises the checked arguments and calls the function.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Pat, ReturnType, Type};

use crate::ast::{doc_values, joined_doc};
use crate::attr::{self, ArgArgs, Errors, ToolArgs};
use crate::fallback;

/// One parameter of the tool function.
struct Param {
    ident: syn::Ident,
    ty: Type,
    desc: Option<LitStr>,
    optional: bool,
}

/// `#[arg(desc = "...")]` on a parameter; removed from the emitted function.
fn take_arg_attrs(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) -> Option<LitStr> {
    let mut desc = None;
    attrs.retain(|a| {
        if !a.path().is_ident("arg") {
            return true;
        }
        if let Some(args) = errors.handle(attr::attr_args::<ArgArgs>(a)) {
            desc = args.desc.or(desc.take());
        }
        false
    });
    desc
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// Rejects types a tool argument cannot have (borrowed or unnamed ones), pointing at them.
fn check_type(ty: &Type, errors: &mut Errors) {
    let problem = match ty {
        Type::Reference(_) => Some("tool arguments are deserialised from JSON, so they must be owned: use `String` for `&str`, `Vec<T>` for `&[T]`"),
        Type::ImplTrait(_) => Some("a tool argument needs a concrete type, not `impl Trait`"),
        Type::FnPtr(_) | Type::TraitObject(_) | Type::Never(_) | Type::Infer(_) | Type::Ptr(_) | Type::Slice(_) => {
            Some("a tool argument needs a type that deserialises from JSON and has a JSON schema")
        }
        _ => None,
    };
    if let Some(message) = problem {
        errors.push(syn::Error::new(ty.span(), message));
    }
}

/// The function and its `{name}_tool()`; with errors, the errors, the function as written (so
/// its callers still compile) and the fallback's stand-in `{name}_tool()`.
pub fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options: ToolArgs = errors.handle(attr::macro_args(args)).unwrap_or_default();
    let krate = attr::krate_or_default(options.krate.clone());
    let mut func: ItemFn = match syn::parse2(input.clone()) {
        Ok(func) => func,
        Err(e) => {
            errors.push(syn::Error::new(e.span(), "`#[tool]` goes on a function"));
            let errors = errors.finish().err().map(syn::Error::into_compile_error);
            return quote!(#errors #input);
        }
    };
    let sig = &mut func.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(sig.generics.span(), "a tool function cannot be generic: its argument schema must be known"));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new(variadic.span(), "a tool function cannot be variadic"));
    }
    let mut params = Vec::new();
    for input in sig.inputs.iter_mut() {
        match input {
            FnArg::Receiver(r) => errors.push(syn::Error::new(
                r.span(),
                "`#[tool]` goes on a free function; for a method, build the tool with `Tool::new` and a closure",
            )),
            FnArg::Typed(pat_type) => {
                let desc = take_arg_attrs(&mut pat_type.attrs, &mut errors);
                check_type(&pat_type.ty, &mut errors);
                match &*pat_type.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => params.push(Param {
                        ident: p.ident.clone(),
                        ty: (*pat_type.ty).clone(),
                        desc,
                        optional: is_option(&pat_type.ty),
                    }),
                    other => errors.push(syn::Error::new(
                        other.span(),
                        "tool parameters must be plain names (`city: String`): the names are the argument names the LM uses",
                    )),
                }
            }
        }
    }
    if let Err(e) = errors.finish() {
        let e = e.into_compile_error();
        let stand_in = fallback::tool(&krate, &func);
        return quote!(#e #stand_in);
    }

    let fn_ident = &func.sig.ident;
    let vis = &func.vis;
    let tool_fn = format_ident!("{}_tool", fn_ident.to_string().trim_start_matches("r#"));
    let name = match &options.name {
        Some(lit) => lit.value(),
        None => fn_ident.to_string().trim_start_matches("r#").to_string(),
    };
    let desc = match (&options.desc, joined_doc(&doc_values(&func.attrs))) {
        (Some(lit), _) => quote!(::std::string::String::from(#lit)),
        (None, Some(doc)) => quote!(#krate::__private::cleandoc(#doc)),
        (None, None) => quote!(::std::string::String::new()),
    };
    let name_lit = &name;
    let idents: Vec<&syn::Ident> = params.iter().map(|p| &p.ident).collect();
    let arg_names: Vec<String> = params.iter().map(|p| p.ident.to_string().trim_start_matches("r#").to_string()).collect();
    let takes = params.iter().zip(&arg_names).map(|(p, name)| {
        let (ident, ty) = (&p.ident, &p.ty);
        quote_spanned!(ty.span()=> let #ident: #ty = #krate::__private::take_arg::<#ty>(&mut map, #name_lit, #name)?;)
    });
    let schemas = params.iter().zip(&arg_names).map(|(p, name)| {
        let ty = &p.ty;
        let schema_fn = if p.optional { quote!(optional_arg_schema) } else { quote!(arg_schema) };
        let describe = p.desc.as_ref().map(|d| {
            quote! {
                if let #krate::__private::serde_json::Value::Object(map) = &mut schema {
                    map.insert("description".into(), #krate::__private::serde_json::Value::String(#d.into()));
                }
            }
        });
        quote_spanned! {ty.span()=>
            {
                #[allow(unused_mut)]
                let mut schema = #krate::module::#schema_fn::<#ty>();
                #describe
                args.insert(#name.into(), schema);
            }
        }
    });
    let call = if func.sig.asyncness.is_some() { quote!(#fn_ident(#(#idents),*).await) } else { quote!(#fn_ident(#(#idents),*)) };
    let output_span = match &func.sig.output {
        ReturnType::Default => Span::call_site(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let into_result = quote_spanned!(output_span=> #krate::module::ToolOutput::into_tool_result(output, #name));
    let doc = format!("The `{name}` function as an agent tool (`Tool`), described by its doc comment and parameters.");

    quote! {
        #func

        #[doc = #doc]
        #vis fn #tool_fn() -> #krate::module::Tool {
            let mut args = #krate::__private::serde_json::Map::new();
            #(#schemas)*
            #krate::module::Tool::from_parts(#name, #desc, args, |mut map: #krate::__private::serde_json::Map<::std::string::String, #krate::__private::serde_json::Value>| async move {
                #(#takes)*
                let _ = &mut map;
                let output = #call;
                #into_result
            })
        }
    }
}
