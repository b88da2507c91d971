//! `#[module]`: on a struct, the predictor walk over its fields (`ModuleFields`) and `Clone`;
//! on the struct's `impl` block, the `Module` impl whose `forward` reads the typed arguments of
//! the user's `forward` from the example by name.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Fields, FnArg, ImplItem, Item, ItemImpl, ItemStruct, Meta, Pat, Path, ReturnType, Type};

use crate::attr::{self, Errors, ModuleArgs};
use crate::fallback;

/// The resolved `#[module(...)]` options.
struct Args {
    krate: Path,
    no_clone: bool,
}

impl Args {
    /// Reads the options; with errors, the defaults (and the errors go to `errors`).
    fn parse(args: TokenStream, errors: &mut Errors) -> Args {
        let args: ModuleArgs = errors.handle(attr::macro_args(args)).unwrap_or_default();
        Args { krate: attr::krate_or_default(args.krate), no_clone: args.no_clone.is_present() }
    }
}

/// The entry point: dispatches on the item. With errors, the item stays as written beside them,
/// with the fallback's stand-in impls. `source` is the item's text as written (its token text
/// when the compiler has none), which the program shows the prompt model.
pub fn expand(args: TokenStream, item: TokenStream, source: Option<String>) -> TokenStream {
    let mut errors = Errors::default();
    let args = Args::parse(args, &mut errors);
    let source = source.unwrap_or_else(|| item.to_string());
    let item: Item = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => {
            errors.push(e);
            return errors.finish().err().map(syn::Error::into_compile_error).unwrap_or_default();
        }
    };
    match item {
        Item::Struct(s) => expand_struct(&args, s, &source, errors),
        Item::Impl(i) => expand_impl(&args, i, &source, errors),
        Item::Enum(e) => {
            errors.push(syn::Error::new_spanned(
                {
                    let (token, ident) = (&e.enum_token, &e.ident);
                    quote!(#token #ident)
                },
                "`#[module]` needs a struct whose fields are modules, not an enum",
            ));
            with_errors(errors, e.into_token_stream())
        }
        other => {
            errors.push(syn::Error::new(
                item_span(&other),
                "`#[module]` goes on a struct whose fields are modules, and on its `impl` block that defines `forward`",
            ));
            with_errors(errors, other.into_token_stream())
        }
    }
}

/// The errors, then `tokens`.
fn with_errors(errors: Errors, tokens: TokenStream) -> TokenStream {
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    quote!(#errors #tokens)
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::Fn(f) => f.sig.ident.span(),
        Item::Union(u) => u.ident.span(),
        Item::Trait(t) => t.ident.span(),
        Item::Mod(m) => m.ident.span(),
        other => other.span(),
    }
}

/// Whether `#[skip]` marks this field; an ill-formed `skip` is an error.
fn take_skip(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> bool {
    let mut skip = false;
    attrs.retain(|attr| {
        if !attr.path().is_ident("skip") {
            return true;
        }
        match &attr.meta {
            Meta::Path(_) if !skip => skip = true,
            Meta::Path(_) => errors.push(syn::Error::new_spanned(attr, "duplicate `#[skip]` attribute")),
            other => errors.push(syn::Error::new_spanned(other, "`#[skip]` takes no arguments")),
        }
        false
    });
    skip
}

/// Whether the struct already derives `Clone`.
fn derives_clone(attrs: &[Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        a.parse_args_with(syn::punctuated::Punctuated::<Path, syn::Token![,]>::parse_terminated)
            .map(|paths| paths.iter().any(|p| p.segments.last().is_some_and(|s| s.ident == "Clone")))
            .unwrap_or(false)
    })
}

fn expand_struct(args: &Args, mut item: ItemStruct, source: &str, mut errors: Errors) -> TokenStream {
    let krate = &args.krate;
    let mut walk = Vec::new();
    let mut walk_mut = Vec::new();
    let mut walk_code = Vec::new();
    match &mut item.fields {
        Fields::Named(fields) => {
            for field in fields.named.iter_mut() {
                let skip = take_skip(&mut field.attrs, &mut errors);
                if skip {
                    continue;
                }
                let Some(ident) = field.ident.clone() else { continue };
                let name = ident.unraw().to_string();
                let span = field.ty.span();
                walk.push(quote_spanned! {span=>
                    #krate::module::ContainsPredictors::collect_predictors(&self.#ident, #name, &mut __dspy_out);
                });
                walk_mut.push(quote_spanned! {span=>
                    #krate::module::ContainsPredictors::collect_predictors_mut(&mut self.#ident, #name, &mut __dspy_out);
                });
                walk_code.push(quote_spanned! {span=>
                    #krate::module::ContainsPredictors::collect_source_code(&self.#ident, __dspy_code);
                });
            }
        }
        Fields::Unnamed(fields) => errors.push(syn::Error::new(
            fields.span(),
            "`#[module]` needs named fields (`struct Name { generate_answer: ChainOfThought<..>, .. }`): \
             field names are the predictors' names in saved programs",
        )),
        Fields::Unit => {}
    }
    let clone = (!args.no_clone && !derives_clone(&item.attrs)).then(|| quote!(#[derive(::core::clone::Clone)]));
    if !errors.is_empty() {
        let stand_in = fallback::module_struct(krate, &item);
        return with_errors(errors, quote!(#clone #stand_in));
    }
    let ident = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let predictor = quote!(#krate::Predictor);
    quote! {
        #clone
        #item

        #[automatically_derived]
        impl #impl_generics #krate::module::ModuleFields for #ident #ty_generics #where_clause {
            fn field_predictors(&self) -> ::std::vec::Vec<(::std::string::String, &dyn #predictor)> {
                #[allow(unused_mut)]
                let mut __dspy_out = ::std::vec::Vec::new();
                #(#walk)*
                __dspy_out
            }

            fn field_predictors_mut(&mut self) -> ::std::vec::Vec<(::std::string::String, &mut dyn #predictor)> {
                #[allow(unused_mut)]
                let mut __dspy_out = ::std::vec::Vec::new();
                #(#walk_mut)*
                __dspy_out
            }

            fn declaration(&self) -> ::core::option::Option<&'static str> {
                ::core::option::Option::Some(#source)
            }

            #[allow(unused_variables)]
            fn field_source_code(&self, __dspy_code: &mut #krate::module::SourceCode) {
                #(#walk_code)*
            }
        }
    }
}

/// `&Example` (any path ending in `Example`).
fn is_example_ref(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => {
            matches!(&*r.elem, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Example"))
        }
        _ => false,
    }
}

/// How `Module::forward` calls the user's `forward`.
enum Call {
    /// `forward(&self, inputs: &Example)`: the example as it is.
    Example,
    /// Typed arguments read from the example by name.
    Typed(Vec<(syn::Ident, Type)>),
    /// `forward(&self, #[flatten] input: T)`: the whole example read as `T`.
    Flatten(syn::Ident, Box<Type>),
}

/// What the user's `forward` returns inside its `Result`.
enum Returns {
    /// A dynamic value (`Prediction`, a map, `Example`, `Value`): the program is only a `Module`.
    Dynamic,
    /// `Predicted<T>`: a typed program whose output is `T`.
    Predicted(Type),
    /// The user's own type: a typed program whose output is that type.
    Own(Type),
}

/// The `T` of `Result<T>` / `Result<T, E>` (any path ending in `Result`).
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

fn classify_return(output: &ReturnType) -> Returns {
    let ReturnType::Type(_, ty) = output else { return Returns::Dynamic };
    let Some(ok) = result_ok_type(ty) else { return Returns::Dynamic };
    let Type::Path(p) = ok else { return Returns::Own(ok.clone()) };
    let Some(last) = p.path.segments.last() else { return Returns::Dynamic };
    match last.ident.to_string().as_str() {
        "Prediction" | "Map" | "Example" | "Value" => Returns::Dynamic,
        "Predicted" => match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => args
                .args
                .iter()
                .find_map(|a| match a {
                    syn::GenericArgument::Type(t) => Some(Returns::Predicted(t.clone())),
                    _ => None,
                })
                .unwrap_or(Returns::Dynamic),
            _ => Returns::Dynamic,
        },
        _ => Returns::Own(ok.clone()),
    }
}

/// Removes `#[flatten]` from `forward`'s parameters (it is this macro's), noting which one had it.
fn take_flatten(item: &mut ItemImpl, errors: &mut Errors) -> Option<usize> {
    let forward = item.items.iter_mut().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == "forward" => Some(f),
        _ => None,
    })?;
    let mut found = None;
    let count = forward.sig.inputs.iter().filter(|a| matches!(a, FnArg::Typed(_))).count();
    for (i, arg) in forward.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(t) = arg else { continue };
        let before = t.attrs.len();
        t.attrs.retain(|a| !a.path().is_ident("flatten"));
        if t.attrs.len() != before {
            if count != 1 {
                errors.push(syn::Error::new_spanned(
                    &t.pat,
                    "`#[flatten]` goes on `forward`'s only argument: the struct whose fields are all the program's inputs",
                ));
            }
            found = Some(i);
        }
    }
    found
}

fn expand_impl(args: &Args, mut item: ItemImpl, source: &str, mut errors: Errors) -> TokenStream {
    let krate = &args.krate;
    if let Some((path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "`#[module]` goes on the struct's own `impl` block (the one with `forward`), not on a trait impl",
        ));
        return with_errors(errors, fallback::module_impl(krate, &item));
    }
    let flatten = take_flatten(&mut item, &mut errors);
    let self_ty = &item.self_ty;
    let forward = item.items.iter().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == "forward" => Some(f),
        _ => None,
    });
    let Some(forward) = forward else {
        errors.push(syn::Error::new_spanned(
            self_ty,
            "`#[module]` on an `impl` block needs `async fn forward(&self, ...) -> Result<...>` in it; \
             its arguments are read from the example's fields of the same names",
        ));
        return with_errors(errors, fallback::module_impl(krate, &item));
    };
    let sig = &forward.sig;
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&sig.generics, "`forward` cannot be generic: its arguments are read from JSON into concrete types"));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)) => {}
        Some(FnArg::Receiver(r)) => errors.push(syn::Error::new_spanned(r, "`forward` takes `&self` (programs run concurrently and are not changed by a call)")),
        _ => errors.push(syn::Error::new_spanned(&sig.ident, "`forward` takes `&self` as its first argument")),
    }
    let params: Vec<&syn::PatType> = inputs
        .filter_map(|a| match a {
            FnArg::Typed(t) => Some(t),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let call = if params.len() == 1 && is_example_ref(&params[0].ty) {
        Call::Example
    } else {
        let mut typed = Vec::new();
        for p in &params {
            let Pat::Ident(pat) = &*p.pat else {
                errors.push(syn::Error::new_spanned(&p.pat, "`forward`'s arguments must be plain names: each is read from the example field of that name"));
                continue;
            };
            if pat.by_ref.is_some() || pat.subpat.is_some() {
                errors.push(syn::Error::new_spanned(pat, "`forward`'s arguments must be plain names"));
                continue;
            }
            match &*p.ty {
                Type::Reference(_) => errors.push(syn::Error::new_spanned(
                    &p.ty,
                    "`forward`'s arguments are read from the example and must be owned types (`String`, not `&str`); \
                     to take the whole example, write `forward(&self, inputs: &Example)`",
                )),
                Type::ImplTrait(_) => errors.push(syn::Error::new_spanned(&p.ty, "`forward`'s arguments need concrete types, not `impl Trait`")),
                _ => typed.push((pat.ident.clone(), (*p.ty).clone())),
            }
        }
        match (flatten, typed.len()) {
            (Some(_), 1) => {
                let (ident, ty) = typed.remove(0);
                Call::Flatten(ident, Box::new(ty))
            }
            _ => Call::Typed(typed),
        }
    };
    if let ReturnType::Default = sig.output {
        errors.push(syn::Error::new_spanned(
            &sig.ident,
            "`forward` must return a `Result` of a `Prediction`, `Predicted<T>`, field map or JSON object, or of your own output type",
        ));
    }
    if !errors.is_empty() {
        return with_errors(errors, fallback::module_impl(krate, &item));
    }

    let program = match &**self_ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.unraw().to_string()).unwrap_or_default(),
        other => other.to_token_stream().to_string(),
    };
    let returns = classify_return(&sig.output);
    let awaited = sig.asyncness.map(|_| quote!(.await));
    let arg_idents: Vec<&syn::Ident> = match &call {
        Call::Example => Vec::new(),
        Call::Typed(params) => params.iter().map(|(i, _)| i).collect(),
        Call::Flatten(ident, _) => vec![ident],
    };
    let reads: Vec<TokenStream> = match &call {
        Call::Example => Vec::new(),
        Call::Typed(params) => params
            .iter()
            .map(|(ident, ty)| {
                let name = ident.unraw().to_string();
                quote_spanned! {ty.span()=>
                    let #ident: #ty = #krate::__private::__input(__dspy_inputs, #name, #program)?;
                }
            })
            .collect(),
        Call::Flatten(ident, ty) => vec![quote_spanned! {ty.span()=>
            let #ident: #ty = #krate::__private::__inputs(__dspy_inputs, #program)?;
        }],
    };
    let user_call = match &call {
        Call::Example => quote!(<#self_ty>::forward(self, __dspy_inputs) #awaited),
        _ => quote!(<#self_ty>::forward(self, #(#arg_idents),*) #awaited),
    };
    let body = match &returns {
        Returns::Own(ty) => quote_spanned! {ty.span()=>
            #(#reads)*
            <#ty as #krate::__private::__ProgramOutput>::__to_prediction(#user_call.map_err(::core::convert::Into::<#krate::Error>::into)?)
        },
        _ => quote! {
            #(#reads)*
            #krate::module::ForwardOutput::into_forward_result(#user_call)
        },
    };
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let fields = quote_spanned!(self_ty.span()=> <Self as #krate::module::ModuleFields>);
    let typed = typed_program(krate, &item, &call, &returns, &user_call);
    quote! {
        #item

        #[automatically_derived]
        #[#krate::__private::async_trait]
        impl #impl_generics #krate::Module for #self_ty #where_clause {
            async fn forward(&self, __dspy_inputs: &#krate::Example) -> #krate::Result<#krate::Prediction> {
                #body
            }

            fn named_predictors(&self) -> ::std::vec::Vec<(::std::string::String, &dyn #krate::Predictor)> {
                #fields::field_predictors(self)
            }

            fn named_predictors_mut(&mut self) -> ::std::vec::Vec<(::std::string::String, &mut dyn #krate::Predictor)> {
                #fields::field_predictors_mut(self)
            }

            fn definition(&self) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::Some(#krate::__private::__definition(#fields::declaration(self), #source))
            }

            fn source_code(&self) -> ::std::string::String {
                let mut __dspy_code = #krate::module::SourceCode::new();
                #fields::field_source_code(self, &mut __dspy_code);
                __dspy_code.finish(#krate::Module::definition(self).as_deref())
            }
        }

        #typed
    }
}

/// `impl TypedModule`, when `forward` takes typed inputs and returns a typed output: its input is
/// the argument's type (one argument) or the tuple of the arguments' types; its output is the
/// returned type (`T` of `Predicted<T>`).
fn typed_program(krate: &Path, item: &ItemImpl, call: &Call, returns: &Returns, user_call: &TokenStream) -> Option<TokenStream> {
    let (output, wrap, to_output) = match returns {
        Returns::Dynamic => return None,
        Returns::Predicted(t) => (t, quote!(::core::result::Result::Ok(out)), quote_spanned!(t.span()=> #krate::Predicted::new(prediction))),
        // A user type goes through `__ProgramOutput` only, so that a type without the serde
        // derives is one error at the return type.
        Returns::Own(t) => (
            t,
            quote_spanned!(t.span()=> <#t as #krate::__private::__ProgramOutput>::__to_predicted(out)),
            quote_spanned!(t.span()=> <#t as #krate::__private::__ProgramOutput>::__from_prediction(prediction)),
        ),
    };
    let (input, destructure, to_example) = match call {
        Call::Example => return None,
        Call::Flatten(ident, ty) => (
            quote!(#ty),
            quote!(let #ident = ::core::convert::Into::<#ty>::into(input);),
            quote!(#krate::__private::__to_example(input)),
        ),
        Call::Typed(params) => {
            let idents: Vec<&syn::Ident> = params.iter().map(|(i, _)| i).collect();
            let types: Vec<&Type> = params.iter().map(|(_, t)| t).collect();
            let names: Vec<String> = idents.iter().map(|i| i.unraw().to_string()).collect();
            let (input, pattern) = match params.len() {
                1 => (quote!(#(#types)*), quote!(#(#idents)*)),
                _ => (quote!((#(#types,)*)), quote!((#(#idents,)*))),
            };
            (
                input.clone(),
                quote!(let #pattern: #input = ::core::convert::Into::into(input);),
                quote! {
                    let #pattern: #input = input;
                    ::core::result::Result::Ok(#krate::Example::new() #(.with(#names, #krate::__private::__to_value(#idents)?))*)
                },
            )
        }
    };
    let self_ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    Some(quote_spanned! {output.span()=>
        #[automatically_derived]
        impl #impl_generics #krate::TypedModule for #self_ty #where_clause {
            type Input = #input;
            type Output = #output;

            fn to_example(input: Self::Input) -> #krate::Result<#krate::Example> {
                #to_example
            }

            fn to_output(prediction: #krate::Prediction) -> #krate::Result<#krate::Predicted<Self::Output>> {
                #to_output
            }

            fn call(
                &self,
                input: impl ::core::convert::Into<Self::Input> + ::core::marker::Send,
            ) -> #krate::module::TypedCall<'_, Self::Output> {
                let input: Self::Input = ::core::convert::Into::into(input);
                ::std::boxed::Box::pin(async move {
                    #destructure
                    let out = #user_call.map_err(::core::convert::Into::<#krate::Error>::into)?;
                    #wrap
                })
            }
        }
    })
}
