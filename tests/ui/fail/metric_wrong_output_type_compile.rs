use dspy::optimizers::{LabeledFewShot, Optimizer};
use dspy::prelude::*;

/// Name the capital of the country.
#[derive(Signature)]
struct City {
    #[input]
    country: String,
    #[output]
    city: String,
}

/// Name the country's official language.
#[derive(Signature)]
struct Language {
    #[input]
    country: String,
    #[output]
    language: String,
}

async fn optimize(trainset: Vec<CityExample>) -> Result<Predict<Language>> {
    let student = Predict::<Language>::new();
    let metric = |gold: &CityExample, pred: &CityOutput| gold.city == pred.city;
    let compiled = LabeledFewShot::new(4).compile(&student, &trainset, metric).await?;
    Ok(compiled.program)
}

fn main() {
    let _ = optimize;
}
