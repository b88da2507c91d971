use dspy::prelude::*;

/// Name the capital of the country.
#[derive(Signature)]
struct City {
    #[input]
    country: String,
    #[output]
    city: String,
}

async fn evaluate(devset: Vec<CityExample>) -> Result<f64> {
    let program = Predict::<City>::new();
    let metric = |gold: &CityExample, pred: &CityOutput| format!("{} vs {}", gold.city, pred.city);
    let result = Evaluate::new(devset, metric).run(&program).await?;
    Ok(result.score)
}

fn main() {
    let _ = evaluate;
}
