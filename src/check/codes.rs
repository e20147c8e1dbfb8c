//! Codes against the code tables, as part of typing: every code, range and pattern of a policy
//! and every code a test gives, checked against the release in force on the policy's effective
//! date.
//!
//! Only the errors (`E03xx`) are found here; the warnings about codes are lint passes
//! (`lints::codes`). An error is part of typing, not a pass, for two reasons: an error decides
//! whether the model is valid, and that must not depend on which codes a caller of
//! [`check`](super::check) allows (the project refuses to allow an error, but the library
//! takes any list); and the warnings read what typing found, through [`CodeTables`]: an item
//! with an error gets no warning, as a name that does not resolve gets no "unused".

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::artifact::CodeStatus;
use crate::ast::Quantifier;
use crate::codes::{self, CodeForm, CodeItem, System};
use crate::diagnostic::{Code, Diagnostic, shown};
use crate::ir::*;
use crate::source::{FileId, Span};
use crate::tables::{Entry, Suggestion, Table, TableSet};
use crate::types::Date;

/// Suggestions shown for one code at most.
const SHOWN_SUGGESTIONS: usize = 3;

/// The code tables as the check reads them, kept by resolution and typing and handed to the
/// lint passes: which release is in force for each file, which files read their codes against
/// a table, and which items were found clean against each release.
#[derive(Debug)]
pub(super) struct CodeTables<'a> {
    tables: &'a TableSet,
    /// The effective date of each policy file.
    dates: HashMap<FileId, Date>,
    /// The policy id of each policy file, to point at.
    policy_spans: HashMap<FileId, Span>,
    /// The files and systems whose codes were read against a table (for the note that no
    /// table was in force on a policy's date).
    consulted: HashSet<(FileId, System)>,
    /// Per release, the code set items typing found without error against it. What the tables
    /// say of an item does not depend on where it is written, so an item met again (in
    /// another set or file) is not looked up again, and the warning passes look only at these.
    clean: HashMap<&'a str, HashSet<CodeItem>>,
}

impl<'a> CodeTables<'a> {
    pub(super) fn new(tables: &'a TableSet) -> Self {
        CodeTables {
            tables,
            dates: HashMap::default(),
            policy_spans: HashMap::default(),
            consulted: HashSet::default(),
            clean: HashMap::default(),
        }
    }

    /// Records a policy file: its policy's effective date, if valid, and the span of its id.
    pub(super) fn policy_file(&mut self, file: FileId, date: Option<Date>, id: Span) {
        if let Some(date) = date {
            self.dates.insert(file, date);
        }
        self.policy_spans.insert(file, id);
    }

    pub(super) fn tables(&self) -> &'a TableSet {
        self.tables
    }

    /// The table a file's codes of a system are checked against: the release in force on its
    /// policy's effective date; for a file without a policy, or a date before every release,
    /// the nearest release.
    pub(super) fn table_for(&self, file: FileId, system: System) -> Option<&'a Table> {
        let date = self.dates.get(&file).copied();
        if let Some(t) = date.and_then(|d| self.tables.in_force(system, d)) {
            return Some(t);
        }
        match date {
            // Before every release: the earliest is nearest.
            Some(_) => self.tables.releases(system).next(),
            None => self.tables.latest(system),
        }
    }

    /// [`CodeTables::table_for`], recording that the file's codes were read against it.
    fn read_against(&mut self, file: FileId, system: System) -> Option<&'a Table> {
        let table = self.table_for(file, system)?;
        self.consulted.insert((file, system));
        Some(table)
    }

    /// The files and systems whose codes typing read against a table whose release took
    /// effect after their policy's date, with that date and the release, in file order.
    pub(super) fn read_before_release(&self) -> Vec<(FileId, System, Date, &'a Table)> {
        let mut out: Vec<_> = self
            .consulted
            .iter()
            .filter_map(|&(file, system)| {
                let date = *self.dates.get(&file)?;
                if self.tables.in_force(system, date).is_some() {
                    return None;
                }
                Some((file, system, date, self.tables.releases(system).next()?))
            })
            .collect();
        out.sort_by_key(|&(file, system, ..)| (file, system));
        out
    }

    /// The span of a policy file's policy id.
    pub(super) fn policy_span(&self, file: FileId) -> Span {
        self.policy_spans.get(&file).copied().unwrap_or_default()
    }

    /// The releases of a system the project names after `table`.
    pub(super) fn later_releases(&self, table: &Table) -> Vec<&'a Table> {
        self.tables
            .releases(table.system())
            .filter(|t| t.effective() > table.effective())
            .collect()
    }

    /// Whether typing found the item without error against the table.
    pub(super) fn is_clean(&self, table: &Table, item: &CodeItem) -> bool {
        self.clean
            .get(table.release())
            .is_some_and(|clean| clean.contains(item))
    }

    /// Suggestions for a code that is not in the table, near codes first.
    fn suggestions(table: &Table, written: &str, near: Near<'_>) -> Vec<Suggestion> {
        let mut s = table.suggest_near(written, &near.codes());
        s.truncate(SHOWN_SUGGESTIONS);
        s
    }

    /// A code that does not have its system's format: is it a code of another system, and
    /// which real code was probably meant?
    pub(super) fn malformed(
        &mut self,
        system: System,
        word: &crate::ast::Word,
        near: Near<'_>,
        reason: codes::FormatError,
        out: &mut Vec<Diagnostic>,
    ) {
        for other in System::ALL.iter().copied().filter(|s| *s != system) {
            if let Ok(CodeForm::Exact(code)) = codes::parse_code(other, &word.text) {
                // Only a table that has the code can say it belongs to the other system: a format
                // alone fits too easily (`M4850XA` has the shape of a PCS code).
                let known = self
                    .tables
                    .latest(other)
                    .is_some_and(|t| t.covers(&code) && t.contains(&code));
                if known {
                    out.push(
                        Diagnostic::new(
                            Code::WrongCodeSystem,
                            format!(
                                "`{}` is {} {} code, not {} {} code",
                                shown(&word.text),
                                super::decls::article(other.display()),
                                other.display(),
                                super::decls::article(system.display()),
                                system.display()
                            ),
                        )
                        .primary(word.span, format!("{} code", other.display()))
                        .help(format!("move it to a `{} {{ ... }}` set", other.name())),
                    );
                    return;
                }
            }
        }
        let mut d = Diagnostic::new(
            Code::MalformedCode,
            format!(
                "`{}` is not a valid {} code: {}",
                shown(&word.text),
                system.display(),
                reason.reason
            ),
        )
        .primary(
            word.span,
            format!(
                "not {} {} code",
                super::decls::article(system.display()),
                system.display()
            ),
        );
        let file = word.span.file;
        let suggestions = self
            .read_against(file, system)
            .map(|t| Self::suggestions(t, &word.text, near))
            .unwrap_or_default();
        if let Some(text) = did_you_mean(&suggestions) {
            d = d.help(text);
            if let Some(first) = suggestions.first() {
                d = d.fix(word.span, first.code.as_str());
            }
            if let Some(h) = reason.help {
                d = d.note(h);
            }
        } else if let Some(h) = reason.help {
            d = d.help(h);
        }
        out.push(d);
    }
}

/// "did you mean `D47.Z9` (`2` for `Z` (look-alike))?"
fn did_you_mean(suggestions: &[Suggestion]) -> Option<String> {
    let first = suggestions.first()?;
    let mut text = format!("did you mean `{}`", first.code);
    let why = first.describe();
    if !why.is_empty() {
        text.push_str(&format!(" ({why})"));
    }
    text.push('?');
    let others: Vec<String> = suggestions
        .iter()
        .skip(1)
        .map(|s| format!("`{}`", s.code))
        .collect();
    if !others.is_empty() {
        text.push_str(&format!(" other candidates: {}", others.join(", ")));
    }
    Some(text)
}

/// The item lists of every code set, with the set's system and file: a set's own list, or the
/// lists inside its chain of set operations.
pub(super) fn item_lists(program: &Program) -> Vec<(System, FileId, &[SetItem])> {
    let mut out = Vec::new();
    for set in &program.code_sets {
        let mut stack = vec![&set.expr];
        while let Some(e) = stack.pop() {
            match e {
                SetExpr::Items(items) if !items.is_empty() => {
                    out.push((set.system, set.span.file, items.as_slice()));
                }
                SetExpr::Items(_) | SetExpr::Ref(_) => {}
                SetExpr::Chain { first, rest } => {
                    stack.push(first);
                    stack.extend(rest.iter().map(|(_, e)| e));
                }
            }
        }
    }
    out
}

/// Checks every code set item and every code a test gives against the tables, and the
/// conditions that require codes no claim can carry together.
pub(super) fn check_codes(
    program: &Program,
    tables: &mut CodeTables<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let mut c = CodeCheck {
        program,
        tables,
        out,
    };
    for (system, file, items) in item_lists(program) {
        c.items(system, file, items);
    }
    for (system, file, code, span) in test_codes(program) {
        c.test_code(system, file, code, span);
    }
    c.excluded_together();
}

/// Every code a test gives, with its system, its test's file and the span of the given value.
pub(super) fn test_codes(program: &Program) -> Vec<(System, FileId, &str, Span)> {
    let mut out = Vec::new();
    for test in &program.tests {
        for given in &test.given {
            let Some(fact) = program.fact(given.fact) else {
                continue;
            };
            let system = match fact.ty {
                crate::types::Type::Code(s) | crate::types::Type::CodeSet(s) => s,
                _ => continue,
            };
            let codes: &[String] = match &given.value {
                Value::Code(c) => std::slice::from_ref(c),
                Value::Codes(cs) => cs,
                _ => continue,
            };
            out.extend(
                codes
                    .iter()
                    .map(|code| (system, test.span.file, code.as_str(), given.span)),
            );
        }
    }
    out
}

/// The code-table checks of typing: they read the model, record what they read in the
/// [`CodeTables`] and report errors.
struct CodeCheck<'c, 'a> {
    program: &'c Program,
    tables: &'c mut CodeTables<'a>,
    out: &'c mut Vec<Diagnostic>,
}

impl<'a> CodeCheck<'_, 'a> {
    fn report(&mut self, d: Diagnostic) {
        self.out.push(d);
    }

    fn items(&mut self, system: System, file: FileId, items: &[SetItem]) {
        let Some(table) = self.tables.read_against(file, system) else {
            return;
        };
        // A code listed again is the same code: it is checked once (the duplicate-code lint
        // reports the repeat).
        let mut seen: HashSet<&str> = HashSet::default();
        let exact: Vec<Option<&str>> = items
            .iter()
            .map(|it| match &it.item {
                CodeItem::Exact(c) => Some(c.as_str()),
                _ => None,
            })
            .collect();
        for (i, item) in items.iter().enumerate() {
            let near = Near::new(&exact, i);
            if let CodeItem::Exact(code) = &item.item
                && !seen.insert(code)
            {
                continue;
            }
            if self.tables.is_clean(table, &item.item) {
                continue;
            }
            let before = self.out.len();
            match &item.item {
                CodeItem::Exact(code) => self.exact(table, code, item.span, near),
                CodeItem::Prefix(p) => self.pattern(table, p, item),
                CodeItem::Range(lo, hi) => self.range(table, lo, hi, item, near),
            }
            if self.out.len() == before {
                self.tables
                    .clean
                    .entry(table.release())
                    .or_default()
                    .insert(item.item.clone());
            }
        }
    }

    /// Checks one exact code.
    fn exact(&mut self, table: &Table, code: &str, span: Span, near: Near<'_>) {
        let release = table.release();
        match table.lookup(code) {
            Some(entry) if entry.is_billable() => {}
            Some(entry) if entry.needs_seventh() => self.missing_seventh(entry, code, span),
            Some(entry) => {
                let below = table.billable_under(code).count();
                self.report(
                    Diagnostic::new(
                        Code::HeaderCode,
                        format!(
                            "`{code}` is a heading, not a billable code: {below} billable code{} lie below it",
                            if below == 1 { "" } else { "s" }
                        ),
                    )
                    .primary(span, format!("a heading in `{release}`"))
                    .note(format!("`{code}`: {}", entry.long()))
                    .help(format!(
                        "a claim carries the codes below it; write `{code}-` to mean all of them, or list the ones meant"
                    )),
                );
            }
            // A table of selected codes cannot say that a code does not exist (the rule of
            // `Table::status`, which reads the entry this match needs).
            None if !table.covers(code) => {}
            None => self.unknown(table, code, span, near),
        }
    }

    /// A code that stops before the 7th character its category requires (`M48.56`, or
    /// `M80.08X` with its placeholder written).
    fn missing_seventh(&mut self, entry: Entry<'_>, code: &str, span: Span) {
        let chars = entry
            .seventh()
            .map(|r| {
                r.chars()
                    .into_iter()
                    .map(|(c, m)| format!("`{c}` ({m})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let example = entry
            .seventh()
            .and_then(|r| r.chars().first().and_then(|(c, _)| r.code_with(*c)));
        let mut d = Diagnostic::new(
            Code::MissingSeventh,
            format!("`{code}` needs a 7th character"),
        )
        .primary(span, "not a code a claim can carry")
        .note(format!("the 7th characters are {chars}"));
        d = match example {
            Some(e) => d.help(format!(
                "write the full code, such as `{e}`, or `{code}-` for every 7th character"
            )),
            None => d.help(format!(
                "write the full code, or `{code}-` for every 7th character"
            )),
        };
        self.report(d);
    }

    /// A code the table does not have: a 7th-character slip, or a suggestion.
    fn unknown(&mut self, table: &Table, code: &str, span: Span, near: Near<'_>) {
        if table.system() == System::Icd10Cm && self.seventh_slip(table, code, span) {
            return;
        }
        let suggestions = CodeTables::suggestions(table, code, near);
        let mut d = Diagnostic::new(
            Code::UnknownCode,
            format!("`{code}` is not a code of `{}`", table.release()),
        )
        .primary(span, "no such code");
        d = match did_you_mean(&suggestions) {
            Some(text) => d.help(text),
            None => d.help("`medpol codes show CODE` looks codes up"),
        };
        if let Some(first) = suggestions.first() {
            d = d.fix(span, first.code.as_str());
        }
        self.report(d);
    }

    /// `M80.08X` (7th character missing), `M80.08A` (placeholder missing) and `M48.50XK` (a
    /// 7th character its category does not allow) are reported as what they are.
    fn seventh_slip(&mut self, table: &Table, code: &str, span: Span) -> bool {
        let plain: String = code.chars().filter(|c| *c != '.').collect();
        let Some(last) = plain.chars().last() else {
            return false;
        };
        // The placeholders written to the sixth place and the 7th character left out
        // (`M80.08X`, `S33.5XX`): the code of the category that needs it, as written.
        let base = code.trim_end_matches('X');
        if plain.len() == 6
            && base.len() < code.len()
            && let Some(e) = table.lookup(base.trim_end_matches('.'))
            && e.needs_seventh()
        {
            self.missing_seventh(e, code, span);
            return true;
        }
        // The code without its last character, as written.
        let stem = code.get(..code.len() - last.len_utf8()).unwrap_or("");
        // A placeholder left out: pad the stem with X and try the character again.
        for pad in 1..=3 {
            let padded = format!("{stem}{}{last}", "X".repeat(pad));
            if let Some(e) = table.lookup(&padded)
                && e.is_billable()
            {
                self.report(
                    Diagnostic::new(
                        Code::MissingPlaceholder,
                        format!("`{code}` is missing its placeholder `X`"),
                    )
                    .primary(span, "placeholder missing")
                    .help(format!("write `{padded}`: the 7th character follows X placeholders to the sixth place"))
                    .fix(span, padded.as_str()),
                );
                return true;
            }
        }
        // A 7th character the category does not allow.
        if plain.len() == 7
            && let Some(base) = table.lookup(stem.trim_end_matches('X').trim_end_matches('.'))
            && let Some(rule) = base.seventh()
            && !rule.allows(last)
        {
            let allowed = rule
                .chars()
                .into_iter()
                .map(|(c, m)| format!("`{c}` ({m})"))
                .collect::<Vec<_>>()
                .join(", ");
            self.report(
                Diagnostic::new(
                    Code::InvalidSeventh,
                    format!("`{last}` is not a 7th character of `{}`", rule.defined_at()),
                )
                .primary(span, "7th character not allowed")
                .note(format!("`{}` allows {allowed}", rule.defined_at()))
                .help("use one of the allowed characters"),
            );
            return true;
        }
        false
    }

    /// A code valid in the release in force but deleted or no longer billable later.
    fn pattern(&mut self, table: &Table, prefix: &str, item: &SetItem) {
        if !table.covers(prefix) || table.billable_under(prefix).next().is_some() {
            return;
        }
        let suggestions = CodeTables::suggestions(table, prefix, Near::NONE);
        let mut d = Diagnostic::new(
            Code::EmptyCodeItem,
            format!(
                "`{}` matches no billable code of `{}`",
                shown(&item.written),
                table.release()
            ),
        )
        .primary(item.span, "matches nothing");
        if let Some(text) = did_you_mean(&suggestions) {
            d = d.help(text);
        }
        self.report(d);
    }

    fn range(&mut self, table: &Table, lo: &str, hi: &str, item: &SetItem, near: Near<'_>) {
        if !table.covers(lo) || !table.covers(hi) {
            if lo > hi {
                self.report(
                    Diagnostic::new(
                        Code::InvertedRange,
                        format!("the range `{}` runs backwards", shown(&item.written)),
                    )
                    .primary(item.span, "first code after the last")
                    .help(format!("write `{hi}..{lo}`")),
                );
            }
            return;
        }
        let mut ends_known = true;
        for end in [lo, hi] {
            if table.lookup(end).is_none() {
                ends_known = false;
                let suggestions = CodeTables::suggestions(table, end, near);
                let mut d = Diagnostic::new(
                    Code::UnknownRangeEnd,
                    format!(
                        "the range `{}` ends at `{end}`, which is not a code of `{}`",
                        shown(&item.written),
                        table.release()
                    ),
                )
                .primary(item.span, "unknown end");
                d = match did_you_mean(&suggestions) {
                    Some(text) => d.help(text),
                    None => d.help("a range runs between two codes of the table"),
                };
                self.report(d);
            }
        }
        if lo > hi {
            self.report(
                Diagnostic::new(
                    Code::InvertedRange,
                    format!("the range `{}` runs backwards", shown(&item.written)),
                )
                .primary(item.span, "first code after the last")
                .help(format!("write `{hi}..{lo}`")),
            );
            return;
        }
        if !ends_known {
            return;
        }
        if table.range(lo, hi).all(|e| !e.is_billable()) {
            self.report(
                Diagnostic::new(
                    Code::EmptyCodeItem,
                    format!(
                        "the range `{}` holds no billable code",
                        shown(&item.written)
                    ),
                )
                .primary(item.span, "empty")
                .help("correct the ends, or list the codes meant"),
            );
        }
    }

    /// A code a test gives: it must be a billable code of the table.
    fn test_code(&mut self, system: System, file: FileId, code: &str, span: Span) {
        let Some(table) = self.tables.read_against(file, system) else {
            return;
        };
        match table.status(code) {
            // A code a partial table does not list is taken as written, as in a code set.
            Some(CodeStatus::Billable) | None => {}
            Some(CodeStatus::Heading) => self.report(
                Diagnostic::new(
                    Code::HeaderCode,
                    format!("`{code}` is a heading, not a billable code"),
                )
                .primary(span, "a claim cannot carry it")
                .help("give the billable code the patient has"),
            ),
            Some(CodeStatus::Absent) => self.unknown(table, code, span, Near::NONE),
        }
    }

    /// A rule or definition that requires codes Excludes1 forbids coding together: no valid
    /// claim can meet it.
    fn excluded_together(&mut self) {
        let p = &self.program;
        let rules = p
            .decisions
            .iter()
            .flat_map(|d| &d.rules)
            .map(|r| ("rule", &r.name, &r.condition));
        let defines = p.defines.iter().filter_map(|def| match &def.body {
            DefineBody::Condition(e) => Some(("definition", &def.name, e)),
            _ => None,
        });
        let mut reports = Vec::new();
        for (kind, name, e) in rules.chain(defines) {
            let what = || format!("{kind} `{}`", shown(name));
            // The positive `has any` / `has all` requirements of a conjunction, per fact.
            let mut needs: HashMap<FactId, Vec<(Quantifier, CodeSetId, Span)>> = HashMap::default();
            let parts: Vec<&Expr> = match &e.kind {
                ExprKind::And(parts) => parts.iter().collect(),
                _ => vec![e],
            };
            for p in parts {
                if let ExprKind::Has {
                    fact,
                    quantifier,
                    set,
                } = &p.kind
                    && *quantifier != Quantifier::None
                {
                    needs
                        .entry(*fact)
                        .or_default()
                        .push((*quantifier, *set, p.span));
                }
            }
            for (fact, list) in needs {
                let Some(system) = self.program.fact(fact).and_then(|f| match f.ty {
                    crate::types::Type::CodeSet(s) => Some(s),
                    _ => None,
                }) else {
                    continue;
                };
                if system != System::Icd10Cm {
                    continue;
                }
                // Excludes1 notes come with the tabular XML; a release read from a flat list has
                // none, so the notes of the newest release that has them are used (they rarely
                // change between releases).
                let Some(table) = self
                    .tables
                    .tables()
                    .releases(system)
                    .filter(|t| t.has_notes())
                    .last()
                else {
                    continue;
                };
                for (i, (qa, a, sa)) in list.iter().enumerate() {
                    for (_, b, sb) in list.iter().skip(i + 1) {
                        if let Some(note) = self.always_excluded(table, *a, *b) {
                            reports.push(
                                Diagnostic::new(
                                    Code::ExcludedTogether,
                                    format!("{} requires diagnoses that an Excludes1 note forbids coding together", what()),
                                )
                                .primary(*sb, "these codes")
                                .secondary(*sa, "cannot be coded with these")
                                .note(format!("Excludes1 at `{}`: {}", note.0, note.1))
                                .help("no valid claim can meet it: require one or the other"),
                            );
                        }
                    }
                    if *qa == Quantifier::All
                        && let Some(note) = self.some_excluded(table, *a)
                    {
                        reports.push(
                            Diagnostic::new(
                                Code::ExcludedTogether,
                                format!("{} requires all of a set whose codes an Excludes1 note forbids coding together", what()),
                            )
                            .primary(*sa, "`has all` of these")
                            .note(format!("Excludes1 at `{}`: {}", note.0, note.1))
                            .help("no valid claim can meet it: use `has any`"),
                        );
                    }
                }
            }
        }
        for d in reports {
            self.report(d);
        }
    }

    /// When every billable code of set `a` excludes (or is excluded by) every billable code of
    /// set `b`, the note that says so. Each code's notes (its own and its ancestors') are read
    /// once; pairs are then tested by the codes the notes name.
    fn always_excluded(
        &self,
        table: &Table,
        a: CodeSetId,
        b: CodeSetId,
    ) -> Option<(String, String)> {
        const MAX_PAIRS: usize = 1_000_000;
        let members = |s: CodeSetId| -> Vec<(String, Vec<crate::tables::Excludes1>)> {
            self.billable_members(table, s)
                .into_iter()
                .map(|e| (e.code().to_string(), e.excludes1()))
                .collect()
        };
        let (ma, mb) = (members(a), members(b));
        if ma.is_empty() || mb.is_empty() || ma.len().saturating_mul(mb.len()) > MAX_PAIRS {
            return None;
        }
        let names = |notes: &[crate::tables::Excludes1], code: &str| {
            notes
                .iter()
                .find(|n| n.refs.iter().any(|r| r.covers(code)))
                .map(|n| (n.from.clone(), n.note.clone()))
        };
        let mut witness = None;
        for (x, x_notes) in &ma {
            for (y, y_notes) in &mb {
                if x == y {
                    return None;
                }
                let note = names(x_notes, y).or_else(|| names(y_notes, x))?;
                witness.get_or_insert(note);
            }
        }
        witness
    }

    /// Two billable codes of one set that an Excludes1 note forbids coding together, if any:
    /// then `has all` of the set can never hold.
    fn some_excluded(&self, table: &Table, set: CodeSetId) -> Option<(String, String)> {
        const MAX_MEMBERS: usize = 200;
        let members: Vec<String> = self
            .billable_members(table, set)
            .into_iter()
            .map(|e| e.code().to_string())
            .take(MAX_MEMBERS + 1)
            .collect();
        if members.len() > MAX_MEMBERS {
            return None;
        }
        for (i, x) in members.iter().enumerate() {
            for y in members.iter().skip(i + 1) {
                if let Some(ex) = table.lookup(x).and_then(|e| e.excludes(y)) {
                    return Some((ex.from, ex.note));
                }
            }
        }
        None
    }

    /// The billable codes of a set, in code order. Only the table entries its items name are
    /// read (a set lists a few codes, ranges and patterns; the table has tens of thousands),
    /// then the set's unions and differences decide.
    fn billable_members<'t>(&self, table: &'t Table, set: CodeSetId) -> Vec<Entry<'t>> {
        let mut items: Vec<&CodeItem> = Vec::new();
        let mut pending = vec![set];
        let mut seen = HashSet::default();
        while let Some(id) = pending.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(s) = self.program.code_set(id) else {
                continue;
            };
            let mut exprs = vec![&s.expr];
            while let Some(e) = exprs.pop() {
                match e {
                    SetExpr::Items(list) => items.extend(list.iter().map(|i| &i.item)),
                    SetExpr::Ref(r) => pending.push(*r),
                    SetExpr::Chain { first, rest } => {
                        exprs.push(first);
                        exprs.extend(rest.iter().map(|(_, e)| e));
                    }
                }
            }
        }
        let mut out: Vec<Entry<'t>> = Vec::new();
        for item in items {
            match item {
                CodeItem::Exact(code) => out.extend(table.lookup(code)),
                CodeItem::Prefix(prefix) => out.extend(table.prefix(prefix)),
                CodeItem::Range(lo, hi) => out.extend(table.range(lo, hi)),
            }
        }
        out.retain(|e| e.is_billable() && self.program.set_contains(set, e.code()));
        out.sort_by(|a, b| a.code().cmp(b.code()));
        out.dedup_by(|a, b| a.code() == b.code());
        out
    }
}

/// The effective date a policy block gives, if it gives a valid one.
pub(super) fn effective_date(p: &crate::ast::PolicyDecl) -> Option<Date> {
    p.entries
        .iter()
        .find_map(|e| match (e.key.name.as_str(), &e.value) {
            ("effective", crate::ast::MetaValue::Date { text, .. }) => Date::parse(text),
            _ => None,
        })
}

/// The other codes written in a list, for suggestions: a damaged code is most likely a
/// neighbour's sibling. Only worked out when a suggestion is needed, so checking a long list
/// stays linear.
#[derive(Clone, Copy)]
pub(super) struct Near<'l> {
    /// The list's codes by position; `None` where an item cannot be a neighbour.
    list: &'l [Option<&'l str>],
    at: usize,
}

impl<'l> Near<'l> {
    /// No neighbours: a code written on its own.
    pub(super) const NONE: Near<'static> = Near { list: &[], at: 0 };

    pub(super) fn new(list: &'l [Option<&'l str>], at: usize) -> Self {
        Near { list, at }
    }

    /// The codes, nearest first; of two as near, the lower code first.
    pub(super) fn codes(self) -> Vec<&'l str> {
        let at = |j: Option<usize>| j.and_then(|j| self.list.get(j)).copied();
        let mut out = Vec::new();
        for distance in 1..self.list.len() {
            let (before, after) = (
                at(self.at.checked_sub(distance)),
                at(self.at.checked_add(distance)),
            );
            if before.is_none() && after.is_none() {
                break;
            }
            let (low, high) = match (before.flatten(), after.flatten()) {
                (Some(a), Some(b)) if b < a => (Some(b), Some(a)),
                pair => pair,
            };
            out.extend(low.into_iter().chain(high));
        }
        out
    }
}
