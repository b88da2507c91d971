//! Rust field types of `#[derive(Signature)]` to `FieldType` expressions, by syntax.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{GenericArgument, Path, PathArguments, Type, TypePath};

fn unsupported(ty: &impl quote::ToTokens, message: impl std::fmt::Display) -> syn::Error {
    syn::Error::new_spanned(ty, message)
}

/// An expression building the `FieldType` of a field of Rust type `ty`.
pub fn field_type(ty: &Type, krate: &Path) -> syn::Result<TokenStream> {
    match ty {
        Type::Group(g) => field_type(&g.elem, krate),
        Type::Paren(p) => field_type(&p.elem, krate),
        Type::Path(tp) => path_type(ty, tp, krate),
        Type::Reference(_) => Err(unsupported(
            ty,
            "references are not supported in signatures: use an owned type such as `String` or `Vec<T>`",
        )),
        Type::Tuple(t) if t.elems.is_empty() => Err(unsupported(ty, "`()` is not a supported field type")),
        Type::Tuple(_) => Err(unsupported(
            ty,
            "tuples are not supported in derived signatures: use a struct deriving `Serialize`, `Deserialize` and `JsonSchema`",
        )),
        Type::Array(_) | Type::Slice(_) => {
            Err(unsupported(ty, "arrays and slices are not supported in signatures: use `Vec<T>`"))
        }
        Type::FnPtr(_) => Err(unsupported(ty, "function pointers cannot be signature fields")),
        Type::TraitObject(_) => Err(unsupported(
            ty,
            "trait objects cannot be signature fields: use a concrete type deriving `Serialize`, `Deserialize` and `JsonSchema`",
        )),
        Type::ImplTrait(_) => Err(unsupported(ty, "`impl Trait` cannot be a signature field type")),
        Type::Ptr(_) => Err(unsupported(ty, "raw pointers cannot be signature fields")),
        _ => Err(unsupported(ty, "unsupported signature field type")),
    }
}

/// The single type argument of `Vec<T>` and the like.
fn type_args(tp: &TypePath) -> Vec<&GenericArgument> {
    match &tp.path.segments.last().expect("a path has a segment").arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().collect(),
        _ => Vec::new(),
    }
}

fn one_type_arg<'a>(ty: &Type, tp: &'a TypePath, name: &str) -> syn::Result<&'a Type> {
    match type_args(tp).as_slice() {
        [GenericArgument::Type(t)] => Ok(t),
        _ => Err(unsupported(ty, format!("expected `{name}<T>` with one type argument"))),
    }
}

fn is_ident_type(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Group(g) => is_ident_type(&g.elem, name),
        Type::Paren(p) => is_ident_type(&p.elem, name),
        Type::Path(tp) => {
            tp.qself.is_none() && tp.path.segments.last().is_some_and(|s| s.ident == name && s.arguments.is_empty())
        }
        _ => false,
    }
}

fn path_type(ty: &Type, tp: &TypePath, krate: &Path) -> syn::Result<TokenStream> {
    let ft = quote!(#krate::FieldType);
    if tp.qself.is_some() {
        return Err(unsupported(ty, "qualified paths (`<T as Trait>::X`) are not supported: name the type directly"));
    }
    let segments: Vec<String> = tp.path.segments.iter().map(|s| s.ident.to_string()).collect();
    let last = tp.path.segments.last().expect("a path has a segment");
    let name = last.ident.to_string();
    let plain = last.arguments.is_empty();
    // `Value` or `serde_json::Value`; `Image` or `dspy::Image`.
    let qualified_by = |module: &str| segments.len() == 1 || segments[segments.len() - 2] == module;
    match name.as_str() {
        "String" if plain => return Ok(quote!(#ft::Str)),
        "i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize" if plain => {
            return Ok(quote!(#ft::Int));
        }
        "f32" | "f64" if plain => return Ok(quote!(#ft::Float)),
        "bool" if plain => return Ok(quote!(#ft::Bool)),
        "str" if plain => return Err(unsupported(ty, "`str` is unsized: use `String`")),
        "char" if plain => {
            return Err(unsupported(ty, "`char` is not supported in signatures: use `String`"));
        }
        "i128" | "u128" if plain => {
            return Err(unsupported(
                ty,
                "128-bit integers are not supported in signatures (JSON numbers do not hold them): use `i64`, `u64` or `String`",
            ));
        }
        "Self" => return Err(unsupported(ty, "`Self` is not supported in signature fields: name the type")),
        "Value" if plain && qualified_by("serde_json") => return Ok(quote!(#ft::Any)),
        "Image" if plain && qualified_by("dspy") => return Ok(quote!(#ft::Image)),
        "Audio" if plain && qualified_by("dspy") => return Ok(quote!(#ft::Audio)),
        "Vec" | "VecDeque" | "HashSet" | "BTreeSet" => {
            let inner = field_type(one_type_arg(ty, tp, &name)?, krate)?;
            return Ok(quote!(#ft::list(#inner)));
        }
        "Option" => {
            let inner = field_type(one_type_arg(ty, tp, &name)?, krate)?;
            return Ok(quote!(#ft::optional(#inner)));
        }
        "Box" | "Arc" => return field_type(one_type_arg(ty, tp, &name)?, krate),
        "HashMap" | "BTreeMap" | "IndexMap" => {
            let args = type_args(tp);
            let types: Vec<&Type> = args
                .iter()
                .filter_map(|a| match a {
                    GenericArgument::Type(t) => Some(t),
                    _ => None,
                })
                .collect();
            // `HashMap<K, V, S>` has a hasher parameter; keys and values come first.
            if types.len() < 2 {
                return Err(unsupported(ty, format!("expected `{name}<String, V>`")));
            }
            if !is_ident_type(types[0], "String") {
                return Err(syn::Error::new(
                    types[0].span(),
                    "map keys must be `String` in signatures (JSON object keys are strings)",
                ));
            }
            let value = field_type(types[1], krate)?;
            return Ok(quote!(#ft::dict(#value)));
        }
        _ => {}
    }
    // A user model or enum: schemars describes it at run time.
    Ok(quote!(#krate::named_type::<#ty>()))
}
