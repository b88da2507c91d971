//! A forgiving reader for JSON-ish LM output: what the reference DSPy 3.4.1 gets from
//! `json_repair.loads`.
//!
//! The behaviour is specified by observation of json_repair 0.64.6 as DSPy 3.4.1 uses it
//! (experiments against the package, and a differential corpus of LM-style texts); no code
//! was taken from it. The design is ours: a cursor over the text's characters, a stack of the
//! *roles* the reader is filling (object key, object value, list item), one reader per kind of
//! value, and named recovery rules, each documented where it applies (`Rule *name*`) and
//! shown by an example in the `recovery_rules` test.
//!
//! LMs write JSON with markdown fences and prose around it, Python spellings (`True`, `None`,
//! single quotes, tuples), comments, trailing commas, unquoted keys and values, quotes inside
//! strings, and they stop mid-value when their token budget runs out. The rules decide what
//! such text means. Several of the reference's choices are odd; we keep them, because matching
//! them is what makes a field parse the same way on both sides.
//!
//! Guarantees: never panics; nesting beyond [`MAX_NESTING`] and work beyond a budget linear
//! in the input are reported as [`RepairError`] instead of overflowing the stack or spinning.

use std::cell::Cell;

use super::py::{Py, is_alnum, is_alpha, is_digit, is_space, python_float, python_int};
use super::pyjson;

/// The reference raised instead of returning a value (here: input nested or tangled beyond
/// our limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RepairError;

/// Nesting budget, in the reference's Python stack frames: a list costs 3, an object or a
/// tuple 4; Python's recursion limit stops the reference at 330 nested lists, 247 objects.
const MAX_NESTING: usize = 990;

const QUOTES: [char; 4] = ['"', '\'', '“', '”'];

/// `json_repair.loads(text)`: the value, or `""` when nothing JSON-like was found.
pub(crate) fn loads(text: &str) -> Result<Py, RepairError> {
    let s: Vec<char> = text.chars().collect();
    // Rule *strict first*: text that is valid JSON (Python's dialect) is read as such.
    match pyjson::loads(&s) {
        Ok(v) => return Ok(v),
        Err(pyjson::DecodeError::TooDeep) => return Err(RepairError),
        Err(pyjson::DecodeError::Invalid) => {}
    }
    let fuel = Cell::new(200_000 + 400 * s.len());
    let mut reader = Reader { s, fuel, ..Reader::default() };
    let value = reader.document();
    if reader.failed.get() { Err(RepairError) } else { Ok(value) }
}

/// What the reader is filling, innermost last.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Key,
    Value,
    Item,
}

#[derive(Default)]
struct Reader {
    s: Vec<char>,
    at: usize,
    roles: Vec<Role>,
    /// Nesting budget in use.
    nesting: usize,
    /// Steps of work left, lookahead included; `failed` once spent or nested too deep.
    fuel: Cell<usize>,
    failed: Cell<bool>,
    /// Whether the first container has had its strict chance, and whether a comma may
    /// give the next one its own (rule *strict prefix*).
    tried_strict: bool,
    strict_chain: bool,
    /// Whether the object read last separated its pairs with commas (rule *tuples*).
    object_had_commas: bool,
    /// Whether the top-level object just read consumed the comma after it.
    comma_taken: bool,
    /// Whether the key being read is its object's first, and whether an escaped first key
    /// was seen (rule *escaped JSON*).
    first_key: bool,
    escaped_json: bool,
}

// ---------------------------------------------------------------------------------------------
// Cursor and lookahead. Positions are absolute indexes into `s`; `None` is the end of the text.
impl Reader {
    fn ch(&self, i: usize) -> Option<char> { self.s.get(i).copied() }

    fn cur(&self) -> Option<char> { self.ch(self.at) }

    fn is(&self, i: usize, set: &[char]) -> bool { self.ch(i).is_some_and(|c| set.contains(&c)) }

    /// Whether `word` is spelled at `i` (ASCII case-insensitively when `any_case`).
    fn word_at(&self, i: usize, word: &str, any_case: bool) -> bool {
        let same = |c: char, w: char| if any_case { c.to_ascii_lowercase() == w } else { c == w };
        word.chars().enumerate().all(|(k, w)| self.ch(i + k).is_some_and(|c| same(c, w)))
    }

    /// Charges `n` steps of work; false once the budget is spent (the read then unwinds).
    fn burn(&self, n: usize) -> bool {
        let ok = !self.failed.get() && self.fuel.get() >= n;
        if ok { self.fuel.set(self.fuel.get() - n) } else { self.failed.set(true) }
        ok
    }

    /// The first position at or after `i` that is not whitespace.
    fn after_space(&self, i: usize) -> usize {
        let end = (i..).find(|&k| !self.ch(k).is_some_and(is_space)).unwrap_or(i);
        self.burn(end - i);
        end
    }

    fn skip_space(&mut self) {
        self.at = self.after_space(self.at);
    }

    /// The first position at or after `i` holding one of `set` not escaped by a backslash,
    /// or the end of the text.
    fn find(&self, i: usize, set: &[char]) -> usize {
        let hit = |k: usize| self.ch(k).is_none_or(|c| set.contains(&c) && (k == 0 || self.ch(k - 1) != Some('\\')));
        let end = (i..).find(|&k| hit(k)).unwrap_or(i);
        self.burn(end - i);
        end
    }

    /// Like [`Self::find`], ignoring backslashes.
    fn find_plain(&self, i: usize, set: &[char]) -> usize {
        (i..).find(|&k| self.ch(k).is_none_or(|c| set.contains(&c))).unwrap_or(i)
    }

    fn role(&self) -> Option<Role> { self.roles.last().copied() }

    fn within(&self, role: Role) -> bool { self.roles.contains(&role) }

    fn with_role<T>(&mut self, role: Role, read: impl FnOnce(&mut Self) -> T) -> T {
        self.roles.push(role);
        let out = read(self);
        self.roles.pop();
        out
    }

    /// Reads a container costing `cost` of the nesting budget.
    fn nest<T>(&mut self, cost: usize, read: impl FnOnce(&mut Self) -> T, fallback: T) -> T {
        if self.nesting + cost > MAX_NESTING || self.failed.get() {
            self.failed.set(true);
            return fallback;
        }
        self.nesting += cost;
        let out = read(self);
        self.nesting -= cost;
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The document: values scattered through prose.
impl Reader {
    /// Rule *values in prose*: outside any container only `{`, `[` and a tuple on a line of
    /// its own start a value; the rest is prose and skipped. Rule *several values*: the values
    /// found make a list when there are several. Empty containers among them are dropped (and
    /// the character after one, past the first), and a value of the same shape as the one
    /// before replaces it (an LM restating its answer means the second), unless a comma
    /// separates them (`[1], [2]` is a list of two).
    fn document(&mut self) -> Py {
        if let Some(v) = self.braceless_object() {
            return v;
        }
        let (mut first, mut kept, mut comma) = (None, Vec::<Py>::new(), false);
        while self.at < self.s.len() && !self.failed.get() {
            self.roles.clear();
            let Some(value) = self.top_level_value() else { break };
            let comma_next = std::mem::take(&mut self.comma_taken) || self.is(self.after_space(self.at), &[',']);
            let after_comma = std::mem::replace(&mut comma, comma_next);
            self.tried_strict &= !(comma_next && self.strict_chain);
            let empty = is_empty(&value);
            if first.is_none() {
                first = Some(value.clone());
            } else if empty {
                self.at += 1;
            }
            if empty {
                continue;
            }
            if !after_comma && kept.last().is_some_and(|last| same_shape(last, &value)) {
                kept.pop();
            }
            kept.push(value);
        }
        match kept.len() {
            0 => first.unwrap_or_else(Py::empty_str),
            1 => kept.swap_remove(0),
            _ => Py::List(kept),
        }
    }

    /// Rule *forgotten opening brace*: `"a": 1}` is `{"a": 1}` when, so completed, it is JSON.
    fn braceless_object(&self) -> Option<Py> {
        let start = self.s.iter().position(|&c| !is_space(c))?;
        let end = self.s.iter().rposition(|&c| !is_space(c))?;
        if self.s[start] != '"' || self.s[end] != '}' {
            return None;
        }
        pyjson::loads(&[&['{'][..], &self.s[start..=end]].concat()).ok()
    }

    /// The next value outside any container, or `None` at the end of the text.
    fn top_level_value(&mut self) -> Option<Py> {
        loop {
            let c = self.cur().filter(|_| self.burn(1))?;
            match c {
                '{' | '[' => {
                    let start = self.at;
                    if let Some(v) = self.strict_prefix() {
                        // ... unless it is an object opening the text, and pairs follow it.
                        let comma = self.after_space(self.at);
                        let pairs_follow = c == '{'
                            && start == 0
                            && self.is(comma, &[','])
                            && self.is(self.after_space(comma + 1), &QUOTES);
                        if !pairs_follow {
                            return Some(v);
                        }
                        self.at = start;
                    }
                    self.at += 1;
                    return Some(if c == '{' { self.top_level_object() } else { self.array(']') });
                }
                '(' if self.tuple_on_own_line() => {
                    let start = self.at;
                    self.at += 1;
                    let value = self.tuple();
                    let mut end = self.at;
                    while self.ch(end).is_some_and(|c| is_space(c) && c != '\n' && c != '\r') {
                        end += 1;
                    }
                    if matches!(self.ch(end), None | Some('\n' | '\r')) {
                        return Some(value);
                    }
                    self.at = start + 1;
                }
                '#' | '/' => self.skip_comment(),
                _ => self.at += 1,
            }
        }
    }

    /// Rule *strict prefix*: the first container in the text is read strictly when it is valid
    /// JSON by itself, whatever follows it, so a well-formed answer inside prose keeps its exact
    /// value. Only the first container gets this chance, and, when strict values open the
    /// text, the next one after a comma.
    fn strict_prefix(&mut self) -> Option<Py> {
        if std::mem::replace(&mut self.tried_strict, true) {
            return None;
        }
        let chain = self.at == 0 || std::mem::take(&mut self.strict_chain);
        match pyjson::raw_decode(&self.s[self.at..]) {
            Ok((value, len)) => {
                self.at += len;
                self.strict_chain = chain;
                Some(value)
            }
            Err(e) => {
                if e == pyjson::DecodeError::TooDeep {
                    self.failed.set(true);
                }
                None
            }
        }
    }

    /// Rule *pairs after the object*: at the top level, `{"a": 1}, "b": 2` is one object.
    fn top_level_object(&mut self) -> Py {
        let mut value = self.object();
        loop {
            self.skip_space();
            if self.cur() != Some(',') || !matches!(value, Py::Dict(_)) {
                return value;
            }
            self.at = self.after_space(self.at + 1);
            if !self.is(self.at, &QUOTES) {
                self.comma_taken = true;
                return value;
            }
            if let (Py::Dict(entries), Py::Dict(more)) = (&mut value, self.object()) {
                for (k, v) in more {
                    Py::dict_set(entries, k, v);
                }
            }
        }
    }

    /// Rule *top-level tuple*: a `(` beginning a line (after indentation) and followed by
    /// what can start a value (not a word) is a Python tuple, provided nothing but spaces
    /// follows it on the line where it ends.
    fn tuple_on_own_line(&mut self) -> bool {
        let line_start = self.s[..self.at].iter().rposition(|&c| !is_space(c) || c == '\n');
        if line_start.is_some_and(|i| self.s[i] != '\n') {
            return false;
        }
        let j = self.after_space(self.at + 1);
        match self.ch(j) {
            None => false,
            Some(c) if is_digit(c) || "-.[{()\"'“”".contains(c) => true,
            Some(_) => ["true", "false", "null", "none"].iter().any(|w| self.word_at(j, w, true)),
        }
    }
}

/// `""`, `[]` or `{}`.
fn is_empty(v: &Py) -> bool {
    match v {
        Py::Str(s) => s.is_empty(),
        Py::List(items) => items.is_empty(),
        Py::Dict(items) => items.is_empty(),
        _ => false,
    }
}

/// Same type; for objects the same keys with values of the same shape, for lists the same
/// length with items of the same shape.
fn same_shape(a: &Py, b: &Py) -> bool {
    match (a, b) {
        (Py::Dict(x), Py::Dict(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.iter().any(|(k2, v2)| k.py_eq(k2) && same_shape(v, v2)))
        }
        (Py::List(x), Py::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_shape(p, q)),
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

fn count(chars: &[char], c: char) -> usize {
    chars.iter().filter(|&&x| x == c).count()
}

// ---------------------------------------------------------------------------------------------
// Values inside containers, and comments.
impl Reader {
    /// One value in the current role, `""` when the text holds none here. Characters that
    /// start no value are skipped; a comment (or a lone `/`) reached this way reads as `""`.
    fn value(&mut self) -> Py {
        while let Some(c) = self.cur().filter(|_| self.burn(1)) {
            match c {
                '{' | '[' | '(' => {
                    self.at += 1;
                    return match c {
                        '{' => self.object(),
                        '[' => self.array(']'),
                        _ => self.tuple(),
                    };
                }
                _ if QUOTES.contains(&c) || is_alpha(c) => return self.string(),
                _ if is_digit(c) || c == '-' || c == '.' => return self.number(),
                '#' | '/' => {
                    self.skip_comment();
                    return Py::empty_str();
                }
                _ => self.at += 1,
            }
        }
        Py::empty_str()
    }

    fn at_comment(&self) -> bool {
        self.cur() == Some('#') || (self.cur() == Some('/') && self.is(self.at + 1, &['/', '*']))
    }

    /// Rule *comments*: `# ...` and `// ...` run to the end of the line, or to a character
    /// that closes what they sit in (`]` inside a list, `}` inside an object value, `:` inside
    /// a key), since LMs annotate one-line JSON too; `/* ... */` runs to its end. A lone `/`
    /// is skipped.
    fn skip_comment(&mut self) {
        let from = self.at;
        if self.cur() == Some('/') && self.ch(self.at + 1) == Some('*') {
            let close = (self.at + 3..).find(|&i| self.ch(i).is_none() || (self.s[i] == '/' && self.s[i - 1] == '*'));
            self.at = close.map_or(self.s.len(), |i| (i + 1).min(self.s.len()));
        } else if self.cur() == Some('#') || self.ch(self.at + 1) == Some('/') {
            let ends: Vec<char> = [('\n', true), ('\r', true), (']', self.within(Role::Item))]
                .into_iter()
                .chain([('}', self.within(Role::Value)), (':', self.within(Role::Key))])
                .filter_map(|(c, on)| on.then_some(c))
                .collect();
            self.at = self.find_plain(self.at, &ends);
        } else {
            self.at += 1;
        }
        self.burn(self.at - from);
    }
}

// ---------------------------------------------------------------------------------------------
// Objects.
impl Reader {
    /// An object, the cursor just past its `{`.
    fn object(&mut self) -> Py { self.nest(4, Self::object_body, Py::Dict(Vec::new())) }

    fn object_body(&mut self) -> Py {
        let body_start = self.at;
        let mut entries: Vec<(Py, Py)> = Vec::new();
        // The last pair was left without a value (see rule *set braces*).
        let (mut dangling, mut commas) = (false, false);
        let list_item = self.role() == Some(Role::Item);
        let mut value_end = self.at;
        while self.burn(1) {
            self.skip_space();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            match self.cur() {
                None | Some('}') => break,
                // Rule *stray separators*: a `,` or `:` where a key should start is dropped.
                Some(',') => {
                    dangling = true;
                    self.at += 1;
                    continue;
                }
                Some(':') => self.at += 1,
                _ => {}
            }
            dangling = true;
            if self.cur() == Some('[') && self.continue_list(&mut entries) {
                continue;
            }
            self.first_key = entries.is_empty();
            let key = self.with_role(Role::Key, Self::key);
            self.first_key = false;
            let Some((key, key_start)) = key else { continue };
            if list_item
                && entries.iter().any(|(k, _)| k.is_str(&key))
                && !self.s[value_end.min(key_start)..key_start].contains(&',')
            {
                // Rule *next object*: in a list, a key repeated without a comma before it
                // starts the next object (`[{"a": 1 "a": 2}]`, the LM forgot `}, {`).
                self.s.insert(key_start, '{');
                self.at = key_start - 1;
                dangling = false;
                break;
            }
            self.skip_space();
            while self.at_comment() {
                self.skip_comment();
                self.skip_space();
            }
            // Rule *key without value*: a key at the end of the object is dropped.
            if matches!(self.cur(), None | Some('}')) {
                continue;
            }
            // Rule *missing colon*: whatever stands between a key and its value is the colon.
            self.at += 1;
            self.skip_space();
            // Rule *missing value*: `"k": ,` and `"k": }` give the key an empty string.
            let value = if self.is(self.at, &[',', '}']) {
                Py::empty_str()
            } else {
                self.with_role(Role::Value, Self::value)
            };
            value_end = self.at;
            Py::dict_set(&mut entries, Py::Str(key), value);
            dangling = false;
            if self.is(self.at, &[',', '\'', '"']) {
                commas |= self.cur() == Some(',');
                self.at += 1;
            }
        }
        self.object_had_commas = commas;
        let end = self.at.min(self.s.len());
        self.at += 1;
        if entries.is_empty() && self.body_holds_items(body_start, end) {
            // Rule *set braces*: `{1, 2}` holds items, not pairs (a Python set, or a mistyped
            // list): the body is read again as a list. Quirk kept from the reference: when the
            // last pair was left without a value, that list is read as if inside a key (`#`
            // comments end at `:`), and so is the rest of the enclosing container.
            self.at = body_start;
            if dangling {
                self.roles.push(Role::Key);
            }
            return self.array('}');
        }
        Py::Dict(entries)
    }

    /// Rule *split list*: `"k": [1], [2]`: a list where a key should be continues the
    /// previous key's list. Its items are appended; once that list holds a list, it is taken
    /// for a list of rows, and the items after that row become rows too.
    fn continue_list(&mut self, entries: &mut [(Py, Py)]) -> bool {
        if !matches!(entries.last(), Some((_, Py::List(_)))) {
            return false;
        }
        self.at += 1;
        let Py::List(mut more) = self.array(']') else { return false };
        if matches!(more.as_slice(), [Py::List(_)])
            && let Some(Py::List(inner)) = more.pop()
        {
            more = inner;
        }
        if let Some((_, Py::List(prev))) = entries.last_mut() {
            match prev.iter().position(|v| matches!(v, Py::List(_))) {
                Some(row) => {
                    for item in prev.iter_mut().skip(row + 1).filter(|v| !matches!(v, Py::List(_))) {
                        *item = Py::List(vec![std::mem::replace(item, Py::None)]);
                    }
                    prev.push(Py::List(more));
                }
                None => prev.extend(more),
            }
        }
        self.skip_space();
        if self.cur() == Some(',') {
            self.at += 1;
        }
        true
    }

    /// Whether an object body that gave no pairs holds items (`{1, 2}`, `{"a"}`): two
    /// characters or more, something besides comments, and no `:` outside quotes (looking one
    /// character past the closing brace: `{"a"}: 1` stays an object).
    fn body_holds_items(&self, start: usize, end: usize) -> bool {
        if end < start + 2 {
            return false;
        }
        let limit = if self.ch(end) == Some('}') { (end + 2).min(self.s.len()) } else { end };
        let (mut i, mut something) = (start, false);
        while i < limit {
            let c = self.s[i];
            if c == '#' || (c == '/' && self.ch(i + 1) == Some('/')) {
                i = self.find_plain(i, &['\n', '\r']);
                continue;
            }
            if c == '/' && self.ch(i + 1) == Some('*') {
                i = (i + 3..limit).find(|&k| self.s[k] == '/' && self.s[k - 1] == '*').unwrap_or(limit) + 1;
                continue;
            }
            if c == ':' {
                return false;
            }
            something |= i < end && !is_space(c);
            if QUOTES.contains(&c) {
                let close = if c == '“' { '”' } else { c };
                i += 1;
                while i < limit && self.s[i] != close {
                    i += if self.s[i] == '\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
        something
    }

    /// An object key, or `None` when the text ends first. A junk word before a key reads as
    /// `""` and is passed over.
    fn key(&mut self) -> Option<(String, usize)> {
        while self.cur().is_some() && self.burn(1) {
            let start = self.at;
            let key = self.string().py_str();
            if key.is_empty() {
                self.skip_space();
            }
            if !key.is_empty() || self.is(self.at, &[':', '}']) {
                return Some((key, start));
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Lists and tuples.
impl Reader {
    /// A list, the cursor just past its opener; it ends at `]` or `}`.
    fn array(&mut self, close: char) -> Py {
        self.nest(3, |r| r.with_role(Role::Item, |r| Py::List(r.items(close).0)), Py::List(Vec::new()))
    }

    /// Rule *tuples*: `(a, b)` and `(a,)` are lists and `(a)` is `a`; a tuple ends at its `)`
    /// or at the `}` of an enclosing object, not at `]`.
    fn tuple(&mut self) -> Py {
        let (mut items, comma) = self.nest(4, |r| r.with_role(Role::Item, |r| r.items(')')), (Vec::new(), true));
        if items.len() == 1 && !comma { items.swap_remove(0) } else { Py::List(items) }
    }

    /// The items up to the closer, and whether a comma separated any.
    fn items(&mut self, close: char) -> (Vec<Py>, bool) {
        let (mut items, mut comma) = (Vec::new(), false);
        let in_object_value = self.roles.len() >= 2 && self.roles[self.roles.len() - 2] == Role::Value;
        let separator = if close == ')' { ')' } else { ']' };
        while self.burn(1) {
            self.skip_space();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            let Some(c) = self.cur() else { break };
            if c == close || c == '}' || (close != ')' && c == ']') {
                self.at += 1;
                break;
            }
            if c == ',' {
                comma = true;
                self.at += 1;
                continue;
            }
            let value = if QUOTES.contains(&c) && self.quoted_is_key() {
                // Rule *forgotten braces*: `["a": 1]` is a list holding `{"a": 1}`, whose
                // commas count as the list's; but in an object's value `"key":` after some
                // items means the list was left open, and the key belongs to the object.
                if in_object_value && !items.is_empty() {
                    break;
                }
                let object = self.object();
                comma |= self.object_had_commas;
                object
            } else {
                self.value()
            };
            if is_empty(&value) && !self.is(self.at, &[',', separator]) {
                // Rule *debris*: an empty value not followed by a separator is what is left of
                // something that is no value (`[1, -, 2`, `[[`); it is dropped, and the
                // character after it too.
                self.at += 1;
            } else if !value.is_str("...") {
                // Rule *ellipsis*: `...` in a list elides, it is no value.
                items.push(value);
            }
        }
        (items, comma)
    }

    /// Whether the quoted text at the cursor is followed by a `:`.
    fn quoted_is_key(&self) -> bool {
        let end = self.find(self.at + 1, &[self.cur().unwrap_or('"')]);
        self.is(self.after_space(end + 1), &[':'])
    }
}

// ---------------------------------------------------------------------------------------------
// Scalars.
impl Reader {
    /// Rule *literals*: `true`, `false`, `null` and Python's `None`, in any case, followed by a
    /// space, a separator or a closing bracket (`nullify` and `true.` are words).
    fn keyword(&mut self) -> Option<Py> {
        let words = [("true", Py::Bool(true)), ("false", Py::Bool(false)), ("null", Py::None), ("none", Py::None)];
        let (word, value) = words.into_iter().find(|(w, _)| {
            self.word_at(self.at, w, true) && self.ch(self.at + w.len()).is_none_or(|c| is_space(c) || ",]})".contains(c))
        })?;
        self.at += word.len();
        Some(value)
    }

    /// Rule *numbers*: a run of digits, `-`, `.`, `e`, `_` (a digit separator, dropped), `+`
    /// after an exponent, and `/` and `,` too (so that `1/2` and, in an object value, `1,2`
    /// stay text). A run followed by a letter is a word (`12abc`); a run ending in a character
    /// no number ends with gives it back (`5-`, `1.5e`). What Python's `int` or `float` reads
    /// is a number, any other run text (`1.2.3`).
    fn number(&mut self) -> Py {
        let start = self.at;
        let in_list = self.role() == Some(Role::Item);
        let mut end = start;
        while let Some(c) = self.ch(end) {
            let exponent_sign = c == '+' && end > start && self.is(end - 1, &['e', 'E']);
            if !(c.is_ascii_digit() || "-.eE/,_".contains(c) || exponent_sign) || (in_list && c == ',') {
                break;
            }
            end += 1;
        }
        self.burn(end - start);
        if self.ch(end).is_some_and(is_alpha) {
            return self.string();
        }
        let mut run: String = self.s[start..end].iter().filter(|&&c| c != '_').collect();
        if run.ends_with(['-', 'e', 'E', '/', ',', '+']) {
            run.pop();
            end -= 1;
        }
        self.at = end;
        if run.contains(',') {
            Py::Str(run)
        } else if run.contains(['.', 'e', 'E']) {
            python_float(&run).map_or(Py::Str(run), Py::Float)
        } else {
            python_int(&run).unwrap_or(Py::Str(run))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strings.

/// How a string being read is delimited.
#[derive(Clone, Copy)]
struct Delims {
    open: char,
    close: char,
    /// Started without a quote (a bare word); it still ends at a `"`.
    bare: bool,
}

/// What the string reader has seen so far, for its end-of-string decisions.
#[derive(Default)]
struct Seen {
    out: Vec<char>,
    /// The string opened with a doubled quote (`""key""`).
    doubled: bool,
    /// A quote was kept as text and its partner is expected.
    unmatched: bool,
    /// The string holds an escape sequence (its writer escapes quotes).
    escaped: bool,
    /// A `„` was read and its partner not yet (rule *low quote*).
    low_quote: bool,
}

/// What a quote met inside a string means.
enum Quote {
    Closes,
    /// Closes a `""doubled""` string, both quotes consumed.
    ClosesDoubled,
    /// A bare value ends before the character preceding the quote, which opens a key.
    EndsBefore,
    /// The quote is text; `unmatched` says whether a partner quote is expected.
    Text { unmatched: bool },
}

impl Reader {
    /// A string (quoted or bare), a literal word, or `""` for a comment.
    fn string(&mut self) -> Py {
        if matches!(self.cur(), Some('#' | '/')) {
            self.skip_comment();
            return Py::empty_str();
        }
        // Rule *leading junk*: characters that start neither a quote nor a word (`(`, `*`,
        // `-` ...) are skipped.
        while self.cur().is_some_and(|c| !QUOTES.contains(&c) && !is_alnum(c)) {
            self.at += 1;
        }
        let Some(first) = self.cur() else { return Py::empty_str() };
        let d = match first {
            '\'' => Delims { open: '\'', close: '\'', bare: false },
            '“' => Delims { open: '“', close: '”', bare: false },
            c if QUOTES.contains(&c) => Delims { open: '"', close: '"', bare: false },
            _ => {
                if self.role() != Some(Role::Key)
                    && let Some(v) = self.keyword()
                {
                    return v;
                }
                Delims { open: '"', close: '"', bare: true }
            }
        };
        let mut seen = Seen::default();
        if !d.bare {
            self.at += 1;
            if let Some(v) = self.fenced_json() {
                return v;
            }
        }
        if !d.bare && self.cur() == Some(d.open) {
            // Rule *doubled quotes*: `""key""` is a quoted string; `""` before a `:` is an
            // empty key; `"""` and `""` before another quote or bracket give `""`; `""x`
            // drops one quote.
            if self.role() == Some(Role::Key) && self.ch(self.at + 1) == Some(':') {
                self.at += 1;
                return Py::empty_str();
            }
            if self.ch(self.at + 1) == Some(d.open) {
                return Py::empty_str();
            }
            let other = self.find(self.at + 1, &[d.close]);
            seen.doubled = self.ch(other).is_some() && self.ch(other + 1) == Some(d.close);
            match self.ch(self.after_space(self.at + 1)) {
                _ if seen.doubled => self.at += 1,
                Some(c) if QUOTES.contains(&c) || c == '{' || c == '[' => {
                    self.at += 1;
                    return Py::empty_str();
                }
                Some(',' | ']' | '}') => {}
                _ => self.at += 1,
            }
        }
        Py::Str(self.string_body(d, seen))
    }

    /// Rule *fenced JSON in a string*: `"```json ... ```"` holds a value, read as such.
    fn fenced_json(&mut self) -> Option<Py> {
        if !self.word_at(self.at, "```json", false) || !self.word_at(self.find(self.at + 7, &['`']), "```", false) {
            return None;
        }
        self.at += 7;
        Some(self.nest(2, Self::value, Py::empty_str()))
    }

    /// The characters of a string up to its end, the cursor at its first character.
    fn string_body(&mut self, d: Delims, mut seen: Seen) -> String {
        // Whether the character at the cursor must pass the end-of-string heuristics; one
        // reached right after an escape or a quote kept as text does not.
        let mut vet = false;
        // Rule *escaped JSON* applies to the first key of an object outside lists.
        let opened_escaped = !d.bare && self.at >= 2 && self.ch(self.at - 2) == Some('\\');
        let mut closed = false;
        while let Some(c) = self.cur().filter(|_| self.burn(1)) {
            if std::mem::take(&mut vet) {
                if !d.bare && c == ':' && self.role() == Some(Role::Key) && self.colon_ends_key(d) {
                    break;
                }
                if c == d.close && seen.out.last() != Some(&'\\') {
                    let verdict = if std::mem::take(&mut seen.low_quote) {
                        Quote::Text { unmatched: seen.unmatched }
                    } else {
                        self.closing_quote(d, &seen)
                    };
                    match verdict {
                        Quote::Closes => {}
                        Quote::ClosesDoubled => self.at += 1,
                        Quote::EndsBefore => {
                            self.at -= 1;
                            break;
                        }
                        Quote::Text { unmatched } => {
                            seen.unmatched = unmatched;
                            seen.out.push(c);
                            self.at += 1;
                            continue;
                        }
                    }
                }
            }
            if c == d.close {
                closed = true;
                self.at += 1;
                break;
            }
            // Rule *bare words*: an unquoted key ends at `:` or a space, an unquoted list item
            // at `,` or `]`; an unquoted object value as rule *unquoted value* says.
            let role = self.role();
            if d.bare && ((role == Some(Role::Key) && (c == ':' || is_space(c))) || (role == Some(Role::Item) && (c == ']' || c == ','))) {
                break;
            }
            if role == Some(Role::Value) && (c == ',' || c == '}') && self.separator_ends_value(d, &seen.out) {
                break;
            }
            // Rule *list ends an unclosed string*: a `]` ends a string in a list unless its
            // closing quote is still ahead.
            if c == ']' && self.within(Role::Item) && seen.out.last() != Some(&d.close) && self.ch(self.find(self.at, &[d.close])).is_none() {
                break;
            }
            seen.out.push(c);
            self.at += 1;
            if c == '\\' && self.cur().is_some() && self.unescape(d, &mut seen.out) {
                seen.escaped = true;
                seen.low_quote &= !seen.out.last().is_some_and(|q| QUOTES.contains(q));
                if opened_escaped && seen.out.last() == Some(&d.close) {
                    if self.escaped_json {
                        seen.out.pop();
                        closed = true;
                        break;
                    }
                    if self.first_key && self.escaped_key_ends(d) {
                        // Rule *escaped JSON*: in `{\"a\": 1}` the key's closing quote is escaped.
                        self.escaped_json = true;
                        seen.out.pop();
                        break;
                    }
                }
                continue;
            }
            // Rule *low quote*: outside `"`-quoted strings a German `„` opens an inner
            // quotation, so the next closing quote is its partner, not the string's end.
            seen.low_quote |= c == '„' && (d.bare || d.open != '"');
            vet = true;
        }
        if !closed && d.bare && self.role() == Some(Role::Key) && self.cur().is_some_and(is_space) {
            // Rule *prose key*: in `{a b: 1}` the words before the key are commentary.
            self.skip_space();
            if !self.is(self.at, &[':', ',']) {
                return String::new();
            }
        }
        let mut text: String = seen.out.into_iter().collect();
        if !closed || d.bare || text.ends_with('\n') {
            // Rule *truncated string*: an unclosed or bare string (or one ending in a newline)
            // loses its trailing whitespace.
            text.truncate(text.trim_end_matches(is_space).len());
        }
        text
    }

    /// Decodes the escape whose backslash was just appended to `out`; false when there is
    /// none. `\n`, `\t`, `\r`, `\b`, `\\`, escaped quotes, `\uXXXX` and `\xXX`; any other
    /// backslash stays as written.
    fn unescape(&mut self, d: Delims, out: &mut Vec<char>) -> bool {
        let Some(c) = self.cur() else { return false };
        let (decoded, len) = match c {
            'n' => ('\n', 1),
            't' => ('\t', 1),
            'r' => ('\r', 1),
            'b' => ('\u{8}', 1),
            _ if c == d.close || c == '\\' || QUOTES.contains(&c) => (c, 1),
            'u' | 'x' => {
                let width = if c == 'u' { 4 } else { 2 };
                let hex: String = (1..=width).filter_map(|k| self.ch(self.at + k)).collect();
                if hex.len() != width || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    return false;
                }
                let code = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                (code.unwrap_or('\u{fffd}'), 1 + width)
            }
            _ => return false,
        };
        out.pop();
        out.push(decoded);
        self.at += len;
        // After `\\` or an escaped closing quote, more of them are text as they come.
        while len == 1 && (c == d.close || c == '\\') && out.last() == Some(&'\\') {
            match self.cur() {
                Some(n) if n == d.close || n == '\\' => {
                    out.pop();
                    out.push(n);
                    self.at += 1;
                }
                _ => break,
            }
        }
        true
    }

    /// Rule *quotes inside strings*: LMs put unescaped quotes in values (`"say "hi" now"`).
    /// A closing quote ends the string when what follows fits: a separator or a closing
    /// bracket, a next key, the end of the text; otherwise it is text.
    fn closing_quote(&self, d: Delims, seen: &Seen) -> Quote {
        let (at, out) = (self.at, &seen.out);
        if seen.doubled && self.ch(at + 1) == Some(d.close) {
            return Quote::ClosesDoubled;
        }
        if d.bare && self.role() == Some(Role::Value) {
            // A bare value running into `"next": ...`: the quote opens the next key ...
            let q = self.find_plain(at + 1, &[d.open, d.close]);
            if self.ch(q).is_some() && self.is(self.after_space(q + 1), &[':']) {
                return Quote::EndsBefore;
            }
            // ... and otherwise ends the value, unless it quotes an item: `Literal["x"]`.
            if out.last() != Some(&'[') {
                return Quote::Closes;
            }
        }
        if seen.unmatched {
            return Quote::Text { unmatched: false };
        }
        // Look ahead to the next quote, stopping at what would end the enclosing container.
        let mut i = at + 1;
        let mut comma_ends = true;
        while let Some(c) = self.ch(i).filter(|&c| c != d.open && c != d.close) {
            comma_ends &= !is_alpha(c);
            if (self.within(Role::Key) && (c == ':' || c == '}'))
                || (self.within(Role::Value) && c == '}')
                || (self.within(Role::Item) && (c == ']' || c == ','))
                || (comma_ends && self.role() == Some(Role::Value) && c == ',')
            {
                break;
            }
            i += 1;
        }
        self.burn(i - at);
        let only_space = (at + 1..i).all(|k| self.ch(k).is_some_and(is_space));
        if self.ch(i) == Some(',') && self.role() == Some(Role::Value) {
            // `"a", ...` closes, unless the string is written with escapes (and is not a
            // whole quotation or object) and the next quote after the comma ends a value.
            let whole = out.last() == Some(&'"') || (out.first() == Some(&'{') && out.last() == Some(&'}'));
            if d.close == '"' && (!seen.escaped || whole) && only_space {
                return Quote::Closes;
            }
            let q = self.find(i + 1, &[d.close]);
            return if self.is(self.after_space(q + 1), &['}', ',']) {
                Quote::Text { unmatched: seen.unmatched }
            } else {
                Quote::Closes
            };
        }
        if self.ch(i) != Some(d.close) || self.ch(i - 1) == Some('\\') || only_space {
            return Quote::Closes;
        }
        match self.role() {
            Some(Role::Value) => {
                // The next quote: text when no key follows it (`"va"lue", "next": ...` aside).
                let after = self.after_space(i + 1);
                if self.ch(after) == Some(',') {
                    let o = self.find(after + 1, &[d.open]);
                    let c = self.find(o + 2, &[d.close]);
                    if self.is(self.after_space(c + 1), &[':']) {
                        return Quote::Text { unmatched: seen.unmatched };
                    }
                }
                let from = self.find(i + 1, &[d.close]) + 1;
                let stop = (from..).find(|&k| {
                    self.ch(k).is_none_or(|c| ":,]}".contains(c) || (c == d.close && self.ch(k - 1) != Some('\\')))
                });
                let stop = stop.unwrap_or(from);
                self.burn(stop - from);
                if self.ch(stop) == Some(':') { Quote::Closes } else { Quote::Text { unmatched: true } }
            }
            Some(Role::Item) => {
                // In a list: when the quotes up to the list's end pair up after this one, this
                // one is text (`["say "hi" now"]`).
                let mut quotes = 0;
                let mut j = i;
                while self.ch(j) == Some(d.close) {
                    quotes += 1;
                    j = self.find(j + 1, &[d.close, ']']);
                }
                if quotes % 2 == 0 { Quote::Text { unmatched: true } } else { Quote::Closes }
            }
            Some(Role::Key) => Quote::Text { unmatched: seen.unmatched },
            None => Quote::Closes,
        }
    }

    /// Rule *escaped JSON*: JSON quoted in a string reaches us with its quotes escaped
    /// (`{\"a\": 1}`). An object's first key that opens with `\"` ends at `\":` unless an
    /// unescaped quote ahead is followed by something other than `}`, or, in a list, a `]`
    /// lies ahead.
    fn escaped_key_ends(&self, d: Delims) -> bool {
        if self.cur() != Some(':') || self.role() != Some(Role::Key) {
            return false;
        }
        let q = self.find(self.at + 1, &[d.close]);
        let quote_ok = self.ch(q).is_none() || self.is(self.after_space(q + 1), &['}']);
        quote_ok && !(self.within(Role::Item) && self.ch(self.find_plain(self.at, &[']'])).is_some())
    }

    /// Rule *unclosed key*: in `{"a: 1}` the `:` ends the quoted key, as it does whenever no
    /// quote follows, or a quoted run followed by `,` or `}` does.
    fn colon_ends_key(&self, d: Delims) -> bool {
        let q1 = self.find(self.at + 1, &[d.open]);
        if self.ch(q1).is_none() {
            return true;
        }
        let q2 = self.find(q1 + 1, &[d.close]);
        self.ch(q2).is_some() && self.is(self.after_space(q2 + 1), &[',', '}'])
    }

    /// Rule *unquoted value*: whether the `,` or `}` at the cursor ends the value being read
    /// (quoted values too, whose closing quote may be missing). A `}` before a closing code
    /// fence does. Otherwise, when a quote lies ahead, the separator ends the value unless
    /// that quote is followed by a separator (the value is quoted after all) or does not
    /// start a `"key":`. With no quote ahead, a `,` ends the value when a pair follows it
    /// (`{"a": red, blue}` is one value), and a `}` does unless a `:` follows, it closes a
    /// brace opened inside the value, or more than a character precedes the next `}`.
    fn separator_ends_value(&self, d: Delims, out: &[char]) -> bool {
        let comma = self.cur() == Some(',');
        let unbalanced = count(out, '{') > count(out, '}');
        if !comma && unbalanced {
            return false;
        }
        if !comma && self.word_at(self.after_space(self.at + 1), "```", false) {
            return true;
        }
        let quotes: &[char] = if comma { &[d.close, '\''] } else { &[d.close] };
        let q = self.find(self.at + 1, quotes);
        if self.ch(q).is_some() {
            let after = self.after_space(q + 1);
            let partner = if self.ch(q) == Some(d.close) { d.open } else { '\'' };
            let o = self.find(after, &[partner]);
            return !matches!(self.ch(after), None | Some(',' | '}'))
                && self.ch(o).is_some()
                && self.is(self.after_space(o + 1), &[':'])
                && self.ch(self.at + 1) != Some('\\');
        }
        if comma {
            return self.pair_follows(self.at + 1);
        }
        if self.ch(self.find(self.at + 1, &[':'])).is_some() {
            return true;
        }
        let i = self.after_space(self.at + 1);
        !unbalanced && self.find(i, &['}']) <= i + 1 && self.ch(self.at + 1) != Some('\\')
    }

    /// Whether a pair starts at `i`, after a comma in an unquoted value: the object's end, or
    /// a (quoted) key and `:` followed by something that starts a value, or by anything if a
    /// `}` comes later.
    fn pair_follows(&self, i: usize) -> bool {
        let i = self.after_space(i);
        let key_end = match self.ch(i) {
            None | Some('}') => return true,
            Some(q @ ('\'' | '"')) => self.find_plain(i + 1, &[q]) + 1,
            Some(_) => (i..).find(|&j| !self.ch(j).is_some_and(|c| is_alnum(c) || c == '_' || c == '-')).unwrap_or(i),
        };
        if key_end == i || key_end > self.s.len() {
            return false;
        }
        let colon = self.after_space(key_end);
        let v = self.after_space(colon + 1);
        let Some(c) = self.ch(v).filter(|_| self.is(colon, &[':'])) else { return false };
        let literal = ["true", "false", "null"].iter().any(|w| {
            self.word_at(v, w, false) && self.ch(v + w.len()).is_none_or(|c| is_space(c) || ",]})".contains(c))
        });
        c.is_ascii_digit() || "-\"'“”[{}".contains(c) || literal || self.ch(self.find_plain(v, &['}'])).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(text: &str) -> String {
        match loads(text) {
            Ok(v) => v.py_repr(),
            Err(_) => "ERROR".into(),
        }
    }

    /// One example per recovery rule, with what json_repair 0.64.6 returns for it.
    #[test]
    fn recovery_rules() {
        let cases = [
            ("strict first", "{\"a\": NaN}", "{'a': nan}"),
            ("values in prose", "Here is the JSON: {\"answer\": 7} hope it helps", "{'answer': 7}"),
            ("several values", "{\"a\": 1} x {\"b\": 2}", "[{'a': 1}, {'b': 2}]"),
            ("several values: restated answer", "[1] [2]", "[2]"),
            ("several values: comma-separated", "[1], [2]", "[[1], [2]]"),
            ("several values: empty ones dropped", "{} [1]", "[1]"),
            ("forgotten opening brace", "\"a\": 1}", "{'a': 1}"),
            ("strict prefix", "x [1, \"\" , 2 ] y", "[1, '', 2]"),
            ("pairs after the object", "{\"a\": 1}, \"b\": 2", "{'a': 1, 'b': 2}"),
            ("top-level tuple", "(1, 2)", "[1, 2]"),
            ("top-level tuple: one item", "(1)", "1"),
            ("top-level tuple: not on its own line", "x (1, 2)", "''"),
            ("comments: block", "{\"a\": 1 /* c */, \"b\": 2}", "{'a': 1, 'b': 2}"),
            ("comments: end at the list's bracket", "[[ ## answer ## ]]\nx", "[[]]"),
            ("comments: line", "{\"a\": 1, # note\n \"b\": 2}", "{'a': 1, 'b': 2}"),
            ("stray separators", "{, \"a\": 1}", "{'a': 1}"),
            ("key without value", "{\"a\": 1, \"b\"}", "{'a': 1}"),
            ("missing colon", "{\"a\" 1}", "{'a': ''}"),
            ("missing value", "{\"a\": , \"b\": 1}", "{'a': '', 'b': 1}"),
            ("set braces", "{1, 2}", "[1, 2]"),
            ("set braces: one string", "{\"a\"}", "['a']"),
            ("set braces: too short", "{ }", "{}"),
            ("split list", "{\"a\": [1], [2]}", "{'a': [1, 2]}"),
            ("forgotten braces", "[\"a\": 1]", "[{'a': 1}]"),
            ("forgotten braces: key ends the list", "{\"a\": [1, \"b\": 2}", "{'a': [1], 'b': 2}"),
            ("debris", "[1, -, 2", "[1, 2]"),
            ("ellipsis", "[1, 2, ...]", "[1, 2]"),
            ("tuples", "[(1, 2), (3)]", "[[1, 2], 3]"),
            ("literals", "[True, none, nullify]", "[True, None, 'nullify']"),
            ("numbers", "[1_000, 1.5e, 1/2, 12abc, 1e400]", "[1000, 1.5, 'e', '1/2', '12abc', inf]"),
            ("numbers: comma in a value", "{\"a\": 1,2}", "{'a': '1,2'}"),
            ("leading junk", "{*a: 1}", "{'a': 1}"),
            ("doubled quotes", "{\"\"a\"\": 1}", "{'a': 1}"),
            ("fenced JSON in a string", "{\"a\": \"```json\n{\"b\": 1}\n```\"}", "{'a': {'b': 1}}"),
            ("quotes inside strings", "{\"a\": \"say \"hi\" now\"}", "{'a': 'say \"hi\" now'}"),
            ("quotes inside strings: closing before a comma", "{\"a\": \"b\"c\", \"d\": 1}", "{'a': 'b\"c', 'd': 1}"),
            ("quotes inside strings: in a list", "[\"say \"hi\" now\"]", "['say \"hi\" now']"),
            ("unclosed key", "{\"a: 1}", "{'a': 1}"),
            ("unquoted value", "{\"a\": red, blue}", "{'a': 'red, blue'}"),
            ("unquoted value: next pair", "{\"a\": b, c: 1}", "{'a': 'b', 'c': 1}"),
            ("unquoted value: brace", "{\"a\": b} c}", "{'a': 'b'}"),
            ("unquoted value: balanced braces", "{\"a\": \"{}}", "{'a': '{}'}"),
            ("unquoted value: next key quoted", "{\"a\": b \"c\": 1}", "{'a': 'b', 'c': 1}"),
            ("unquoted value: code fence", "{\"out\": t}\n```", "{'out': 't'}"),
            ("bare words", "{key: value, other: 2}", "{'key': 'value', 'other': 2}"),
            ("prose key", "{a b: 1}", "{'b': 1}"),
            ("truncated string", "{\"answer\": \"Shakes", "{'answer': 'Shakes'}"),
            ("list ends an unclosed string", "[\"a, b]", "['a, b']"),
            ("escapes", "{\"a\": \"x\\ny\\u00e9", "{'a': 'x\\nyé'}"),
            ("escaped JSON", "{\\\"a\\\": 1}", "{'a': 1}"),
            ("escaped JSON: values", "{\\\"a\\\": \\\"b\\\"}", "{'a': 'b'}"),
            ("low quote", "{'a': 'b„c'}", "{'a': \"b„c'\"}"),
            ("next object", "[{\"s\": 1 \"s\": 3}]", "[{'s': 1}, {'s': 3}]"),
            ("strict prefix: after a comma", "[\"a\"], [\"b\\n\"] x", "[['a'], ['b\\n']]"),
        ];
        for (rule, text, want) in cases {
            assert_eq!(repr(text), want, "rule *{rule}*: {text:?}");
        }
    }

    /// The tagged form `tests/conformance-gen/repair_corpus.py` writes.
    fn canon(v: &Py) -> serde_json::Value {
        use super::super::py::float_str;
        use serde_json::json;
        match v {
            Py::None => json!(null),
            Py::Bool(b) => json!(b),
            Py::Str(s) => json!(s),
            Py::Int(i) => json!({"i": i.to_string()}),
            Py::Float(f) => json!({"f": float_str(*f)}),
            Py::Complex(re, im) => json!({"c": [float_str(*re), float_str(*im)]}),
            Py::Bytes(b) => json!({"b": b.iter().map(|&c| c as char).collect::<String>()}),
            Py::List(items) => serde_json::Value::Array(items.iter().map(canon).collect()),
            Py::Tuple(items) => json!({"t": items.iter().map(canon).collect::<Vec<_>>()}),
            Py::Set(items) => {
                let mut items: Vec<serde_json::Value> = items.iter().map(canon).collect();
                items.sort_by_key(sorted_json);
                json!({"s": items})
            }
            Py::Dict(items) => json!({"d": items.iter().map(|(k, v)| json!([canon(k), canon(v)])).collect::<Vec<_>>()}),
            Py::Ellipsis => json!("..."),
        }
    }

    fn sorted_json(v: &serde_json::Value) -> String {
        // Python's json.dumps(sort_keys=True): keys sorted, ", " and ": " separators.
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let parts: Vec<String> =
                    keys.iter().map(|k| format!("{}: {}", crate::pyfmt::dumps(&serde_json::json!(k)), sorted_json(&m[*k]))).collect();
                format!("{{{}}}", parts.join(", "))
            }
            serde_json::Value::Array(a) => format!("[{}]", a.iter().map(sorted_json).collect::<Vec<_>>().join(", ")),
            other => crate::pyfmt::dumps(other),
        }
    }

    /// Differential test against the reference's `json_repair.loads` and `ast.literal_eval`
    /// on a corpus written by `tests/conformance-gen/repair_corpus.py` (skipped without one).
    /// `DSPY_REPAIR_MISMATCHES=path` writes every disagreement there, one JSON line each;
    /// `DSPY_REPAIR_ALLOW=n` tolerates up to `n` json_repair disagreements (default 0).
    #[test]
    fn corpus() {
        let Some(path) = std::env::var_os("DSPY_REPAIR_CORPUS") else { return };
        let text = std::fs::read_to_string(path).expect("corpus");
        let mut dump = String::new();
        let (mut total, mut repair_bad, mut literal_bad) = (0, 0, 0);
        for line in text.lines() {
            let case: serde_json::Value = serde_json::from_str(line).expect("json line");
            let input = case["input"].as_str().expect("input");
            total += 1;
            let got = match loads(input) {
                Ok(v) => canon(&v),
                Err(_) => serde_json::json!("ERROR"),
            };
            if got != case["repair"] {
                repair_bad += 1;
                dump.push_str(&serde_json::json!({"input": input, "want": case["repair"], "got": got}).to_string());
                dump.push('\n');
                if repair_bad <= 40 {
                    println!("REPAIR {input:?}\n   want {}\n   got  {got}", case["repair"]);
                }
            }
            let got = match super::super::literal::literal_eval(input) {
                Ok(v) => canon(&v),
                Err(super::super::literal::LiteralError::NotLiteral) => serde_json::json!("NotLiteral"),
                Err(super::super::literal::LiteralError::Unhashable) => serde_json::json!("TypeError"),
            };
            if got != case["literal"] {
                literal_bad += 1;
                if literal_bad <= 40 {
                    println!("LITERAL {input:?}\n   want {}\n   got  {got}", case["literal"]);
                }
            }
        }
        if let Some(out) = std::env::var_os("DSPY_REPAIR_MISMATCHES") {
            std::fs::write(out, dump).expect("mismatch file");
        }
        println!("{total} inputs: {repair_bad} json_repair mismatches, {literal_bad} literal_eval mismatches");
        let allowed: usize = std::env::var("DSPY_REPAIR_ALLOW").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
        assert_eq!(literal_bad, 0);
        assert!(repair_bad <= allowed, "{repair_bad} json_repair mismatches (DSPY_REPAIR_ALLOW={allowed})");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        assert_eq!(repr(&"[".repeat(100_000)), "ERROR");
        assert_eq!(repr(&"{\"a\":".repeat(50_000)), "ERROR");
        assert_eq!(repr(&"(".repeat(100_000)), "ERROR");
        assert!(matches!(loads(&"{\"a\": 1}, ".repeat(20_000)), Ok(Py::List(items)) if items.len() == 20_000));
        assert_eq!(repr(&"{\"a\": [1], [".repeat(20_000)), "ERROR");
    }
}
