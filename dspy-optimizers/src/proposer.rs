//! What the instruction-proposing optimizers send to their prompt model: DSPy's signatures
//! (instructions, fields, descriptions and prefixes exactly as DSPy 3.4.1 has them), DSPy's
//! prompting tips, the text helpers that render examples and clean proposals, and
//! [`predict_once`], the one-call helper every proposal goes through (so proposals are
//! charged to the compilation's [`Budget`](crate::engine::Budget)).
//!
//! | optimizer | signatures |
//! | --- | --- |
//! | COPRO | [`basic_generate_instruction`], [`generate_instruction_given_attempts`] |
//! | MIPROv2 | [`describe_program`], [`describe_module`], [`generate_single_module_instruction`], [`dataset_descriptor`], [`dataset_descriptor_with_prior_observations`], [`observation_summarizer`] |
//! | SIMBA | [`offer_feedback`] |
//! | GEPA | [`propose_instruction`] |

use std::sync::Arc;

use dspy_core::module::Predict;
use dspy_core::signature::{Field, FieldType, Signature};
use dspy_core::{Adapter, Error, Example, LanguageModel, LmConfig, Prediction, Result, Settings, settings, trace, usage};
use serde_json::{Map, Value};

use crate::engine::Engine;

fn sig(name: &str, instructions: &str, fields: Vec<Field>) -> Signature {
    // The fields are fixed and valid, so `from_fields` cannot fail on them; the fallback keeps
    // this total without a panic.
    Signature::from_fields(name, Some(instructions.to_string()), fields).unwrap_or_else(|_| Signature::new(name, instructions))
}

fn input(name: &str, desc: &str) -> Field {
    Field::input(name, FieldType::Str).desc(desc)
}

fn output(name: &str, desc: &str) -> Field {
    Field::output(name, FieldType::Str).desc(desc)
}

const COPRO_PROPOSED_INSTRUCTION: &str = "The improved instructions for the language model";
const COPRO_PROPOSED_PREFIX: &str = "The string at the end of the prompt, which will help the model start solving the task";

/// COPRO's `BasicGenerateInstruction`: proposes an instruction (and an output prefix) from the
/// predictor's current instruction.
pub(crate) fn basic_generate_instruction() -> Signature {
    sig(
        "BasicGenerateInstruction",
        "You are an instruction optimizer for large language models. I will give you a ``signature`` of fields (inputs and outputs) in English. Your task is to propose an instruction that will lead a good language model to perform the task well. Don't be afraid to be creative.",
        vec![
            input("basic_instruction", "The initial instructions before optimization"),
            output("proposed_instruction", COPRO_PROPOSED_INSTRUCTION),
            output("proposed_prefix_for_output_field", COPRO_PROPOSED_PREFIX),
        ],
    )
}

/// COPRO's `GenerateInstructionGivenAttempts`: proposes a better instruction from the
/// instructions tried so far with their scores (in increasing order of score).
pub(crate) fn generate_instruction_given_attempts() -> Signature {
    sig(
        "GenerateInstructionGivenAttempts",
        "You are an instruction optimizer for large language models. I will give some task instructions I've tried, along with their corresponding validation scores. The instructions are arranged in increasing order based on their scores, where higher scores indicate better quality.\n\nYour task is to propose a new instruction that will lead a good language model to perform the task even better. Don't be afraid to be creative.",
        vec![
            Field::input("attempted_instructions", FieldType::Str),
            output("proposed_instruction", COPRO_PROPOSED_INSTRUCTION),
            output("proposed_prefix_for_output_field", COPRO_PROPOSED_PREFIX),
        ],
    )
}

/// MIPROv2's `DescribeProgram`: what the program does, from its pseudo-code and an example.
pub(crate) fn describe_program() -> Signature {
    sig(
        "DescribeProgram",
        "Below is some pseudo-code for a pipeline that solves tasks with calls to language models. Please describe what type of task this program appears to be designed to solve, and how it appears to work.",
        vec![
            input("program_code", "Pseudocode for a language model program designed to solve a particular task."),
            input("program_example", "An example of the program in use."),
            output("program_description", "Describe what task the program is designed to solve, and how it goes about solving this task."),
        ],
    )
}

/// MIPROv2's `DescribeModule`: the role of one module in the program.
pub(crate) fn describe_module() -> Signature {
    sig(
        "DescribeModule",
        "Below is some pseudo-code for a pipeline that solves tasks with calls to language models. Please describe the purpose of one of the specified module in this pipeline.",
        vec![
            input("program_code", "Pseudocode for a language model program designed to solve a particular task."),
            input("program_example", "An example of the program in use."),
            input("program_description", "Summary of the task the program is designed to solve, and how it goes about solving it."),
            input("module", "The module in the program that we want to describe."),
            output("module_description", "Description of the module's role in the broader program."),
        ],
    )
}

/// Which inputs MIPROv2's `GenerateSingleModuleInstruction` has (DSPy builds the class with
/// these switches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProposalInputs {
    /// `dataset_description`.
    pub dataset_summary: bool,
    /// `program_code`, `program_description`, `module`, `module_description`.
    pub program_aware: bool,
    /// `previous_instructions`.
    pub instruct_history: bool,
    /// `tip`.
    pub tip: bool,
}

/// MIPROv2's `GenerateSingleModuleInstruction` with the inputs `which` selects (`task_demos`
/// and `basic_instruction` are always there).
pub(crate) fn generate_single_module_instruction(which: ProposalInputs) -> Signature {
    let mut fields = Vec::new();
    if which.dataset_summary {
        fields.push(input("dataset_description", "A description of the dataset that we are using."));
    }
    if which.program_aware {
        fields.push(input("program_code", "Language model program designed to solve a particular task."));
        fields.push(input("program_description", "Summary of the task the program is designed to solve, and how it goes about solving it."));
        fields.push(input("module", "The module to create an instruction for."));
        fields.push(input("module_description", "Description of the module to create an instruction for."));
    }
    fields.push(input("task_demos", "Example inputs/outputs of our module."));
    if which.instruct_history {
        fields.push(input("previous_instructions", "Previous instructions we've attempted, along with their associated scores."));
    }
    fields.push(input("basic_instruction", "Basic instruction."));
    if which.tip {
        fields.push(input("tip", "A suggestion for how to go about generating the new instruction."));
    }
    fields.push(output("proposed_instruction", "Propose an instruction that will be used to prompt a Language Model to perform this task."));
    sig(
        "GenerateSingleModuleInstruction",
        "Use the information below to learn about a task that we are trying to solve using calls to an LM, then generate a new instruction that will be used to prompt a Language Model to better solve the task.",
        fields,
    )
}

/// The dataset summary's `DatasetDescriptor`: observations about a batch of examples.
pub(crate) fn dataset_descriptor() -> Signature {
    sig(
        "DatasetDescriptor",
        "Given several examples from a dataset please write observations about trends that hold for most or all of the samples. Some areas you may consider in your observations: topics, content, syntax, conciseness, etc. It will be useful to make an educated guess as to the nature of the task this dataset will enable. Don't be afraid to be creative",
        vec![
            input("examples", "Sample data points from the dataset"),
            output("observations", "Somethings that holds true for most or all of the data you observed"),
        ],
    )
}

/// The dataset summary's `DatasetDescriptorWithPriorObservations` (answers `COMPLETE` when it
/// has nothing to add).
pub(crate) fn dataset_descriptor_with_prior_observations() -> Signature {
    sig(
        "DatasetDescriptorWithPriorObservations",
        "Given several examples from a dataset please write observations about trends that hold for most or all of the samples. I will also provide you with a few observations I have already made.  Please add your own observations or if you feel the observations are comprehensive say 'COMPLETE' Some areas you may consider in your observations: topics, content, syntax, conciceness, etc. It will be useful to make an educated guess as to the nature of the task this dataset will enable. Don't be afraid to be creative",
        vec![
            input("examples", "Sample data points from the dataset"),
            input("prior_observations", "Some prior observations I made about the data"),
            output("observations", "Somethings that holds true for most or all of the data you observed or COMPLETE if you have nothing to add"),
        ],
    )
}

/// The dataset summary's `ObservationSummarizer`.
pub(crate) fn observation_summarizer() -> Signature {
    sig(
        "ObservationSummarizer",
        "Given a series of observations I have made about my dataset, please summarize them into a brief 2-3 sentence summary which highlights only the most important details.",
        vec![
            input("observations", "Observations I have made about my dataset"),
            output("summary", "Two to Three sentence summary of only the most significant highlights of my observations"),
        ],
    )
}

/// SIMBA's `OfferFeedback`: contrasts a better and a worse trajectory and gives each module
/// advice (`module_advice: dict[str, str]`).
pub(crate) fn offer_feedback() -> Signature {
    let traj = "The trajectory of the program's execution, showing each module's I/O";
    let outs = "The outputs of the program that we are analyzing";
    let reward = "The reward value assigned to the program's outputs";
    let info = "Additional information that might be helpful to understanding the assigned reward value.";
    sig(
        "OfferFeedback",
        "You will be given two trajectories of an LLM-driven program's execution. Your goal is to help the program's modules\nbuild up experience on how to maximize the reward value assigned to the program's outputs if it were to receive\nsimilar inputs in the future.\n\nThe module won't see its own history. It will rely on your advice balancing being concrete and being generalizable.\n\nIn your advice:\n- Avoid boilerplate. Offer advice that would change the module's behavior for the better in the future.\n- Ensure that advice offered to a module M is specific to that M's specific sub-task, not the overall program.\n- Rely on contrasting the behavior of the worse trajectory against the better trajectory in making recommendations.\n- Ensure each unique module name appears exactly once as a key in the advice dictionary.",
        vec![
            input("program_code", "The code of the program that we are analyzing"),
            input("modules_defn", "The definition of each module in the program, including its I/O"),
            input("program_inputs", "The inputs to the program that we are analyzing"),
            input("oracle_metadata", "Any (hidden) metadata about the training set instance we're analyzing"),
            input("worse_program_trajectory", traj),
            input("worse_program_outputs", outs),
            Field::input("worse_reward_value", FieldType::Float).desc(reward),
            input("worse_reward_info", info),
            input("better_program_trajectory", traj),
            input("better_program_outputs", outs),
            Field::input("better_reward_value", FieldType::Float).desc(reward),
            input("better_reward_info", info),
            Field::input("module_names", FieldType::list(FieldType::Str))
                .desc("The names of the modules in the program, for which we seek advice"),
            output("discussion", "Discussing blame of where each module went wrong, if it did"),
            Field::output("module_advice", FieldType::dict(FieldType::Str)).desc(
                "For each module, describe very concretely: If the module receives ${description of input or patterns therein}, then it should ${description of content, behavior, or strategies to adopt and/or others to avoid}. Basically, your advice be such that if the module has access to your tip, it would be much more likely to act like the successful trajectory rather than the lower-scoring trajectory.",
            ),
        ],
    )
}

/// GEPA's `ProposeInstruction` (DSPy's built-in `InstructionProposer`, sent with the JSON
/// adapter): a new instruction from the current one and examples with feedback.
pub(crate) fn propose_instruction() -> Signature {
    sig(
        "ProposeInstruction",
        "I provided an assistant with instructions to perform a task for me. You are given those instructions, along with examples of different task inputs provided to the assistant, the assistant's response for each of them, and some feedback on how the assistant's response could be better.\n\nYour task is to write a new instruction for the assistant.\n\nRead the inputs carefully and identify the input format and infer detailed task description about the task I wish to solve with the assistant.\n\nRead all the assistant responses and the corresponding feedback. Identify all niche and domain specific factual information about the task and include it in the instruction, as a lot of it may not be available to the assistant in the future. The assistant may have utilized a generalizable strategy to solve the task, if so, include that in the instruction as well.",
        vec![
            input("current_instruction", "The instructions I provided to the assistant."),
            Field::input("examples_with_feedback", FieldType::list(FieldType::dict(FieldType::Any))).desc(
                "Task inputs provided to the assistant, the assistant's response for each, and feedback on how the response could be better.",
            ),
            output("new_instruction", "The new instruction for the assistant."),
        ],
    )
}

/// DSPy's prompting tips for MIPROv2's proposer, in DSPy's order (`none` is the empty tip).
pub(crate) const TIPS: [(&str, &str); 6] = [
    ("none", ""),
    ("creative", "Don't be afraid to be creative when creating the new instruction!"),
    ("simple", "Keep the instruction clear and concise."),
    ("description", "Make sure your instruction is very informative and descriptive."),
    ("high_stakes", "The instruction should include a high stakes scenario in which the LM must solve the task!"),
    ("persona", "Include a persona that is relevant to the task in the instruction (ie. \"You are a ...\")"),
];

/// DSPy's `strip_prefix`: removes a leading label of up to five words and a colon
/// (`"Proposed Instruction: ..."`, `"**Answer:** ..."`), then surrounding double quotes.
pub(crate) fn strip_prefix(text: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '\'' || c == '-';
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let mut i = 0;
    while i < n && (chars[i].1 == '*' || chars[i].1.is_whitespace()) {
        i += 1;
    }
    let mut words = 0;
    let mut cut = None;
    loop {
        let start = i;
        while i < n && is_word(chars[i].1) {
            i += 1;
        }
        if i == start {
            break;
        }
        words += 1;
        if i < n && chars[i].1 == ':' {
            let mut j = i + 1;
            while j < n && chars[j].1.is_whitespace() {
                j += 1;
            }
            cut = Some(if j < n { chars[j].0 } else { text.len() });
            break;
        }
        if words == 5 {
            break;
        }
        let ws = i;
        while i < n && chars[i].1.is_whitespace() {
            i += 1;
        }
        if i == ws {
            break;
        }
    }
    let rest = match cut {
        Some(at) => &text[at..],
        None => text,
    };
    rest.trim_matches('"').to_string()
}

/// Python's `repr` of a DSPy `Example` (`Example({...}) (input_keys={...})`), with the input
/// keys sorted as DSPy's `order_input_keys_in_string` leaves them; fields starting with
/// `dspy_` are left out, as DSPy does.
pub(crate) fn example_repr(example: &Example) -> String {
    let data: Map<String, Value> = example.data().iter().filter(|(k, _)| !k.starts_with("dspy_")).map(|(k, v)| (k.clone(), v.clone())).collect();
    let keys = match example.input_keys() {
        None => "None".to_string(),
        Some([]) => "set()".to_string(),
        Some(keys) => {
            let mut quoted: Vec<String> = keys.iter().map(|k| dspy_core::python::str_repr(k)).collect();
            quoted.sort();
            quoted.dedup();
            format!("{{{}}}", quoted.join(", "))
        }
    };
    format!("Example({}) (input_keys={keys})", dspy_core::python::py_repr(&Value::Object(data)))
}

/// Python's `repr` of a list of examples (what the dataset summary shows the prompt model).
pub(crate) fn examples_repr(examples: &[Example]) -> String {
    format!("[{}]", examples.iter().map(example_repr).collect::<Vec<_>>().join(", "))
}

/// DSPy's `create_example_string`: one line per field of `signature`, `"{prefix} {value}"`
/// (`None` for a value the example lacks).
pub(crate) fn create_example_string(signature: &Signature, example: &Example) -> String {
    signature
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.prefix, example.get(&f.name).map(dspy_core::python::py_str).unwrap_or_else(|| "None".into())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `module` string of the program-aware proposer: `Predict(question) -> reasoning, answer`.
pub(crate) fn module_code(signature: &Signature) -> String {
    let names = |it: &mut dyn Iterator<Item = &Field>| it.map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
    format!("Predict({}) -> {}", names(&mut signature.input_fields()), names(&mut signature.output_fields()))
}

/// Calls `signature` once with `inputs` on `lm` (the settings' LM when `None`), with `config`
/// (temperature, `n`...) and `adapter` (the settings' when `None`), charging the LM calls to
/// `engine`'s budget. Refuses (with [`Error::BudgetSpent`]) once the budget's LM calls are spent.
pub(crate) async fn predict_once(
    engine: &Engine,
    lm: Option<&Arc<dyn LanguageModel>>,
    signature: Signature,
    inputs: Map<String, Value>,
    config: LmConfig,
    adapter: Option<Arc<dyn Adapter>>,
) -> Result<Prediction> {
    if !engine.budget_ref().try_start_unscored() {
        return Err(Error::BudgetSpent { resource: "LM-call" });
    }
    let mut predict = Predict::from_signature(signature).with_config(config);
    if let Some(adapter) = adapter {
        predict = predict.with_adapter(adapter);
    }
    let run = async {
        let fut = trace::collect(predict.forward_map(&inputs));
        match lm {
            Some(lm) => settings::context(Settings::new().lm(lm.clone()), fut).await,
            None => fut.await,
        }
    };
    let ((result, entries), used) = usage::track(run).await;
    engine.budget_ref().record_lm_calls(used.total().calls.max(entries.len() as u64));
    result
}

/// Builds an input map from `(name, value)` pairs.
pub(crate) fn inputs<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_dspy() {
        let s = generate_instruction_given_attempts();
        assert!(s.instructions().starts_with("You are an instruction optimizer"));
        assert!(s.instructions().contains("quality.\n\nYour task"));
        assert_eq!(s.field("attempted_instructions").unwrap().description(), "");
        assert_eq!(s.field("proposed_prefix_for_output_field").unwrap().prefix, "Proposed Prefix For Output Field:");
        let f = offer_feedback();
        assert_eq!(f.input_fields().count(), 13);
        assert_eq!(f.field("module_advice").unwrap().ty, FieldType::dict(FieldType::Str));
        assert_eq!(f.field("module_names").unwrap().prefix, "Module Names:");
        let p = propose_instruction();
        assert_eq!(p.to_short_string(), "current_instruction, examples_with_feedback -> new_instruction");
        let minimal = generate_single_module_instruction(ProposalInputs { dataset_summary: false, program_aware: false, instruct_history: false, tip: false });
        assert_eq!(minimal.to_short_string(), "task_demos, basic_instruction -> proposed_instruction");
        assert_eq!(describe_module().input_fields().count(), 4);
        assert!(dataset_descriptor_with_prior_observations().instructions().contains("made.  Please"));
        assert_eq!(observation_summarizer().field("summary").unwrap().prefix, "Summary:");
        assert_eq!(TIPS.len(), 6);
    }

    #[test]
    fn strip_prefix_follows_dspy() {
        assert_eq!(strip_prefix("  Instruction: x"), "x");
        assert_eq!(strip_prefix("one two three four five: x"), "x");
        assert_eq!(strip_prefix("one two three four five six: x"), "one two three four five six: x");
        assert_eq!(strip_prefix("\"quoted\""), "quoted");
        assert_eq!(strip_prefix("No label here."), "No label here.");
        assert_eq!(strip_prefix("Label:"), "");
    }

    #[test]
    fn example_repr_is_pythons() {
        let ex = Example::new().with("question", "What's 2+2?").with("answer", "4").with("n", 3).with("l", serde_json::json!([1, "a"])).with_inputs(["question", "n"]);
        assert_eq!(
            examples_repr(&[ex, Example::new().with("a", Value::Null)]),
            "[Example({'question': \"What's 2+2?\", 'answer': '4', 'n': 3, 'l': [1, 'a']}) (input_keys={'n', 'question'}), Example({'a': None}) (input_keys=None)]"
        );
    }
}

#[cfg(test)]
mod examples {
    //! The examples of this file's crate-internal items (they were doc examples).

    #[test]
    fn module_overview() {
        let sig = crate::proposer::basic_generate_instruction();
        assert_eq!(sig.to_short_string(), "basic_instruction -> proposed_instruction, proposed_prefix_for_output_field");
        assert_eq!(sig.field("basic_instruction").unwrap().prefix, "Basic Instruction:");
    }

    #[test]
    fn generate_single_module_instruction() {
        use crate::proposer::{ProposalInputs, generate_single_module_instruction};
        let all = ProposalInputs { dataset_summary: true, program_aware: true, instruct_history: false, tip: true };
        assert_eq!(
            generate_single_module_instruction(all).to_short_string(),
            "dataset_description, program_code, program_description, module, module_description, task_demos, basic_instruction, tip -> proposed_instruction"
        );
    }

    #[test]
    fn strip_prefix() {
        use crate::proposer::strip_prefix;
        assert_eq!(strip_prefix("Proposed Instruction: Solve it."), "Solve it.");
        assert_eq!(strip_prefix("**New instruction: \"Be brief.\""), "Be brief.");
        assert_eq!(strip_prefix("Solve it: carefully"), "carefully");
        assert_eq!(strip_prefix("Read this, then: act"), "Read this, then: act");
    }

    #[test]
    fn example_repr() {
        use dspy_core::Example;
        let ex = Example::new().with("question", "2+2?").with("answer", "4").with_inputs(["question"]);
        assert_eq!(crate::proposer::example_repr(&ex), "Example({'question': '2+2?', 'answer': '4'}) (input_keys={'question'})");
    }

    #[test]
    fn create_example_string() {
        use dspy_core::{Example, Signature};
        let sig = Signature::parse("question -> answer").unwrap();
        let demo = Example::new().with("question", "2+2?").with("answer", "4");
        assert_eq!(crate::proposer::create_example_string(&sig, &demo), "Question: 2+2?\nAnswer: 4");
    }
}
