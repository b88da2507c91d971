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

async fn evaluate(devset: Vec<CityExample>) -> Result<f64> {
    let program = Predict::<Language>::new();
    let metric = |gold: &LanguageExample, pred: &LanguageOutput| gold.language == pred.language;
    let result = Evaluate::new(devset, metric).run(&program).await?;
    Ok(result.score)
}

fn main() {
    let _ = evaluate;
}
