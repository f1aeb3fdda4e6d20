//! The safe `where` subset a shape may filter by: comparisons of a column
//! with a literal or a `$n` parameter, `[NOT] IN (...)`, `IS [NOT] NULL`,
//! joined by `AND`, `OR`, `NOT` and parentheses. Anything else is an error
//! that names what is unsupported. The AST renders to SQL in which every
//! value is a bound parameter, and evaluates against a row of Postgres text
//! values with SQL's three-valued logic, so the snapshot query and the live
//! filter agree.

use std::{cmp::Ordering, collections::HashMap};

/// Longest `where` accepted, in bytes.
pub const MAX_LENGTH: usize = 4096;
/// Deepest nesting of parentheses and NOTs accepted.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare { column: String, op: CmpOp, value: Operand },
    In { column: String, negated: bool, values: Vec<Operand> },
    IsNull { column: String, negated: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            CmpOp::Eq => ordering == Ordering::Equal,
            CmpOp::Ne => ordering != Ordering::Equal,
            CmpOp::Lt => ordering == Ordering::Less,
            CmpOp::Le => ordering != Ordering::Greater,
            CmpOp::Gt => ordering == Ordering::Greater,
            CmpOp::Ge => ordering != Ordering::Less,
        }
    }
}

/// A value: a literal (kept as its text) or `$n` (1-based).
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(String),
    Param(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhereError {
    #[error("where is longer than {MAX_LENGTH} bytes")]
    TooLong,
    #[error("where nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("unsupported in where: {0}")]
    Unsupported(String),
    #[error("where ends too early: expected {0}")]
    UnexpectedEnd(&'static str),
    #[error("unknown column in where: {0}")]
    UnknownColumn(String),
    #[error("where uses ${0} but no params[{0}] was given")]
    MissingParam(usize),
    #[error("where compares {column} with {value:?}, which is not a {type_name}")]
    BadValue { column: String, value: String, type_name: &'static str },
}

/// A row to filter: a column's Postgres text, `None` for NULL.
pub trait Row {
    fn cell(&self, column: &str) -> Option<&str>;
}

impl Row for HashMap<String, Option<String>> {
    fn cell(&self, column: &str) -> Option<&str> {
        self.get(column).and_then(|v| v.as_deref())
    }
}

impl Row for serde_json::Map<String, serde_json::Value> {
    fn cell(&self, column: &str) -> Option<&str> {
        self.get(column).and_then(serde_json::Value::as_str)
    }
}

/// The column types the filter knows how to compare (Postgres type names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Uuid,
    Boolean,
    Integer,
    Timestamptz,
}

impl ColumnType {
    /// The type for a Postgres type name; others compare as text.
    pub fn from_pg(name: &str) -> Self {
        match name {
            "uuid" => Self::Uuid,
            "boolean" | "bool" => Self::Boolean,
            "smallint" | "integer" | "bigint" | "int2" | "int4" | "int8" => Self::Integer,
            "timestamp with time zone" | "timestamptz" => Self::Timestamptz,
            _ => Self::Text,
        }
    }

    fn cast(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Uuid => "uuid",
            Self::Boolean => "boolean",
            Self::Integer => "bigint",
            Self::Timestamptz => "timestamptz",
        }
    }

    /// Whether `value` reads as this type. The rules are a subset of what
    /// Postgres accepts, so an accepted value always casts: no NUL in text
    /// (Postgres cannot store it), only the plain uuid forms (not `urn:uuid:`),
    /// only ASCII spaces trimmed, years 1 to 9999 and UTC offsets within
    /// ±15:59 for timestamps. `shape_query`'s server tests check this
    /// against a real Postgres.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            Self::Text => !value.contains('\0'),
            Self::Uuid => parse_uuid(value).is_some(),
            Self::Boolean => parse_bool(value).is_some(),
            Self::Integer => parse_integer(value).is_some(),
            Self::Timestamptz => parse_time(value).is_some(),
        }
    }

    /// Orders two text values as this type; `None` if either does not parse.
    fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Self::Text => Some(a.cmp(b)),
            Self::Uuid => Some(parse_uuid(a)?.cmp(&parse_uuid(b)?)),
            Self::Boolean => Some(parse_bool(a)?.cmp(&parse_bool(b)?)),
            Self::Integer => Some(parse_integer(a)?.cmp(&parse_integer(b)?)),
            Self::Timestamptz => Some(parse_time(a)?.cmp(&parse_time(b)?)),
        }
    }
}

/// Postgres trims only ASCII white space around a value (Rust's `trim`
/// would also take Unicode spaces, which Postgres then refuses).
fn ascii_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// The hyphenated (`8-4-4-4-12`, optionally in braces) or the plain 32-digit
/// form; Postgres reads both, and not the `urn:uuid:` one Rust also would.
fn parse_uuid(text: &str) -> Option<uuid::Uuid> {
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    let plain = inner.len() == 32 && inner.bytes().all(|b| b.is_ascii_hexdigit());
    let hyphenated = inner.len() == 36
        && inner
            .bytes()
            .enumerate()
            .all(|(i, b)| if [8, 13, 18, 23].contains(&i) { b == b'-' } else { b.is_ascii_hexdigit() });
    (plain || hyphenated).then(|| uuid::Uuid::parse_str(inner).ok()).flatten()
}

fn parse_integer(text: &str) -> Option<i64> {
    ascii_trim(text).parse().ok()
}

fn parse_bool(text: &str) -> Option<bool> {
    match ascii_trim(text).to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Postgres refuses UTC offsets beyond ±15:59:59 and year 0 (it counts
/// 1 BC as the year before 1 AD).
const MAX_OFFSET_SECS: i32 = 16 * 3600 - 1;

fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    let text = ascii_trim(text);
    if !text.is_ascii() {
        return None;
    }
    let time = chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .ok()?;
    let in_range = (1..=9999).contains(&time.year()) && time.offset().local_minus_utc().abs() <= MAX_OFFSET_SECS;
    in_range.then(|| time.with_timezone(&chrono::Utc))
}

pub fn parse(text: &str) -> Result<Expr, WhereError> {
    if text.len() > MAX_LENGTH {
        return Err(WhereError::TooLong);
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0, depth: 0 };
    let expr = parser.or()?;
    match parser.peek() {
        None => Ok(expr),
        Some(token) => Err(WhereError::Unsupported(token.describe())),
    }
}

impl Expr {
    /// Every column the expression names.
    pub fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit(&mut |e| match e {
            Expr::Compare { column, .. } | Expr::In { column, .. } | Expr::IsNull { column, .. } => {
                out.push(column.as_str())
            }
            _ => {}
        });
        out
    }

    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Not(a) => a.visit(f),
            _ => {}
        }
    }

    /// Checks columns against the table and `$n` against the params given.
    pub fn check(&self, types: &HashMap<String, ColumnType>, params: &[String]) -> Result<(), WhereError> {
        if let Some(unknown) = self.columns().into_iter().find(|c| !types.contains_key(*c)) {
            return Err(WhereError::UnknownColumn(unknown.to_owned()));
        }
        let mut first_error = None;
        self.visit(&mut |e| {
            let (column, operands): (&str, &[Operand]) = match e {
                Expr::Compare { column, value, .. } => (column, std::slice::from_ref(value)),
                Expr::In { column, values, .. } => (column, values),
                _ => return,
            };
            let ty = types.get(column).copied().unwrap_or(ColumnType::Text);
            for operand in operands {
                let error = match value_of(operand, params) {
                    None => WhereError::MissingParam(if let Operand::Param(n) = operand { *n } else { 0 }),
                    // Checked here so the SQL cast of a bound value never fails.
                    Some(value) if !ty.accepts(value) => WhereError::BadValue {
                        column: column.to_owned(),
                        value: value.chars().take(64).collect(),
                        type_name: ty.cast(),
                    },
                    Some(_) => continue,
                };
                first_error.get_or_insert(error);
            }
        });
        first_error.map_or(Ok(()), Err)
    }

    /// SQL text with every value as a bound parameter (appended to `binds`,
    /// numbered after what `binds` already holds). Call `check` first.
    pub fn to_sql(&self, types: &HashMap<String, ColumnType>, params: &[String], binds: &mut Vec<String>) -> String {
        let column_sql = |column: &str| format!("\"{}\"", column.replace('"', "\"\""));
        let bind = |operand: &Operand, ty: ColumnType, binds: &mut Vec<String>| {
            binds.push(value_of(operand, params).unwrap_or_default().to_owned());
            // Byte order, as `matches` compares text, whatever the database's collation.
            let collate = if ty == ColumnType::Text { " COLLATE \"C\"" } else { "" };
            format!("${}::{}{collate}", binds.len(), ty.cast())
        };
        match self {
            Expr::And(a, b) => format!("({} AND {})", a.to_sql(types, params, binds), b.to_sql(types, params, binds)),
            Expr::Or(a, b) => format!("({} OR {})", a.to_sql(types, params, binds), b.to_sql(types, params, binds)),
            Expr::Not(a) => format!("(NOT {})", a.to_sql(types, params, binds)),
            Expr::Compare { column, op, value } => {
                let ty = types.get(column).copied().unwrap_or(ColumnType::Text);
                format!("({} {} {})", column_sql(column), op.sql(), bind(value, ty, binds))
            }
            Expr::In { column, negated, values } => {
                let ty = types.get(column).copied().unwrap_or(ColumnType::Text);
                let list: Vec<String> = values.iter().map(|v| bind(v, ty, binds)).collect();
                let not = if *negated { "NOT " } else { "" };
                format!("({} {not}IN ({}))", column_sql(column), list.join(", "))
            }
            Expr::IsNull { column, negated } => {
                format!("({} IS {}NULL)", column_sql(column), if *negated { "NOT " } else { "" })
            }
        }
    }

    /// Whether a row (column → Postgres text, `None` for NULL) matches:
    /// SQL's three-valued logic, where only a definite true matches.
    pub fn matches(&self, types: &HashMap<String, ColumnType>, params: &[String], row: &impl Row) -> bool {
        self.eval(types, params, row) == Some(true)
    }

    fn eval(&self, types: &HashMap<String, ColumnType>, params: &[String], row: &impl Row) -> Option<bool> {
        let cell = |column: &str| row.cell(column);
        let ty = |column: &str| types.get(column).copied().unwrap_or(ColumnType::Text);
        match self {
            Expr::And(a, b) => match (a.eval(types, params, row), b.eval(types, params, row)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Expr::Or(a, b) => match (a.eval(types, params, row), b.eval(types, params, row)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Expr::Not(a) => a.eval(types, params, row).map(|v| !v),
            Expr::Compare { column, op, value } => {
                let ordering = ty(column).compare(cell(column)?, value_of(value, params)?)?;
                Some(op.holds(ordering))
            }
            Expr::In { column, negated, values } => {
                let have = cell(column)?;
                let found = values
                    .iter()
                    .filter_map(|v| value_of(v, params))
                    .any(|v| ty(column).compare(have, v) == Some(Ordering::Equal));
                Some(found != *negated)
            }
            Expr::IsNull { column, negated } => Some(cell(column).is_none() != *negated),
        }
    }
}

fn value_of<'a>(operand: &'a Operand, params: &'a [String]) -> Option<&'a str> {
    match operand {
        Operand::Literal(text) => Some(text),
        Operand::Param(n) => params.get(n.checked_sub(1)?).map(String::as_str),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// A `"quoted"` identifier: always a column, never a keyword.
    QuotedIdent(String),
    Str(String),
    Number(String),
    Param(usize),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Ident(word) => format!("`{word}`"),
            Token::QuotedIdent(word) => format!("`\"{word}\"` here"),
            Token::Str(_) => "a string here".into(),
            Token::Number(n) => format!("`{n}` here"),
            Token::Param(n) => format!("`${n}` here"),
            Token::Op(op) => format!("`{op}` here"),
            Token::LParen => "`(` here".into(),
            Token::RParen => "`)` here".into(),
            Token::Comma => "`,` here".into(),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Ident(word) if word.eq_ignore_ascii_case(keyword))
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, WhereError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => (tokens.push(Token::LParen), i += 1).1,
            ')' => (tokens.push(Token::RParen), i += 1).1,
            ',' => (tokens.push(Token::Comma), i += 1).1,
            '\'' | '"' => {
                let (content, next) = quoted(&chars, i, c)?;
                tokens.push(if c == '\'' { Token::Str(content) } else { Token::QuotedIdent(content) });
                i = next;
            }
            '$' => {
                let digits: String = chars[i + 1..].iter().take_while(|c| c.is_ascii_digit()).collect();
                let n = digits.parse().map_err(|_| WhereError::Unsupported("`$` without a number".into()))?;
                tokens.push(Token::Param(n));
                i += 1 + digits.len();
            }
            '=' => (tokens.push(Token::Op("=")), i += 1).1,
            '<' | '>' | '!' => {
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let op = match two.as_str() {
                    "<=" => "<=",
                    ">=" => ">=",
                    "<>" => "<>",
                    "!=" => "<>",
                    _ if c == '<' => "<",
                    _ if c == '>' => ">",
                    _ => return Err(WhereError::Unsupported("`!`".into())),
                };
                i += if op.len() == 2 || two == "!=" { 2 } else { 1 };
                tokens.push(Token::Op(op));
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                tokens.push(Token::Number(chars[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(WhereError::Unsupported(format!("`{other}`"))),
        }
    }
    Ok(tokens)
}

/// The content of a quoted run starting at `start` (doubled quotes escape),
/// and the index after it.
fn quoted(chars: &[char], start: usize, quote: char) -> Result<(String, usize), WhereError> {
    let mut content = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(WhereError::UnexpectedEnd("a closing quote")),
            Some(&c) if c == quote && chars.get(i + 1) == Some(&quote) => {
                content.push(quote);
                i += 2;
            }
            Some(&c) if c == quote => return Ok((content, i + 1)),
            Some(&c) => {
                content.push(c);
                i += 1;
            }
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self, expected: &'static str) -> Result<Token, WhereError> {
        let token = self.tokens.get(self.at).cloned().ok_or(WhereError::UnexpectedEnd(expected))?;
        self.at += 1;
        Ok(token)
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|t| t.is_keyword(keyword));
        if found {
            self.at += 1;
        }
        found
    }

    fn deeper(&mut self) -> Result<(), WhereError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(WhereError::TooDeep);
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, WhereError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, WhereError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, WhereError> {
        if self.eat_keyword("NOT") {
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, WhereError> {
        if self.peek() == Some(&Token::LParen) {
            self.at += 1;
            self.deeper()?;
            let inner = self.or()?;
            self.depth -= 1;
            return match self.next("`)`")? {
                Token::RParen => Ok(inner),
                other => Err(WhereError::Unsupported(other.describe())),
            };
        }
        let column = match self.next("a column")? {
            Token::Ident(name) if !is_reserved(&name) => name,
            Token::QuotedIdent(name) => name,
            other => return Err(WhereError::Unsupported(other.describe())),
        };
        self.predicate(column)
    }

    fn predicate(&mut self, column: String) -> Result<Expr, WhereError> {
        if self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            return match self.next("NULL")? {
                t if t.is_keyword("NULL") => Ok(Expr::IsNull { column, negated }),
                other => Err(WhereError::Unsupported(format!("IS followed by {}", other.describe()))),
            };
        }
        let negated = self.eat_keyword("NOT");
        if self.eat_keyword("IN") {
            return Ok(Expr::In { column, negated, values: self.list()? });
        }
        if negated {
            return Err(WhereError::Unsupported("NOT after a column (only NOT IN)".into()));
        }
        let op = match self.next("a comparison")? {
            Token::Op("=") => CmpOp::Eq,
            Token::Op("<>") => CmpOp::Ne,
            Token::Op("<") => CmpOp::Lt,
            Token::Op("<=") => CmpOp::Le,
            Token::Op(">") => CmpOp::Gt,
            Token::Op(">=") => CmpOp::Ge,
            other => return Err(WhereError::Unsupported(other.describe())),
        };
        Ok(Expr::Compare { column, op, value: self.operand()? })
    }

    fn list(&mut self) -> Result<Vec<Operand>, WhereError> {
        match self.next("`(`")? {
            Token::LParen => {}
            other => return Err(WhereError::Unsupported(other.describe())),
        }
        let mut values = vec![self.operand()?];
        loop {
            match self.next("`)`")? {
                Token::Comma => values.push(self.operand()?),
                Token::RParen => return Ok(values),
                other => return Err(WhereError::Unsupported(other.describe())),
            }
        }
    }

    fn operand(&mut self) -> Result<Operand, WhereError> {
        match self.next("a value")? {
            Token::Str(text) | Token::Number(text) => Ok(Operand::Literal(text)),
            Token::Param(n) => Ok(Operand::Param(n)),
            t if t.is_keyword("TRUE") => Ok(Operand::Literal("true".into())),
            t if t.is_keyword("FALSE") => Ok(Operand::Literal("false".into())),
            t if t.is_keyword("NULL") => Err(WhereError::Unsupported("comparing with NULL (use IS NULL)".into())),
            other => Err(WhereError::Unsupported(other.describe())),
        }
    }
}

fn is_reserved(word: &str) -> bool {
    ["AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE"].iter().any(|k| word.eq_ignore_ascii_case(k))
}

#[cfg(test)]
mod tests;
