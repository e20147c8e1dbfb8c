//! Which printed text belongs to which row: rows that continue the row above (a wrapped line
//! whose code column OCR filled with a damaged copy of the code above), and lines of text that
//! begin or continue a row's description.

use crate::diagnostic::shown;

use super::lines::code_like;
use super::resolve::{self, Reading};
use super::text::{MATCH, beginning, normal, similarity};
use super::{ChangeKind, Elem, Reader, Row, TextLine};

/// How much a description's similarity counts against the layout's one point a line: a
/// description the table confirms outweighs any layout.
const DESCRIPTION_WEIGHT: f64 = 10.0;
/// How alike a text and an unrelated description are by chance.
const CHANCE: f64 = 0.5;
/// Lines of text between two rows considered for each of them; the farther ones are left to
/// neither.
const MAX_SPAN: usize = 4;

/// A row found to continue the row above.
struct Continuation {
    code: String,
    /// The table's description of `code`.
    description: String,
    slips: String,
    /// The row's candidate is a code of the table (with another description).
    is_code: bool,
}

impl Reader<'_> {
    /// Pass 2: rows that continue the description of the row above are merged into it.
    pub(super) fn merge(&mut self) {
        let blocks = self.blocks.clone();
        for block in &blocks {
            let mut above: Option<usize> = None;
            let mut between: Vec<usize> = Vec::new();
            for elem in block {
                match *elem {
                    Elem::Text(t) => {
                        if above.is_some() {
                            between.push(t);
                        }
                    }
                    Elem::Row(r) => {
                        let single = self.rows.get(r).is_some_and(|x| x.tokens.len() == 1);
                        if let Some(a) = above.filter(|_| single)
                            && let Some(c) = self.continuation(a, &between, r)
                        {
                            self.join(a, &between, r, &c);
                        } else {
                            above = single.then_some(r);
                        }
                        between.clear();
                    }
                }
            }
        }
    }

    /// Whether row `r` continues row `a` (with the lines of text between them): its text
    /// completes the table's description of a code `a` may be, better than without it; its
    /// candidate is no code whose description its text begins or is; and it looks like that
    /// code (OCR read the code above again into the empty column).
    fn continuation(&mut self, a: usize, between: &[usize], r: usize) -> Option<Continuation> {
        let row = self.rows.get(r)?;
        let token = row.tokens.first()?;
        if row.own.is_empty() {
            return None;
        }
        let own = normal(&row.own);
        let written = token.written.clone();
        let is_code = match &token.reading {
            Reading::Code { system, code } => {
                if let Some(d) = self.tables.description(*system, code) {
                    let d = normal(&d);
                    if similarity(&own, &d) >= MATCH || beginning(&own, &d) >= MATCH {
                        return None;
                    }
                }
                true
            }
            Reading::Pattern { .. } => return None,
            _ => false,
        };
        let above = self.rows.get(a)?;
        let mut parts: Vec<&str> = vec![above.own.as_str()];
        parts.extend(above.after.iter().map(String::as_str));
        parts.extend(
            between
                .iter()
                .filter_map(|t| self.texts.get(*t))
                .map(|t| t.text.as_str()),
        );
        let base = normal(&parts.join(" "));
        let merged = normal(&format!("{base} {own}"));
        let cap = 100 + 50 * written.chars().count() as u32;
        let mut best: Option<(f64, Continuation)> = None;
        for (system, code, d) in self.descriptions(a) {
            let with = similarity(&merged, &d);
            if with < MATCH || with <= similarity(&base, &d) {
                continue;
            }
            let Some(table) = self.tables.table(system) else {
                continue;
            };
            let Some(cmp) = table.compare(&written, &code).filter(|c| c.cost <= cap) else {
                continue;
            };
            if best.as_ref().is_none_or(|(s, _)| with > *s) {
                best = Some((
                    with,
                    Continuation {
                        description: self.tables.description(system, &code).unwrap_or_default(),
                        code,
                        slips: cmp.describe(),
                        is_code,
                    },
                ));
            }
        }
        best.map(|(_, c)| c)
    }

    /// Merges row `r` (and the lines between) into row `a`.
    fn join(&mut self, a: usize, between: &[usize], r: usize, c: &Continuation) {
        let mut parts: Vec<String> = Vec::new();
        for t in between {
            if let Some(text) = self.texts.get_mut(*t) {
                text.used = true;
                parts.push(text.text.clone());
            }
        }
        let Some(row) = self.rows.get_mut(r) else {
            return;
        };
        row.gone = true;
        let (line, own) = (row.line, row.own.clone());
        let token = row.tokens.first().cloned();
        parts.push(own.clone());
        let Some(above) = self.rows.get_mut(a) else {
            return;
        };
        above.after.extend(parts);
        let above_line = above.line;
        let Some(token) = token else { return };
        let written = shown(&token.written).into_owned();
        let what = match &token.reading {
            Reading::Damaged { systems } if !systems.is_empty() => {
                let release = systems
                    .first()
                    .and_then(|s| self.tables.release(*s))
                    .unwrap_or("the table");
                format!("`{written}` is not in {release}; it is")
            }
            _ if c.is_code => {
                format!("`{written}` is a code, but not the one its text describes; it is")
            }
            _ => format!("`{written}` is"),
        };
        let slips = if c.slips.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.slips)
        };
        let tail = tail(&c.description, own.chars().count() + 24);
        self.change(
            ChangeKind::Merged,
            line,
            &token.written,
            Some(&c.code),
            format!(
                "continuation of the description of `{}` on line {above_line}: `{}` completes the table's “{tail}”; {what} OCR of the same code{slips}: merged into it, not read as a code",
                c.code,
                shown(&own)
            ),
        );
    }

    /// Pass 3: each run of lines of text between two rows goes to the row above (continuing
    /// its description), the row below (beginning it) or neither, whichever the tables'
    /// descriptions and the layout say most.
    pub(super) fn attach(&mut self) {
        let blocks = self.blocks.clone();
        for block in &blocks {
            let mut above: Option<usize> = None;
            let mut gap: Vec<usize> = Vec::new();
            for elem in block {
                match *elem {
                    Elem::Text(t) => {
                        if self.texts.get(t).is_some_and(|x| !x.used) {
                            gap.push(t);
                        }
                    }
                    Elem::Row(r) => {
                        if self.rows.get(r).is_some_and(|x| x.gone) {
                            continue;
                        }
                        self.split(above, &gap, Some(r));
                        gap.clear();
                        above = Some(r);
                    }
                }
            }
            self.split(above, &gap, None);
        }
        self.unused();
    }

    /// Gives the lines of one gap to the row above, the row below or neither.
    fn split(&mut self, above: Option<usize>, gap: &[usize], below: Option<usize>) {
        let m = gap.len();
        if m == 0 {
            return;
        }
        let takes = |r: &Option<usize>, rows: &[Row]| {
            r.filter(|r| rows.get(*r).is_some_and(|x| x.tokens.len() == 1))
        };
        let (a, b) = (takes(&above, &self.rows), takes(&below, &self.rows));
        let da = a.map(|r| self.descriptions(r)).unwrap_or_default();
        let db = b.map(|r| self.descriptions(r)).unwrap_or_default();
        let lines: Vec<TextLine> = gap
            .iter()
            .filter_map(|t| self.texts.get(*t).cloned())
            .collect();
        let max_k = if a.is_some() { m.min(MAX_SPAN) } else { 0 };
        let min_l = if b.is_some() {
            m.saturating_sub(MAX_SPAN)
        } else {
            m
        };
        let mut best: Option<(f64, usize, usize)> = None;
        for k in 0..=max_k {
            for l in k.max(min_l)..=m {
                let mut score: f64 = lines.get(k..l).unwrap_or(&[]).iter().map(alone).sum();
                if let Some(row) = a.and_then(|r| self.rows.get(r)) {
                    score += row_score(row, &da, &[], lines.get(..k).unwrap_or(&[]));
                }
                if let Some(row) = b.and_then(|r| self.rows.get(r)) {
                    score += row_score(row, &db, lines.get(l..).unwrap_or(&[]), &[]);
                }
                if best.is_none_or(|(s, _, _)| score > s + 1e-9) {
                    best = Some((score, k, l));
                }
            }
        }
        let Some((_, k, l)) = best else { return };
        let part = |t: &TextLine| t.text.clone();
        if let Some(row) = a.and_then(|r| self.rows.get_mut(r)) {
            row.after
                .extend(lines.get(..k).unwrap_or(&[]).iter().map(part));
        }
        if let Some(row) = b.and_then(|r| self.rows.get_mut(r)) {
            row.before = lines.get(l..).unwrap_or(&[]).iter().map(part).collect();
        }
        for (i, t) in gap.iter().enumerate() {
            if (i < k || i >= l)
                && let Some(text) = self.texts.get_mut(*t)
            {
                text.used = true;
            }
        }
    }

    /// Lines of text that belong to no row: skipped, or, holding a code, reported.
    fn unused(&mut self) {
        let unused: Vec<TextLine> = self.texts.iter().filter(|t| !t.used).cloned().collect();
        for t in unused {
            let code = t.text.split_whitespace().find_map(|w| {
                match resolve::read(&self.tables, code_like(w)?) {
                    Reading::Code { code, .. } => Some(code),
                    _ => None,
                }
            });
            match code {
                Some(code) => self.change(
                    ChangeKind::CodeInText,
                    t.line,
                    &t.text,
                    Some(&code),
                    format!(
                        "`{code}` stands in text that is not a row of the table (`{}`): not read",
                        shown(&t.text)
                    ),
                ),
                None => self.change(
                    ChangeKind::Skipped,
                    t.line,
                    &t.text,
                    None,
                    format!(
                        "no code, and not part of a description: skipped (`{}`)",
                        shown(&t.text)
                    ),
                ),
            }
        }
    }
}

/// How well a row's description reads with lines of text before and after it: its
/// similarity to the table's description (of the code, or the best of the codes a damaged
/// one may be) above chance, weighted, plus a point for each line that starts where a
/// description starts (a capital) or continues where one continues (no capital), less one for
/// each that does not. An unindented line that starts the description gets no point: a
/// heading above a table looks the same.
fn row_score(
    row: &Row,
    descriptions: &[(crate::codes::System, String, String)],
    before: &[TextLine],
    after: &[TextLine],
) -> f64 {
    // Each part, and whether it is an unindented line of text.
    let mut parts: Vec<(&str, bool)> = before
        .iter()
        .map(|t| (t.text.as_str(), !t.indented))
        .collect();
    if !row.own.is_empty() {
        parts.push((&row.own, false));
    }
    parts.extend(row.after.iter().map(|p| (p.as_str(), false)));
    parts.extend(after.iter().map(|t| (t.text.as_str(), !t.indented)));
    let layout: f64 = parts
        .iter()
        .enumerate()
        .map(|(i, (p, loose))| {
            let starts = p.starts_with(|c: char| c.is_uppercase());
            match (i == 0, starts) {
                (true, true) if *loose => 0.0,
                (true, true) | (false, false) => 1.0,
                _ => -1.0,
            }
        })
        .sum();
    let texts: Vec<&str> = parts.iter().map(|(p, _)| *p).collect();
    let text = normal(&texts.join(" "));
    // Unrelated texts are some 0.2 to 0.4 alike: only what is above chance counts.
    let described = descriptions
        .iter()
        .map(|(_, _, d)| similarity(&text, d))
        .fold(0.0, f64::max);
    DESCRIPTION_WEIGHT * ((described - CHANCE) / (1.0 - CHANCE)).max(0.0) + layout
}

/// The score of a line of text left to no row: a heading-like line (unindented, a capital)
/// stands well alone; a wrapped line (indented) should belong to a row.
fn alone(t: &TextLine) -> f64 {
    if t.indented {
        -1.0
    } else if t.starts() {
        1.0
    } else {
        0.0
    }
}

/// The end of a description, about `n` characters, from a word's start.
fn tail(description: &str, n: usize) -> String {
    let count = description.chars().count();
    if count <= n {
        return description.to_string();
    }
    let rest: String = description.chars().skip(count - n).collect();
    match rest.split_once(' ') {
        Some((_, words)) => format!("…{words}"),
        None => format!("…{rest}"),
    }
}
