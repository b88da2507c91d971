use dspy::prelude::*;

/// Name the capital of the country.
#[derive(Signature)]
struct City {
    #[input]
    country: String,
    #[output]
    city: String,
}

// A `forward` returning `Result<Prediction>` makes a dynamic module: it has no typed output
// for a typed metric to read.
#[module]
struct Capital {
    predict: Predict<City>,
}

#[module]
impl Capital {
    async fn forward(&self, country: String) -> Result<Prediction> {
        let out = self.predict.call(CityInput { country }).await?;
        Ok(out.prediction().clone())
    }
}

async fn evaluate(program: &Capital, devset: Vec<CityExample>) -> Result<f64> {
    let metric = |gold: &CityExample, pred: &CityOutput| gold.city == pred.city;
    let result = Evaluate::new(devset, metric).run(program).await?;
    Ok(result.score)
}

fn main() {
    let _ = evaluate;
}
