//! The folded form of the legacy exception instructions, `(try $l? type? (do …) (catch $t …)*
//! (catch_all …)?)` and `(try … (do …) (delegate $l))`, which the spec's `legacy/` scripts use
//! and which the `wast` crate no longer parses. [`unfold_try`] rewrites it into the flat form
//! it does parse (`try … catch $t … end`, `try … delegate $l`), leaving everything else —
//! strings, comments, other instructions — as it was and every line where it was, so that
//! reports keep the script's line numbers.
use std::borrow::Cow;

/// What an open parenthesis was.
enum Open {
    /// A folded `try`; whether its last clause was a `delegate`.
    Try { delegated: bool },
    /// A clause of a folded `try`: `do`, `catch`, `catch_all` or `delegate`.
    Clause,
    /// Anything else.
    Other,
}

/// The keyword right after the `(` at `at`, if any.
fn keyword(bytes: &[u8], at: usize) -> &[u8] {
    let start = at + 1;
    let end = bytes[start..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.'))
        .map_or(bytes.len(), |n| start + n);
    &bytes[start..end]
}

/// `text` with every folded legacy `try` written flat (borrowed when it has none).
pub(crate) fn unfold_try(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if !bytes.windows(5).any(|w| w.starts_with(b"(try") && !(w[4].is_ascii_alphanumeric() || w[4] == b'_')) {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => {
                // A string, with its escapes, copied as it is.
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                out.extend_from_slice(&bytes[start..i]);
                continue;
            }
            b';' if bytes.get(i + 1) == Some(&b';') => {
                let end = bytes[i..].iter().position(|c| *c == b'\n').map_or(bytes.len(), |n| i + n);
                out.extend_from_slice(&bytes[i..end]);
                i = end;
                continue;
            }
            b'(' if bytes.get(i + 1) == Some(&b';') => {
                // A block comment, nested ones included.
                let (start, mut depth) = (i, 0usize);
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"(;") {
                        depth += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b";)") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.extend_from_slice(&bytes[start..i.min(bytes.len())]);
                continue;
            }
            b'(' => {
                let word = keyword(bytes, i);
                let in_try = matches!(stack.last(), Some(Open::Try { .. }));
                if word == b"try" {
                    stack.push(Open::Try { delegated: false });
                    out.push(b' ');
                } else if in_try && word == b"do" {
                    stack.push(Open::Clause);
                    out.extend_from_slice(b"   ");
                    i += 3;
                    continue;
                } else if in_try && matches!(word, b"catch" | b"catch_all" | b"delegate") {
                    if word == b"delegate"
                        && let Some(Open::Try { delegated }) = stack.last_mut()
                    {
                        *delegated = true;
                    }
                    stack.push(Open::Clause);
                    out.push(b' ');
                } else {
                    stack.push(Open::Other);
                    out.push(b'(');
                }
            }
            b')' => match stack.pop() {
                Some(Open::Try { delegated: false }) => out.extend_from_slice(b"end"),
                Some(Open::Try { delegated: true }) | Some(Open::Clause) => out.push(b' '),
                Some(Open::Other) | None => out.push(b')'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    // Only ASCII bytes were replaced, by ASCII bytes.
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::unfold_try;

    #[test]
    fn folded_try_becomes_flat_and_lines_stay() {
        let text =
            "(func (try $t (result i32)\n (do (i32.const 1))\n (catch $e (i32.const 2)) (catch_all (i32.const 3))))";
        let flat = unfold_try(text);
        assert_eq!(
            flat,
            "(func  try $t (result i32)\n     (i32.const 1) \n  catch $e (i32.const 2)   catch_all (i32.const 3) end)"
        );
        assert_eq!(flat.lines().count(), text.lines().count());
        let delegate = unfold_try("(try (do (call $f)) (delegate 0))");
        assert_eq!(delegate, " try     (call $f)   delegate 0  ");
    }

    #[test]
    fn strings_comments_and_try_table_are_left_alone() {
        for text in ["(try_table (do))", "(data \"(try (do))\")", ";; (try (do))\n", "(; (try (do)) ;)"] {
            assert_eq!(unfold_try(text), text);
        }
    }
}
