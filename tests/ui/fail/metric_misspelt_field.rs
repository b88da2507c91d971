use dspy::prelude::*;

/// Name the capital of the country.
#[derive(Signature)]
struct City {
    #[input]
    country: String,
    #[output]
    city: String,
}

fn main() {
    let _metric = |gold: &CityExample, pred: &CityOutput| gold.city == pred.cty;
}
