//! Checks that turn mistakes into errors at the user's span.

use std::collections::HashMap;

use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

use crate::ast::Model;
use crate::attr::Errors;

/// `#[derive(Signature)]` works on non-generic structs with named fields only.
pub fn derive_shape(input: &DeriveInput) -> syn::Result<()> {
    let ident = &input.ident;
    match &input.data {
        Data::Enum(e) => {
            let enum_token = e.enum_token;
            return Err(syn::Error::new_spanned(
                quote!(#enum_token #ident),
                "`#[derive(Signature)]` needs a struct with named fields, not an enum \
                 (to use an enum as a field type, derive `Serialize`, `Deserialize` and `JsonSchema` on it)",
            ));
        }
        Data::Union(u) => {
            let union_token = u.union_token;
            return Err(syn::Error::new_spanned(
                quote!(#union_token #ident),
                "`#[derive(Signature)]` needs a struct with named fields, not a union",
            ));
        }
        Data::Struct(s) => match &s.fields {
            Fields::Named(_) => {}
            Fields::Unnamed(fields) => {
                return Err(syn::Error::new(
                    fields.span(),
                    "`#[derive(Signature)]` needs named fields (`struct Name { question: String, ... }`): \
                     field names are the names of a signature's inputs and outputs",
                ));
            }
            Fields::Unit => {
                return Err(syn::Error::new(
                    ident.span(),
                    "`#[derive(Signature)]` needs a struct with named fields, at least one of them `#[output]`",
                ));
            }
        },
    }
    let generics = &input.generics;
    if let Some(param) = generics.params.first() {
        let message = match param {
            syn::GenericParam::Lifetime(_) => {
                "signatures cannot have lifetime parameters: their fields must be owned (`String`, not `&str`)"
            }
            _ => "generic signatures are not supported: a signature's field types must be concrete",
        };
        return Err(syn::Error::new_spanned(&generics.params, message));
    }
    if let Some(where_clause) = &generics.where_clause {
        return Err(syn::Error::new_spanned(where_clause, "signatures cannot have `where` clauses"));
    }
    Ok(())
}

/// A signature needs an output, and field names (after `rename`) must be unique.
pub fn model(model: &Model) -> syn::Result<()> {
    let mut errors = Errors::default();
    if model.outputs().next().is_none() {
        errors.push(syn::Error::new(
            model.span,
            format!("signature `{}` has no output field: mark at least one field `#[output]`", model.name),
        ));
    }
    let mut seen: HashMap<&str, String> = HashMap::new();
    for field in &model.fields {
        let rust_name = syn::ext::IdentExt::unraw(&field.ident).to_string();
        match seen.get(field.name.as_str()) {
            Some(first) => errors.push(syn::Error::new(
                field.name_span,
                format!(
                    "duplicate field name `{}`: fields `{first}` and `{rust_name}` would both be called `{}` in prompts",
                    field.name, field.name
                ),
            )),
            None => {
                seen.insert(&field.name, rust_name);
            }
        }
    }
    errors.finish()
}
