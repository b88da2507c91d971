//! What the macros emit beside their errors: stand-ins for the items they would have generated,
//! so that code using them (`NameInput`, `NameOutput`, `Predict::<Name>`, a program's `Module`
//! impl) adds no cascade of "cannot find type" errors to the one real mistake, as thiserror's
//! fallback does. The stand-ins have the fields that could be read and trait impls whose bodies
//! are `unimplemented!()`: the program never runs, since it does not compile.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DeriveInput, Ident, Path, Type, Visibility};

use crate::ast::{Kind, Model};
use crate::attr::{self, ItemArgs};
use crate::types;

/// One field of a stand-in struct.
pub struct StubField {
    pub ident: Ident,
    pub ty: TokenStream,
    pub kind: Kind,
}

/// `#[derive(Signature)]` failed: the input and output structs with the fields whose kind and
/// type could be read, the `TypedSignature` impl and the `Example` conversion.
pub fn derive(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let krate = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("signature"))
        .filter_map(|a| attr::attr_args::<ItemArgs>(a).ok()?.krate)
        .next_back();
    let krate = attr::krate_or_default(krate);
    let mut fields = Vec::new();
    // `TypedSignature` asks `Send + Sync` of the struct: only claim it when every field type is
    // one the derive accepts, lest a rejected type (a trait object, say) add errors of its own.
    let mut types_accepted = true;
    if let syn::Data::Struct(data) = &input.data {
        for field in &data.fields {
            let accepted = types::field_type(&field.ty, &krate).is_ok();
            types_accepted &= accepted;
            let kind = field.attrs.iter().find_map(|a| {
                if a.path().is_ident("input") {
                    Some(Kind::Input)
                } else if a.path().is_ident("output") {
                    Some(Kind::Output)
                } else {
                    None
                }
            });
            // A field without a known kind, or of a type the derive rejects, is left out: it
            // already has its error.
            let (Some(ident), Some(kind), true) = (&field.ident, kind, accepted) else { continue };
            let ty = &field.ty;
            fields.push(StubField { ident: ident.clone(), ty: quote!(#ty), kind });
        }
    }
    let error = error.into_compile_error();
    let ident = &input.ident;
    let structs = structs(&krate, &input.vis, ident, &fields);
    // A generic type cannot get the impls (the derive rejects generics).
    if !input.generics.params.is_empty() {
        return quote!(#error #structs);
    }
    let typed = types_accepted.then(|| typed_signature(&krate, ident));
    quote! {
        #error
        #structs
        #typed

        #[automatically_derived]
        impl ::core::convert::From<#ident> for #krate::Example {
            fn from(_: #ident) -> Self {
                ::core::unimplemented!()
            }
        }
    }
}

/// A `signature!` signature with errors: `model` holds the fields that resolved.
pub fn signature(model: &Model) -> TokenStream {
    let fields: Vec<StubField> = model
        .fields
        .iter()
        .map(|f| StubField { ident: f.ident.clone(), ty: f.ty.clone(), kind: f.kind })
        .collect();
    let structs = structs(&model.krate, &model.vis, &model.ident, &fields);
    let typed = typed_signature(&model.krate, &model.ident);
    quote! {
        #structs
        #typed
    }
}

/// `impl TypedSignature for Name` over the stand-in structs.
fn typed_signature(krate: &Path, ident: &Ident) -> TokenStream {
    let (input_ident, output_ident) = (format_ident!("{}Input", ident), format_ident!("{}Output", ident));
    quote! {
        #[automatically_derived]
        impl #krate::TypedSignature for #ident {
            type Input = #input_ident;
            type Output = #output_ident;

            fn signature() -> &'static #krate::Signature {
                ::core::unimplemented!()
            }
        }
    }
}

/// `NameInput`, `NameOutput` and `NameExample` with the traits the real structs have (`Debug`,
/// `Clone`, serde, `TypedExample`, the conversions), none of them bounded by the field types.
fn structs(krate: &Path, vis: &Visibility, ident: &Ident, fields: &[StubField]) -> TokenStream {
    let (input_ident, output_ident) = (format_ident!("{}Input", ident), format_ident!("{}Output", ident));
    let serde = quote!(#krate::__private::serde);
    let of_kind = |kind: Kind| {
        fields.iter().filter(move |f| f.kind == kind).map(|StubField { ident, ty, .. }| quote!(pub #ident: #ty))
    };
    let (inputs, outputs) = (of_kind(Kind::Input), of_kind(Kind::Output));
    let common = |name: &Ident| {
        quote! {
            #[automatically_derived]
            impl ::core::fmt::Debug for #name {
                fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    ::core::unimplemented!()
                }
            }

            #[automatically_derived]
            impl ::core::clone::Clone for #name {
                fn clone(&self) -> Self {
                    ::core::unimplemented!()
                }
            }
        }
    };
    let example_ident = format_ident!("{}Example", ident);
    let all = fields.iter().map(|StubField { ident, ty, .. }| quote!(pub #ident: #ty));
    let commons = [&input_ident, &output_ident, &example_ident].map(|name| {
        let common = common(name);
        quote! {
            #common

            #[automatically_derived]
            impl #serde::Serialize for #name {
                fn serialize<__S: #serde::Serializer>(&self, _: __S) -> ::core::result::Result<__S::Ok, __S::Error> {
                    ::core::unimplemented!()
                }
            }

            #[automatically_derived]
            impl<'de> #serde::Deserialize<'de> for #name {
                fn deserialize<__D: #serde::Deserializer<'de>>(_: __D) -> ::core::result::Result<Self, __D::Error> {
                    ::core::unimplemented!()
                }
            }
        }
    });
    quote! {
        #[allow(dead_code, non_snake_case)]
        #vis struct #input_ident {
            #(#inputs,)*
        }

        #[allow(dead_code, non_snake_case)]
        #vis struct #output_ident {
            #(#outputs,)*
        }

        #[allow(dead_code, non_snake_case)]
        #vis struct #example_ident {
            #(#all,)*
        }

        #(#commons)*

        #[automatically_derived]
        impl #krate::TypedExample for #example_ident {
            fn to_example(&self) -> #krate::Example {
                ::core::unimplemented!()
            }
        }

        #[automatically_derived]
        impl ::core::convert::From<&#example_ident> for #input_ident {
            fn from(_: &#example_ident) -> Self {
                ::core::unimplemented!()
            }
        }

        #[automatically_derived]
        impl ::core::convert::From<#example_ident> for #input_ident {
            fn from(_: #example_ident) -> Self {
                ::core::unimplemented!()
            }
        }
    }
}

/// `#[module]` on a struct failed: the struct as written and its predictor walk.
pub fn module_struct(krate: &Path, item: &syn::ItemStruct) -> TokenStream {
    let ident = &item.ident;
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    let predictor = quote!(#krate::Predictor);
    quote! {
        #item

        #[automatically_derived]
        impl #impl_generics #krate::module::ModuleFields for #ident #ty_generics #where_clause {
            fn field_predictors(&self) -> ::std::vec::Vec<(::std::string::String, &dyn #predictor)> {
                ::core::unimplemented!()
            }

            fn field_predictors_mut(&mut self) -> ::std::vec::Vec<(::std::string::String, &mut dyn #predictor)> {
                ::core::unimplemented!()
            }
        }
    }
}

/// `#[module]` on an `impl` block failed: the block as written and the `Module` impl.
pub fn module_impl(krate: &Path, item: &syn::ItemImpl) -> TokenStream {
    if item.trait_.is_some() {
        // Not the program's own block: there is no program type to stand in for.
        return quote!(#item);
    }
    let self_ty: &Type = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    quote! {
        #item

        #[automatically_derived]
        #[#krate::__private::async_trait]
        impl #impl_generics #krate::Module for #self_ty #where_clause {
            async fn forward(&self, _: &#krate::Example) -> #krate::Result<#krate::Prediction> {
                ::core::unimplemented!()
            }

            fn named_predictors(&self) -> ::std::vec::Vec<(::std::string::String, &dyn #krate::Predictor)> {
                ::core::unimplemented!()
            }

            fn named_predictors_mut(&mut self) -> ::std::vec::Vec<(::std::string::String, &mut dyn #krate::Predictor)> {
                ::core::unimplemented!()
            }
        }
    }
}

/// `#[tool]` failed: the function as written and its `{name}_tool()`.
pub fn tool(krate: &Path, func: &syn::ItemFn) -> TokenStream {
    let vis = &func.vis;
    let tool_fn = format_ident!("{}_tool", func.sig.ident.to_string().trim_start_matches("r#"));
    quote! {
        #func

        #vis fn #tool_fn() -> #krate::module::Tool {
            ::core::unimplemented!()
        }
    }
}
