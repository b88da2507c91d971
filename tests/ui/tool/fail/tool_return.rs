struct Weather {
    celsius: f64,
}

/// The weather.
#[dspy::tool]
fn weather(city: String) -> Weather {
    let _ = city;
    Weather { celsius: 21.0 }
}

fn main() {
    let _ = weather_tool();
    let _ = weather("Oslo".into()).celsius;
}
