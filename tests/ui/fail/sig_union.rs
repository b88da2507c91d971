use dspy::prelude::*;

fn main() {
    let _ = signature!("text -> value: int | str");
    let _ = signature!("text -> value: Union[int, float, None]");
}
