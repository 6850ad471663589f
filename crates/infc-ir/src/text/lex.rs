//! Line lexer for text IR. Each line is lexed on its own so errors carry the line number.
//!
//! `#` starts a comment, except `# "…"` (a `#` followed by a quoted string), which is the source
//! name field of a constant or node line and becomes a [`Tok::SourceName`].

use super::names::quote;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// `%name` or `%"name"`: `spelling` is the exact text (the lookup key), `name` the plain name.
    Value {
        spelling: String,
        name: String,
    },
    /// `graph`, `const`, `f32`, op names, `true`, `none`, symbolic dims, …
    Ident(String),
    /// Anything starting with a digit or a sign: `3`, `-1`, `1e-5`, `-inf`, `0x1f`.
    Number(String),
    Str(String),
    SourceName(String),
    Punct(char),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Value { spelling, .. } => write!(f, "`{spelling}`"),
            Tok::Ident(s) | Tok::Number(s) => write!(f, "`{s}`"),
            Tok::Str(s) => write!(f, "`{}`", quote(s)),
            Tok::SourceName(s) => write!(f, "`# {}`", quote(s)),
            Tok::Punct(c) => write!(f, "`{c}`"),
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn is_number_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '-' || c == '_'
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    src: &'a str,
}

impl<'a> Lexer<'a> {
    fn take_while(&mut self, start: usize, pred: impl Fn(char) -> bool) -> &'a str {
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if !pred(c) {
                break;
            }
            end = i + c.len_utf8();
            self.chars.next();
        }
        &self.src[start..end]
    }

    /// A quoted string; the opening `"` has been consumed.
    fn string(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let Some((_, c)) = self.chars.next() else {
                return Err(format!("unterminated string `\"{out}`"));
            };
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.escape()?),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        match self.chars.next().map(|(_, c)| c) {
            Some('\\') => Ok('\\'),
            Some('"') => Ok('"'),
            Some('n') => Ok('\n'),
            Some('r') => Ok('\r'),
            Some('t') => Ok('\t'),
            Some('u') => {
                if self.chars.next().map(|(_, c)| c) != Some('{') {
                    return Err("bad escape: expected `\\u{hex}`".to_string());
                }
                let mut hex = String::new();
                loop {
                    match self.chars.next().map(|(_, c)| c) {
                        Some('}') => break,
                        Some(c) if c.is_ascii_hexdigit() && hex.len() < 6 => hex.push(c),
                        _ => return Err(format!("bad escape `\\u{{{hex}`")),
                    }
                }
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("bad escape `\\u{{{hex}}}`"))
            }
            Some(c) => Err(format!("bad escape `\\{c}`")),
            None => Err("unterminated string".to_string()),
        }
    }

    fn skip_spaces(&mut self) {
        while self.chars.peek().is_some_and(|&(_, c)| c.is_whitespace()) {
            self.chars.next();
        }
    }
}

/// Tokens of one line (comments dropped). Errors are messages; the caller adds the line number.
pub(crate) fn lex_line(line: &str) -> Result<Vec<Tok>, String> {
    let mut lx = Lexer {
        chars: line.char_indices().peekable(),
        src: line,
    };
    let mut toks = Vec::new();
    while let Some(&(i, c)) = lx.chars.peek() {
        match c {
            c if c.is_whitespace() => {
                lx.chars.next();
            }
            '#' => {
                lx.chars.next();
                lx.skip_spaces();
                if lx.chars.peek().is_some_and(|&(_, c)| c == '"') {
                    lx.chars.next();
                    toks.push(Tok::SourceName(lx.string()?));
                } else {
                    break;
                }
            }
            '"' => {
                lx.chars.next();
                toks.push(Tok::Str(lx.string()?));
            }
            '%' => {
                lx.chars.next();
                match lx.chars.peek() {
                    Some(&(_, '"')) => {
                        lx.chars.next();
                        let name = lx.string()?;
                        toks.push(Tok::Value {
                            spelling: format!("%{}", quote(&name)),
                            name,
                        });
                    }
                    Some(&(j, c)) if is_ident_char(c) => {
                        let name = lx.take_while(j, is_ident_char).to_string();
                        toks.push(Tok::Value {
                            spelling: format!("%{name}"),
                            name,
                        });
                    }
                    _ => return Err("expected a name after `%`".to_string()),
                }
            }
            '(' | ')' | '[' | ']' | '{' | '}' | ',' | '=' | ':' | '@' => {
                lx.chars.next();
                toks.push(Tok::Punct(c));
            }
            c if is_ident_start(c) => {
                toks.push(Tok::Ident(lx.take_while(i, is_ident_char).to_string()))
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                lx.chars.next();
                let rest = lx.take_while(i + 1, is_number_char);
                toks.push(Tok::Number(format!("{c}{rest}")));
            }
            c => return Err(format!("unexpected character `{c}`")),
        }
    }
    Ok(toks)
}
