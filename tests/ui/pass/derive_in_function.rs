#![deny(warnings)]

use dspy::prelude::*;

fn main() {
    /// Translate to French.
    #[derive(Signature)]
    struct Translate {
        #[input]
        english: String,
        #[output]
        french: String,
    }

    let demo: Example = Translate { english: "cat".into(), french: "chat".into() }.into();
    let p = Predict::<Translate>::new().with_demos([demo]);
    let _ = p.call(TranslateInput { english: "dog".into() });
}
