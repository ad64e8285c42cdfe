//! The WAVE text format for component values (what `wasmtime run --invoke` reads and
//! prints): parsing a value of a known type, parsing an invocation `name(arg, ...)` against
//! a function's parameter types, and printing any [`Val`]. Parsing is bounded by the type's
//! depth (which flattening limits), never by the text's.
use kiln_environ::component::{ComponentTypes, InterfaceType};

use super::values::Val;
use crate::{Error, Result};

const KEYWORDS: &[&str] = &["true", "false", "some", "none", "ok", "err", "inf", "nan"];

fn name_text(name: &str) -> String {
    if KEYWORDS.contains(&name) { format!("%{name}") } else { name.to_string() }
}

fn escape(c: char, quote: char, out: &mut String) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:?}")
    }
}

impl Val {
    /// The value in WAVE syntax, e.g. `{name: "kiln", tags: [a, b]}`.
    pub fn to_wave(&self) -> String {
        let mut out = String::new();
        self.write_wave(&mut out);
        out
    }

    fn write_wave(&self, out: &mut String) {
        let list = |out: &mut String, open: &str, close: &str, items: &mut dyn Iterator<Item = &Val>| {
            out.push_str(open);
            for (i, v) in items.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                v.write_wave(out);
            }
            out.push_str(close);
        };
        let payload = |out: &mut String, case: &str, p: &Option<Box<Val>>| {
            out.push_str(case);
            if let Some(p) = p {
                out.push('(');
                p.write_wave(out);
                out.push(')');
            }
        };
        match self {
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::S8(v) => out.push_str(&v.to_string()),
            Val::U8(v) => out.push_str(&v.to_string()),
            Val::S16(v) => out.push_str(&v.to_string()),
            Val::U16(v) => out.push_str(&v.to_string()),
            Val::S32(v) => out.push_str(&v.to_string()),
            Val::U32(v) => out.push_str(&v.to_string()),
            Val::S64(v) => out.push_str(&v.to_string()),
            Val::U64(v) => out.push_str(&v.to_string()),
            Val::Float32(v) if v.is_finite() => out.push_str(&format!("{v:?}")),
            Val::Float32(v) => out.push_str(&float_text(*v as f64)),
            Val::Float64(v) => out.push_str(&float_text(*v)),
            Val::Char(c) => {
                out.push('\'');
                escape(*c, '\'', out);
                out.push('\'');
            }
            Val::String(s) => {
                out.push('"');
                s.chars().for_each(|c| escape(c, '"', out));
                out.push('"');
            }
            Val::List(items) => list(out, "[", "]", &mut items.iter()),
            Val::Tuple(items) => list(out, "(", ")", &mut items.iter()),
            Val::Record(fields) => {
                out.push('{');
                for (i, (n, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&name_text(n));
                    out.push_str(": ");
                    v.write_wave(out);
                }
                out.push('}');
            }
            Val::Variant(case, p) => payload(out, &name_text(case), p),
            Val::Enum(case) => out.push_str(&name_text(case)),
            Val::Option(None) => out.push_str("none"),
            Val::Option(p @ Some(_)) => payload(out, "some", p),
            Val::Result(Ok(p)) => payload(out, "ok", p),
            Val::Result(Err(p)) => payload(out, "err", p),
            Val::Flags(names) => {
                out.push('{');
                out.push_str(&names.iter().map(|n| name_text(n)).collect::<Vec<_>>().join(", "));
                out.push('}');
            }
            Val::Map(entries) => {
                out.push('[');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push('(');
                    k.write_wave(out);
                    out.push_str(", ");
                    v.write_wave(out);
                    out.push(')');
                }
                out.push(']');
            }
            Val::Resource(_) => out.push_str("<resource>"),
        }
    }
}

/// A cursor over WAVE text.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    types: &'a ComponentTypes,
}

fn syntax(what: impl Into<String>) -> Error {
    Error::Other(format!("invalid WAVE value: {}", what.into()))
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<()> {
        if self.eat(token) { Ok(()) } else { Err(syntax(format!("expected `{token}` at `{}`", self.excerpt()))) }
    }

    fn excerpt(&self) -> String {
        self.rest().chars().take(20).collect()
    }

    /// A name or keyword: letters, digits and `-`, with an optional leading `%`.
    fn word(&mut self) -> Result<String> {
        self.skip_ws();
        let escaped = self.eat("%");
        let len = self.rest().find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(self.rest().len());
        if len == 0 {
            return Err(syntax(format!("expected a name at `{}`", self.excerpt())));
        }
        let w = self.rest()[..len].to_string();
        self.pos += len;
        Ok(if escaped { format!("%{w}") } else { w })
    }

    fn number(&mut self) -> Result<&'a str> {
        self.skip_ws();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '_')))
            .unwrap_or(self.rest().len());
        let n = &self.rest()[..len];
        self.pos += len;
        Ok(n)
    }

    fn quoted(&mut self, quote: char) -> Result<String> {
        self.skip_ws();
        let mut chars = self.rest().char_indices();
        if chars.next().map(|(_, c)| c) != Some(quote) {
            return Err(syntax(format!("expected {quote} at `{}`", self.excerpt())));
        }
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + c.len_utf8();
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('\\') => out.push('\\'),
                    Some('\'') => out.push('\''),
                    Some('"') => out.push('"'),
                    Some('u') => {
                        let rest: String = chars.by_ref().map(|(_, c)| c).take_while(|c| *c != '}').collect();
                        let hex = rest.strip_prefix('{').ok_or_else(|| syntax("bad \\u escape"))?;
                        let code = u32::from_str_radix(hex, 16).map_err(|_| syntax("bad \\u escape"))?;
                        out.push(char::from_u32(code).ok_or_else(|| syntax("bad \\u escape"))?);
                    }
                    _ => return Err(syntax("bad escape")),
                },
                c => out.push(c),
            }
        }
        Err(syntax("unterminated quote"))
    }

    fn int<T: std::str::FromStr>(&mut self, what: &str) -> Result<T> {
        let n = self.number()?;
        n.parse().map_err(|_| syntax(format!("`{n}` is not a {what}")))
    }

    fn float(&mut self) -> Result<f64> {
        let n = self.number()?;
        match n {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => n.parse().map_err(|_| syntax(format!("`{n}` is not a number"))),
        }
    }

    fn name_matches(word: &str, name: &str) -> bool {
        word.strip_prefix('%').unwrap_or(word) == name
    }

    fn value(&mut self, ty: InterfaceType) -> Result<Val> {
        let types = self.types;
        Ok(match ty {
            InterfaceType::Bool => match self.word()?.as_str() {
                "true" => Val::Bool(true),
                "false" => Val::Bool(false),
                w => return Err(syntax(format!("`{w}` is not a bool"))),
            },
            InterfaceType::S8 => Val::S8(self.int("s8")?),
            InterfaceType::U8 => Val::U8(self.int("u8")?),
            InterfaceType::S16 => Val::S16(self.int("s16")?),
            InterfaceType::U16 => Val::U16(self.int("u16")?),
            InterfaceType::S32 => Val::S32(self.int("s32")?),
            InterfaceType::U32 => Val::U32(self.int("u32")?),
            InterfaceType::S64 => Val::S64(self.int("s64")?),
            InterfaceType::U64 => Val::U64(self.int("u64")?),
            InterfaceType::Float32 => Val::Float32(self.float()? as f32),
            InterfaceType::Float64 => Val::Float64(self.float()?),
            InterfaceType::Char => {
                let s = self.quoted('\'')?;
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Val::Char(c),
                    _ => return Err(syntax("a char holds exactly one character")),
                }
            }
            InterfaceType::String => Val::String(self.quoted('"')?),
            InterfaceType::List(i) => Val::List(self.sequence("[", "]", |p| p.value(types.lists[i]))?),
            InterfaceType::Tuple(i) => {
                let elems = types.tuples[i].types.clone();
                let mut it = elems.iter();
                let vals = self.sequence("(", ")", |p| {
                    let t = it.next().ok_or_else(|| syntax("too many tuple elements"))?;
                    p.value(*t)
                })?;
                if vals.len() != elems.len() {
                    return Err(syntax("too few tuple elements"));
                }
                Val::Tuple(vals)
            }
            InterfaceType::Record(i) => {
                let fields = types.records[i].fields.clone();
                let mut got: Vec<Option<Val>> = vec![None; fields.len()];
                self.sequence("{", "}", |p| {
                    let w = p.word()?;
                    let at = fields.iter().position(|(n, _)| Self::name_matches(&w, n));
                    let at = at.ok_or_else(|| syntax(format!("no field `{w}`")))?;
                    p.expect(":")?;
                    got[at] = Some(p.value(fields[at].1)?);
                    Ok(())
                })?;
                let mut out = Vec::new();
                for ((n, t), v) in fields.iter().zip(got) {
                    let v = match (v, t) {
                        (Some(v), _) => v,
                        (None, InterfaceType::Option(_)) => Val::Option(None),
                        (None, _) => return Err(syntax(format!("missing field `{n}`"))),
                    };
                    out.push((n.clone(), v));
                }
                Val::Record(out)
            }
            InterfaceType::Flags(i) => {
                let names = types.flags[i].names.clone();
                let set = self.sequence("{", "}", |p| {
                    let w = p.word()?;
                    names
                        .iter()
                        .find(|n| Self::name_matches(&w, n))
                        .cloned()
                        .ok_or_else(|| syntax(format!("no flag `{w}`")))
                })?;
                Val::Flags(set)
            }
            InterfaceType::Enum(i) => {
                let w = self.word()?;
                let names = &types.enums[i].names;
                Val::Enum(
                    names
                        .iter()
                        .find(|n| Self::name_matches(&w, n))
                        .cloned()
                        .ok_or_else(|| syntax(format!("no case `{w}`")))?,
                )
            }
            InterfaceType::Variant(i) => {
                let w = self.word()?;
                let cases = types.variants[i].cases.clone();
                let (name, payload) = cases
                    .iter()
                    .find(|(n, _)| Self::name_matches(&w, n))
                    .ok_or_else(|| syntax(format!("no case `{w}`")))?;
                Val::Variant(name.clone(), self.payload(*payload)?)
            }
            InterfaceType::Option(i) => match self.word()?.as_str() {
                "none" => Val::Option(None),
                "some" => Val::Option(self.payload(Some(types.options[i]))?),
                w => return Err(syntax(format!("`{w}` is not an option"))),
            },
            InterfaceType::Result(i) => {
                let r = types.results[i].clone();
                match self.word()?.as_str() {
                    "ok" => Val::Result(Ok(self.payload(r.ok)?)),
                    "err" => Val::Result(Err(self.payload(r.err)?)),
                    w => return Err(syntax(format!("`{w}` is not a result"))),
                }
            }
            InterfaceType::Map(_) | InterfaceType::Own(_) | InterfaceType::Borrow(_) => {
                return Err(Error::Unsupported("WAVE values of map and resource types".into()));
            }
        })
    }

    fn payload(&mut self, ty: Option<InterfaceType>) -> Result<Option<Box<Val>>> {
        match ty {
            Some(t) => {
                self.expect("(")?;
                let v = self.value(t)?;
                self.expect(")")?;
                Ok(Some(Box::new(v)))
            }
            None => Ok(None),
        }
    }

    /// Items between `open` and `close`, separated by commas (a trailing one allowed).
    fn sequence<R>(&mut self, open: &str, close: &str, mut item: impl FnMut(&mut Self) -> Result<R>) -> Result<Vec<R>> {
        self.expect(open)?;
        let mut out = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(out);
            }
            out.push(item(self)?);
            if !self.eat(",") {
                self.expect(close)?;
                return Ok(out);
            }
        }
    }
}

/// Parses `text` as a WAVE value of type `ty`.
///
/// # Errors
/// When the text is not a value of that type.
pub fn parse_value(text: &str, ty: InterfaceType, types: &ComponentTypes) -> Result<Val> {
    let mut p = Parser { text, pos: 0, types };
    let v = p.value(ty)?;
    p.skip_ws();
    if !p.rest().is_empty() {
        return Err(syntax(format!("unexpected `{}` after the value", p.excerpt())));
    }
    Ok(v)
}

/// Parses an invocation `name(arg, ...)`: its function name, and the arguments parsed with
/// the types `params` gives for that name.
///
/// # Errors
/// When the text is not an invocation, or an argument does not parse as its type.
pub fn parse_invocation(
    text: &str,
    params: impl FnOnce(&str) -> Result<Vec<InterfaceType>>,
    types: &ComponentTypes,
) -> Result<(String, Vec<Val>)> {
    let text = text.trim();
    let (name, args) = match text.find('(') {
        Some(open) => (text[..open].trim(), &text[open..]),
        None => (text, "()"),
    };
    let params = params(name)?;
    let mut p = Parser { text: args, pos: 0, types };
    let mut it = params.iter();
    let vals = p.sequence("(", ")", |p| {
        let t = it.next().ok_or_else(|| syntax(format!("too many arguments for `{name}`")))?;
        p.value(*t)
    })?;
    if vals.len() != params.len() {
        return Err(syntax(format!("`{name}` takes {} arguments, {} given", params.len(), vals.len())));
    }
    p.skip_ws();
    if !p.rest().is_empty() {
        return Err(syntax(format!("unexpected `{}` after the arguments", p.excerpt())));
    }
    Ok((name.to_string(), vals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_environ::component::{ComponentTypesBuilder, TypeNames, TypeRecord, TypeResult, TypeVariant};

    #[test]
    fn values_parse_by_type_and_print_back() {
        let mut b = ComponentTypesBuilder::default();
        let list = b.list(InterfaceType::String);
        let opt = b.option(InterfaceType::U32);
        let rec = b.record(TypeRecord {
            fields: vec![
                ("name".into(), InterfaceType::String),
                ("tags".into(), InterfaceType::List(list)),
                ("n".into(), InterfaceType::Option(opt)),
            ],
        });
        let var = b.variant(TypeVariant {
            cases: vec![("none".into(), None), ("some-value".into(), Some(InterfaceType::Float64))],
        });
        let res = b.result(TypeResult { ok: None, err: Some(InterfaceType::Char) });
        let flags = b.flags(TypeNames { names: vec!["read".into(), "write".into()] });
        let types = b.finish();
        let parse = |text: &str, ty| parse_value(text, ty, &types);

        let r = parse(r#"{ tags: ["a", "b\n"], name: "kiln" }"#, InterfaceType::Record(rec)).unwrap();
        assert_eq!(r.to_wave(), r#"{name: "kiln", tags: ["a", "b\n"], n: none}"#);
        let v = parse("%none", InterfaceType::Variant(var)).unwrap();
        assert_eq!(v, Val::Variant("none".into(), None));
        assert_eq!(v.to_wave(), "%none");
        let v = parse("some-value(-1.5)", InterfaceType::Variant(var)).unwrap();
        assert_eq!(v.to_wave(), "some-value(-1.5)");
        assert_eq!(parse("err('x')", InterfaceType::Result(res)).unwrap().to_wave(), "err('x')");
        assert_eq!(parse("ok", InterfaceType::Result(res)).unwrap().to_wave(), "ok");
        assert_eq!(parse("{write}", InterfaceType::Flags(flags)).unwrap(), Val::Flags(vec!["write".into()]));
        assert_eq!(parse("-128", InterfaceType::S8).unwrap(), Val::S8(-128));
        assert_eq!(parse("nan", InterfaceType::Float32).unwrap().to_wave(), "nan");
        for bad in ["256", "\"open", "{name: 1}", "some(1)"] {
            let ty = if bad == "256" { InterfaceType::U8 } else { InterfaceType::Record(rec) };
            assert!(parse(bad, ty).is_err(), "{bad} should not parse");
        }
        let (name, args) =
            parse_invocation("greet(\"x\", 7)", |_| Ok(vec![InterfaceType::String, InterfaceType::U32]), &types)
                .unwrap();
        assert_eq!((name.as_str(), args), ("greet", vec![Val::String("x".into()), Val::U32(7)]));
        assert!(parse_invocation("greet(1)", |_| Ok(vec![]), &types).is_err());
    }
}
