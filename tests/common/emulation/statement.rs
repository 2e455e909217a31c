//! Reading Redshift statement text: comments, string literals, words, and the COPY command.

use super::{redshift_error, Failure};

/// `sql` without `--` comments (outside string literals), whitespace runs collapsed to one space,
/// the final `;` removed.
pub fn normalize(sql: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            in_string = c != '\'';
            continue;
        }
        match c {
            '\'' => {
                in_string = true;
                out.push(c);
            }
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                out.push(' ');
            }
            c if c.is_whitespace() => out.push(' '),
            c => out.push(c),
        }
    }
    let words: Vec<&str> = out.split(' ').filter(|w| !w.is_empty()).collect();
    words.join(" ").trim_end_matches(';').trim_end().to_owned()
}

/// One token of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A keyword or (possibly qualified) identifier, as written.
    Word(String),
    /// A string literal, unquoted.
    Str(String),
    /// `(`, `)`, `,` or `;`.
    Punct(char),
}

impl Token {
    fn is_word(&self, w: &str) -> bool {
        matches!(self, Token::Word(x) if x.eq_ignore_ascii_case(w))
    }
}

/// The tokens of a normalized statement.
pub fn tokens(sql: &str) -> Result<Vec<Token>, Failure> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | ';' => {
                chars.next();
                out.push(Token::Punct(c));
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => s.push(c),
                        None => return Err(syntax("unterminated quoted string")),
                    }
                }
                out.push(Token::Str(s));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "(),;'".contains(c) {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push(Token::Word(w));
            }
        }
    }
    Ok(out)
}

fn syntax(what: &str) -> Failure {
    redshift_error("42601", format!("syntax error: {what}"))
}

/// The data format of a COPY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `FORMAT AS PARQUET`.
    Parquet,
    /// `FORMAT AS JSON 'auto' | 'auto ignorecase' | 's3://…jsonpaths'`.
    Json(String),
}

/// A parsed `COPY table [(columns)] FROM 's3://…' option…`.
#[derive(Debug, Clone)]
pub struct Copy {
    /// The table as written (maybe schema-qualified).
    pub table: String,
    /// The column list, when given.
    pub columns: Option<Vec<String>>,
    /// The `FROM` URL.
    pub from: String,
    /// The format (`None`: CSV-like text, which the emulation does not serve).
    pub format: Option<Format>,
    /// Every option keyword given, upper case, in order (`IAM_ROLE`, `MANIFEST`, `REGION`, …).
    pub options: Vec<String>,
    /// `IAM_ROLE '…'` or `CREDENTIALS '…'`.
    pub credentials: Option<String>,
    /// `REGION '…'`.
    pub region: Option<String>,
    /// `MANIFEST` given.
    pub manifest: bool,
    /// `TRUNCATECOLUMNS` given.
    pub truncate_columns: bool,
    /// `MAXERROR n` (0 when absent).
    pub max_error: u64,
    /// `TIMEFORMAT '…'`.
    pub time_format: Option<String>,
}

/// Parses the text after `COPY `.
pub fn parse_copy(sql: &str) -> Result<Copy, Failure> {
    let toks = tokens(sql)?;
    let mut it = toks.into_iter().peekable();
    let Some(Token::Word(table)) = it.next() else {
        return Err(syntax("COPY needs a table name"));
    };
    let mut columns = None;
    if it.peek() == Some(&Token::Punct('(')) {
        it.next();
        let mut list = Vec::new();
        loop {
            match it.next() {
                Some(Token::Word(c)) => list.push(c.to_ascii_lowercase()),
                Some(Token::Punct(',')) => {}
                Some(Token::Punct(')')) => break,
                _ => return Err(syntax("bad COPY column list")),
            }
        }
        columns = Some(list);
    }
    if !it.next().is_some_and(|t| t.is_word("FROM")) {
        return Err(syntax("expected FROM"));
    }
    let Some(Token::Str(from)) = it.next() else {
        return Err(syntax("COPY FROM needs a quoted source"));
    };
    let mut copy = Copy {
        table,
        columns,
        from,
        format: None,
        options: Vec::new(),
        credentials: None,
        region: None,
        manifest: false,
        truncate_columns: false,
        max_error: 0,
        time_format: None,
    };
    let string = |it: &mut std::iter::Peekable<std::vec::IntoIter<Token>>, what: &str| {
        if it.peek().is_some_and(|t| t.is_word("AS")) {
            it.next();
        }
        match it.next() {
            Some(Token::Str(s)) => Ok(s),
            _ => Err(syntax(&format!("{what} needs a quoted value"))),
        }
    };
    while let Some(tok) = it.next() {
        let Token::Word(word) = tok else {
            return Err(syntax(&format!("unexpected {tok:?} in COPY options")));
        };
        let word = word.to_ascii_uppercase();
        match word.as_str() {
            "IAM_ROLE" | "CREDENTIALS" => copy.credentials = Some(string(&mut it, &word)?),
            "REGION" => copy.region = Some(string(&mut it, &word)?),
            "TIMEFORMAT" | "DATEFORMAT" => {
                let v = string(&mut it, &word)?;
                if word == "TIMEFORMAT" {
                    copy.time_format = Some(v);
                }
            }
            "FORMAT" => {
                if it.peek().is_some_and(|t| t.is_word("AS")) {
                    it.next();
                }
                match it.next() {
                    Some(Token::Word(f)) if f.eq_ignore_ascii_case("PARQUET") => {
                        copy.format = Some(Format::Parquet);
                    }
                    Some(Token::Word(f)) if f.eq_ignore_ascii_case("JSON") => {
                        copy.format = Some(Format::Json(string(&mut it, "JSON")?));
                    }
                    other => return Err(syntax(&format!("unknown COPY format {other:?}"))),
                }
                copy.options.push(word);
                continue;
            }
            "PARQUET" => copy.format = Some(Format::Parquet),
            "JSON" => copy.format = Some(Format::Json(string(&mut it, "JSON")?)),
            "MANIFEST" => copy.manifest = true,
            "TRUNCATECOLUMNS" => copy.truncate_columns = true,
            "MAXERROR" => {
                if it.peek().is_some_and(|t| t.is_word("AS")) {
                    it.next();
                }
                copy.max_error = match it.next() {
                    Some(Token::Word(n)) => n
                        .parse()
                        .map_err(|_| syntax(&format!("MAXERROR {n} is not a number")))?,
                    _ => return Err(syntax("MAXERROR needs a number")),
                };
            }
            "COMPUPDATE" | "STATUPDATE" => {
                if it.peek().is_some_and(|t| {
                    ["ON", "OFF", "TRUE", "FALSE", "PRESET"]
                        .iter()
                        .any(|w| t.is_word(w))
                }) {
                    it.next();
                }
            }
            "ACCEPTINVCHARS" => {
                if matches!(it.peek(), Some(Token::Str(_))) {
                    it.next();
                }
            }
            "FILLRECORD" | "EXPLICIT_IDS" | "BLANKSASNULL" | "EMPTYASNULL" | "SERIALIZETOJSON"
            | "GZIP" | "BZIP2" | "ZSTD" => {}
            _ => return Err(syntax(&format!("unknown COPY option {word}"))),
        }
        copy.options.push(word);
    }
    Ok(copy)
}

/// Splits `s3://bucket/key` into bucket and key.
pub fn s3_url(url: &str) -> Result<(&str, &str), Failure> {
    url.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, _)| !bucket.is_empty())
        .ok_or_else(|| {
            redshift_error(
                "XX000",
                format!("Invalid S3 URL {url}: expected s3://bucket/key"),
            )
        })
}
