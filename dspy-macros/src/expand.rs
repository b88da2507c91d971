//! Code generation shared by `#[derive(Signature)]` and `signature!`.

use darling::FromDeriveInput;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::DeriveInput;

use crate::ast::{DeriveReceiver, Kind, Model, ModelField};
use crate::{fallback, valid};

/// `#[derive(Signature)]`: the expansion, or the errors and the fallback's stand-ins. `source`
/// is the struct as written.
pub fn derive(input: &DeriveInput, source: Option<String>) -> TokenStream {
    try_derive(input, source).unwrap_or_else(|error| fallback::derive(input, error))
}

fn try_derive(input: &DeriveInput, source: Option<String>) -> syn::Result<TokenStream> {
    valid::derive_shape(input)?;
    let receiver = DeriveReceiver::from_derive_input(input)?;
    let mut model = Model::from_derive(receiver)?;
    model.source = source;
    valid::model(&model)?;
    let typed = typed_signature(&model);
    let example_type = example_type(&model);
    let example = example_from_struct(&model);
    Ok(quote! {
        #typed
        #example_type
        #example
    })
}

/// `{Name}Input`, `{Name}Output` and `impl TypedSignature for Name`.
pub fn typed_signature(model: &Model) -> TokenStream {
    let Model { krate, vis, ident, input_ident, output_ident, name, .. } = model;
    let serde_crate = serde_crate(krate);
    let struct_fields = |kind: Kind| model.fields.iter().filter(move |f| f.kind == kind).map(|f| struct_field(f, &f.ty, None));
    let input_fields = struct_fields(Kind::Input);
    let output_fields = struct_fields(Kind::Output);
    let input_doc = format!("The inputs of [`{ident}`] (its `TypedSignature::Input`).");
    let output_doc = format!("The outputs of [`{ident}`] (its `TypedSignature::Output`).");

    let fields = model.fields.iter().map(|f| {
        let name = &f.name;
        let field_type = &f.field_type;
        let constructor = match f.kind {
            Kind::Input => quote!(input),
            Kind::Output => quote!(output),
        };
        let desc = f.desc.as_ref().map(|d| quote!(.desc(#d)));
        let prefix = f.prefix.as_ref().map(|p| quote!(.prefix(#p)));
        quote!(#krate::Field::#constructor(#name, #field_type) #desc #prefix)
    });
    let instructions = match &model.instructions {
        Some(doc) => quote!(::core::option::Option::Some(#krate::__private::cleandoc(#doc))),
        None => quote!(::core::option::Option::None),
    };
    let source = model.source.as_ref().map(|s| quote!(.with_source(#s)));

    quote! {
        #[doc = #input_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, #krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
        #[serde(crate = #serde_crate)]
        #[allow(dead_code, non_snake_case)]
        #vis struct #input_ident {
            #(#input_fields,)*
        }

        #[doc = #output_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, #krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
        #[serde(crate = #serde_crate)]
        #[allow(dead_code, non_snake_case)]
        #vis struct #output_ident {
            #(#output_fields,)*
        }

        #[automatically_derived]
        impl #krate::TypedSignature for #ident {
            type Input = #input_ident;
            type Output = #output_ident;

            fn signature() -> &'static #krate::Signature {
                static SIGNATURE: ::std::sync::OnceLock<#krate::Signature> = ::std::sync::OnceLock::new();
                SIGNATURE.get_or_init(|| {
                    #krate::Signature::from_fields(#name, #instructions, [#(#fields),*])
                        .unwrap_or_else(|e| ::core::panic!("invalid signature `{}`: {}", #name, e))
                        #source
                })
            }
        }
    }
}

/// The path of the re-exported serde, for `#[serde(crate = "...")]`.
fn serde_crate(krate: &syn::Path) -> String {
    format!("{}::__private::serde", quote!(#krate)).replace(' ', "")
}

/// One field of a generated struct: the user's docs, the serde rename, `extra` attributes,
/// then `pub ident: ty`. Every token is spanned at the user's type, so that errors about this
/// field point at it.
fn struct_field(f: &ModelField, ty: &TokenStream, extra: Option<TokenStream>) -> TokenStream {
    let ModelField { ident, docs, .. } = f;
    let rename = f.renamed.then(|| {
        let name = &f.name;
        quote_spanned!(f.ty_span=> #[serde(rename = #name)])
    });
    quote_spanned! {f.ty_span=>
        #docs
        #rename
        #extra
        pub #ident: #ty
    }
}

/// `{Name}Example`: a row of a dataset for this task, the inputs and the gold outputs (an
/// `unlabeled` output as `Option<_>`), with `TypedExample` and the conversions into the inputs.
pub fn example_type(model: &Model) -> TokenStream {
    let Model { krate, vis, ident, input_ident, example_ident, .. } = model;
    let serde_crate = serde_crate(krate);
    let fields = model.fields.iter().map(|f| {
        if !f.unlabeled {
            return struct_field(f, &f.ty, None);
        }
        // Unknown labels are left out of the example, not written as `null` (a real `None`).
        let ty = &f.ty;
        let already_optional = ty.to_string().replace(' ', "").trim_start_matches("::core::option::").starts_with("Option<");
        let ty = if already_optional { quote!(#ty) } else { quote!(::core::option::Option<#ty>) };
        let skip = quote_spanned!(f.ty_span=> #[serde(default, skip_serializing_if = "::core::option::Option::is_none")]);
        struct_field(f, &ty, Some(skip))
    });
    let input_names: Vec<&String> = model.inputs().map(|f| &f.name).collect();
    let input_fields: Vec<&syn::Ident> = model.inputs().map(|f| &f.ident).collect();
    let doc = format!(
        "A row of a dataset for [`{ident}`]: its inputs and gold outputs (see [`TypedExample`]({}::TypedExample)).",
        quote!(#krate).to_string().replace(' ', "")
    );
    quote! {
        #[doc = #doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, #krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
        #[serde(crate = #serde_crate)]
        #[allow(dead_code, non_snake_case)]
        #vis struct #example_ident {
            #(#fields,)*
        }

        #[automatically_derived]
        impl #krate::TypedExample for #example_ident {
            fn to_example(&self) -> #krate::Example {
                #krate::typed_example(self, &[#(#input_names),*])
            }
        }

        #[automatically_derived]
        impl ::core::convert::From<&#example_ident> for #input_ident {
            fn from(example: &#example_ident) -> Self {
                #input_ident { #(#input_fields: ::core::clone::Clone::clone(&example.#input_fields)),* }
            }
        }

        #[automatically_derived]
        impl ::core::convert::From<#example_ident> for #input_ident {
            fn from(example: #example_ident) -> Self {
                #input_ident { #(#input_fields: example.#input_fields),* }
            }
        }
    }
}

/// `impl From<Name> for Example`: the derive's struct is a labelled example.
fn example_from_struct(model: &Model) -> TokenStream {
    let Model { krate, ident, name: sig_name, .. } = model;
    let input_names: Vec<&String> = model.inputs().map(|f| &f.name).collect();
    let count = input_names.len();
    let with = model.fields.iter().map(|f| {
        let (name, field) = (&f.name, &f.ident);
        quote_spanned! {f.ty_span=>
            .with(#name, #krate::__private::serde_json::to_value(value.#field).unwrap_or_else(|e| {
                ::core::panic!("cannot convert field `{}` of `{}` to JSON: {}", #name, #sig_name, e)
            }))
        }
    });
    let doc = format!("A labelled example from [`{ident}`]: every field, the inputs marked as inputs.");
    quote! {
        #[automatically_derived]
        impl ::core::convert::From<#ident> for #krate::Example {
            #[doc = #doc]
            fn from(value: #ident) -> Self {
                let inputs: [&str; #count] = [#(#input_names),*];
                #krate::Example::new() #(#with)* .with_inputs(inputs)
            }
        }
    }
}

/// For `signature!`: the input struct converts from the tuple of its fields (each element
/// `Into` the field's type), and from `&str` / `String` when its only field is a `String`.
pub fn input_conversions(model: &Model, single_string: bool) -> TokenStream {
    let Model { input_ident, .. } = model;
    let inputs: Vec<&ModelField> = model.inputs().collect();
    let params: Vec<_> = (0..inputs.len()).map(|i| format_ident!("__DspyArg{}", i)).collect();
    let values: Vec<_> = (0..inputs.len()).map(|i| format_ident!("__dspy_arg{}", i)).collect();
    let idents = inputs.iter().map(|f| &f.ident);
    let types = inputs.iter().map(|f| &f.ty);
    let tuple = quote!((#(#params,)*));
    let mut out = quote! {
        #[automatically_derived]
        impl<#(#params: ::core::convert::Into<#types>),*> ::core::convert::From<#tuple> for #input_ident {
            fn from((#(#values,)*): #tuple) -> Self {
                #input_ident { #(#idents: ::core::convert::Into::into(#values)),* }
            }
        }
    };
    if single_string {
        let field = &inputs[0].ident;
        out.extend(quote! {
            #[automatically_derived]
            impl ::core::convert::From<&str> for #input_ident {
                fn from(value: &str) -> Self {
                    #input_ident { #field: ::std::string::String::from(value) }
                }
            }
            #[automatically_derived]
            impl ::core::convert::From<::std::string::String> for #input_ident {
                fn from(value: ::std::string::String) -> Self {
                    #input_ident { #field: value }
                }
            }
        });
    }
    out
}
