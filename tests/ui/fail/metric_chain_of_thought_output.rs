use dspy::prelude::*;

/// Name the capital of the country.
#[derive(Signature)]
struct City {
    #[input]
    country: String,
    #[output]
    city: String,
}

// `ChainOfThought<City>` outputs `Reasoned<CityOutput>` (the reasoning, then the outputs), so a
// metric over `CityOutput` does not score it.
async fn evaluate(devset: Vec<CityExample>) -> Result<f64> {
    let program = ChainOfThought::<City>::new();
    let metric = |gold: &CityExample, pred: &CityOutput| gold.city == pred.city;
    let result = Evaluate::new(devset, metric).run(&program).await?;
    Ok(result.score)
}

fn main() {
    let _ = evaluate;
}
