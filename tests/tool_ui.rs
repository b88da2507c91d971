//! Compile-time errors of `#[dspy::tool]` (with spans), and the forms it accepts.

#[test]
fn tool_macro_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/tool/pass/*.rs");
    t.compile_fail("tests/ui/tool/fail/*.rs");
}
