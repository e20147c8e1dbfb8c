//! Which existing codes a written code may have meant.
//!
//! Codes reach policies through scans and copy-typing, so the slips are of two kinds: a
//! reader's (OCR reads `Z` as `2`, `M` as the strokes `I V I`, a table rule as `I`, a smudge as
//! `-`) and a typist's (one character wrong, extra, missing or swapped; a dot or placeholder
//! `X` left out). Each slip has a cost, a plain one-character edit being 100 and look-alike
//! slips far less, so the cost of the cheapest alignment of the written code with a candidate
//! is a confusion-aware edit distance. Every code of the table is a candidate: the codes are
//! walked in order as a trie, each row of the distance table computed once per shared prefix,
//! and a prefix whose row cannot beat the candidates already found is skipped whole.

use std::fmt;

use super::code::MAX_CODE;
use super::{Entry, Table};

/// One plain edit: a character replaced, added or left out.
const EDIT: u32 = 100;
/// Characters OCR and readers commonly swap: `O`/`0`, `I`/`1`, `Z`/`2`, `S`/`5`, `B`/`8`...
const LOOK_ALIKE: u32 = 25;
/// Characters of the same shape family (round bowls, diagonal strokes, upright stems) that
/// a degraded scan blurs together.
const SIMILAR: u32 = 50;
/// A wide letter read as its strokes: `M` as `IVI`, `101` or `WI`, `W` as `VV`.
const STROKES: u32 = 35;
/// A mark that is not a letter or digit (`-`, `~`, `'`) read in place of a character.
const SMUDGE: u32 = 55;
/// A stray mark or thin stroke (a table rule read as `I` or `|`) added to the code.
const STRAY: u32 = 40;
/// A dot left out: faint in a scan, skipped by typists (`M4850XA`).
const DOT_MISSING: u32 = 20;
/// A dot added where the code has none. Dearer than a missing one: OCR reads a dot where it is
/// printed, so a dot out of place is a typist's slip (`M485.0XA`), and a rarer one.
const DOT_EXTRA: u32 = 40;
/// A placeholder `X` left out.
const PLACEHOLDER: u32 = 30;
/// Two neighbouring characters swapped.
const TRANSPOSE: u32 = 90;
/// A header is rarely what a code on a claim or in a code list means: at equal slips, a
/// billable code ranks first.
const HEADER: u32 = 10;
/// A damaged code in a list most often repeats a neighbour (OCR that read one printed code
/// twice) or is a sibling of one. These bonuses are a prior over the candidates. The costs
/// above are scaled so that 100 is about a one-in-a-hundred slip (a cost is a log-likelihood);
/// on that scale the code written right next to a damaged one, thousands of times likelier to
/// be meant than a code drawn from the ~100,000 of a table, is worth 150, and each of its
/// siblings 100. Both fall off with distance: the `k`-th nearest code (from 0) gives
/// `2 / (k + 2)` of them.
const REPEAT_OF_NEAR: u32 = 150;
const SIBLING_OF_NEAR: u32 = 100;

/// The longest written code considered; anything longer is not a mangled code.
const MAX_WRITTEN: usize = 24;
/// Pruned prefixes up to this long are skipped by seeking, longer ones by stepping.
const SEEK_PREFIX: usize = 3;
/// Suggestions returned at most.
const MAX_SUGGESTIONS: usize = 5;
/// Candidates kept while walking, so that the bound is the cost of the last kept.
const KEEP: usize = 8;

/// A code the written one may have meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub code: String,
    pub billable: bool,
    /// The cost of the slips (100 is one plain edit), plus 10 for a header, less the bonus for
    /// a code written near it (down to 0). Lower is likelier.
    pub cost: u32,
    /// What went wrong, in the order of the written code.
    pub slips: Vec<Slip>,
    /// The code is, or is a sibling of, a code written near it.
    pub near: bool,
}

impl Suggestion {
    /// The slips in words: "`2` for `Z` (look-alike)".
    pub fn describe(&self) -> String {
        let slips: Vec<String> = self.slips.iter().map(ToString::to_string).collect();
        slips.join(", ")
    }
}

/// One difference between the written code and the suggested one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slip {
    pub kind: SlipKind,
    /// What was written ("" for a character left out).
    pub written: String,
    /// What the code has ("" for an extra character).
    pub meant: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlipKind {
    /// Characters that look alike (`2` for `Z`), or a letter read as strokes (`WI` for `M`).
    LookAlike,
    /// A mark in place of a character (`-` for `4`), or a stray mark or stroke.
    Smudge,
    /// One character for another that does not look like it.
    Substitution,
    /// An extra character.
    Insertion,
    /// A character left out.
    Deletion,
    /// Two neighbouring characters swapped.
    Transposition,
    /// A dot left out, added or misplaced.
    Dot,
    /// A placeholder `X` left out.
    Placeholder,
}

impl fmt::Display for Slip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (w, m) = (&self.written, &self.meant);
        match self.kind {
            SlipKind::LookAlike => write!(f, "`{w}` for `{m}` (look-alike)"),
            SlipKind::Smudge if m.is_empty() => write!(f, "stray `{w}`"),
            SlipKind::Smudge => write!(f, "`{w}` for `{m}` (smudge)"),
            SlipKind::Substitution => write!(f, "`{w}` for `{m}`"),
            SlipKind::Insertion => write!(f, "extra `{w}`"),
            SlipKind::Deletion => write!(f, "missing `{m}`"),
            SlipKind::Transposition => write!(f, "`{w}` for `{m}` (swapped)"),
            SlipKind::Dot if w.is_empty() => f.write_str("missing `.`"),
            SlipKind::Dot if m.is_empty() => f.write_str("extra `.`"),
            SlipKind::Dot => f.write_str("misplaced `.`"),
            SlipKind::Placeholder => f.write_str("missing placeholder `X`"),
        }
    }
}

// ------------------------------------------------------------------ costs

const STRONG_PAIRS: &[(char, char)] = &[
    ('O', '0'),
    ('Q', '0'),
    ('D', '0'),
    ('Q', 'O'),
    ('D', 'O'),
    ('I', '1'),
    ('l', '1'),
    ('l', 'I'),
    ('|', '1'),
    ('|', 'I'),
    ('!', '1'),
    ('Z', '2'),
    ('S', '5'),
    ('B', '8'),
    ('G', '6'),
    ('W', 'M'),
    ('8', '0'),
    ('U', 'V'),
    ('T', '7'),
    ('A', '4'),
    ('E', 'F'),
    ('C', 'G'),
    (',', '.'),
];

/// Shape families: round bowls, diagonal strokes, upright stems, stems with bars.
const FAMILIES: &[&str] = &["0OQDCG69835SB", "VWMNXYKZ27A4", "1ILTJ7|!", "EFPRBHK"];

fn thin(c: char) -> bool {
    matches!(c, 'I' | '1' | 'l' | '|' | '!' | 'i')
}

fn vee(c: char) -> bool {
    matches!(c, 'V' | 'v' | 'U' | 'u' | 'Y' | 'y' | '0' | 'O' | 'o')
}

/// A mark that is not a letter, digit or dot.
fn mark(c: char) -> bool {
    !c.is_ascii_alphanumeric() && c != '.'
}

fn same(w: char, c: u8) -> bool {
    w.to_ascii_uppercase() == char::from(c)
}

/// The cost of reading the candidate's `c` as the written `w`, and what kind of slip it is.
fn substitute(w: char, c: u8) -> (u32, SlipKind) {
    let c = char::from(c);
    let upper = w.to_ascii_uppercase();
    let pair = |a: char, b: char| {
        STRONG_PAIRS
            .iter()
            .any(|&(x, y)| (x, y) == (a, b) || (y, x) == (a, b))
    };
    if pair(w, c) || pair(upper, c) {
        return (LOOK_ALIKE, SlipKind::LookAlike);
    }
    if FAMILIES.iter().any(|f| f.contains(upper) && f.contains(c)) {
        return (SIMILAR, SlipKind::LookAlike);
    }
    if mark(w) {
        return (SMUDGE, SlipKind::Smudge);
    }
    (EDIT, SlipKind::Substitution)
}

/// The cost of a written character the candidate does not have.
fn insert(w: char) -> (u32, SlipKind) {
    match w {
        '.' => (DOT_EXTRA, SlipKind::Dot),
        w if mark(w) || thin(w) => (STRAY, SlipKind::Smudge),
        _ => (EDIT, SlipKind::Insertion),
    }
}

/// The cost of a candidate character the written code does not have; `after_dot` tells a
/// placeholder `X` (ICD-10-CM puts them after the dot) from a letter `X`.
fn delete(c: u8, after_dot: bool) -> (u32, SlipKind) {
    match c {
        b'.' => (DOT_MISSING, SlipKind::Dot),
        b'X' if after_dot => (PLACEHOLDER, SlipKind::Placeholder),
        _ => (EDIT, SlipKind::Deletion),
    }
}

/// Whether the written characters are the strokes of the candidate's wide letter.
fn strokes(c: u8, w: &[char]) -> bool {
    let wide = |x: char| matches!(x, 'W' | 'w' | 'N' | 'n');
    match (c, w) {
        (b'M', &[a, v, b]) => thin(a) && thin(b) && (vee(v) || thin(v)),
        (b'M', &[a, b]) => {
            (wide(a) && thin(b))
                || (thin(a) && wide(b))
                || (matches!(a, 'r' | 'R') && matches!(b, 'n' | 'N'))
        }
        (b'W', &[a, b]) => matches!(a, 'V' | 'v' | 'U' | 'u') && matches!(b, 'V' | 'v' | 'U' | 'u'),
        (b'H', &[a, '-', b]) => thin(a) && thin(b),
        (b'K', &[a, '<']) | (b'D', &[a, ')']) => thin(a),
        (b'0' | b'O', &['(', ')']) => true,
        _ => false,
    }
}

// ------------------------------------------------------------------ the distance table

/// How a cell of the distance table was reached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Start,
    Match,
    Sub(SlipKind),
    Ins(SlipKind),
    Del(SlipKind),
    Transpose,
    Strokes(usize),
}

/// The distance table: row `i` aligns the candidate's first `i` characters with every prefix of
/// the written code. Rows live in one buffer so that walking the trie reuses them.
struct Grid<'w> {
    written: &'w [char],
    cells: Vec<u32>,
    ops: Vec<Op>,
    /// The cost of reading each ASCII byte as each written character, worked out once: the
    /// walk asks for it in every cell.
    subs: Vec<(u32, Op)>,
}

impl<'w> Grid<'w> {
    fn new(written: &'w [char]) -> Grid<'w> {
        let size = (MAX_CODE + 1) * (written.len() + 1);
        let subs = written
            .iter()
            .flat_map(|&w| {
                (0..128u8).map(move |c| {
                    if same(w, c) {
                        (0, Op::Match)
                    } else {
                        let (cost, kind) = substitute(w, c);
                        (cost, Op::Sub(kind))
                    }
                })
            })
            .collect();
        let mut grid = Grid {
            written,
            cells: vec![u32::MAX; size],
            ops: vec![Op::Start; size],
            subs,
        };
        let mut cost = 0;
        for (j, &w) in written.iter().enumerate() {
            cost += insert(w).0;
            grid.set(0, j + 1, cost, Op::Ins(insert(w).1));
        }
        grid.set(0, 0, 0, Op::Start);
        grid
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells
            .get(i * (self.written.len() + 1) + j)
            .copied()
            .unwrap_or(u32::MAX)
    }

    fn op(&self, i: usize, j: usize) -> Op {
        self.ops
            .get(i * (self.written.len() + 1) + j)
            .copied()
            .unwrap_or(Op::Start)
    }

    fn set(&mut self, i: usize, j: usize, cost: u32, op: Op) {
        let k = i * (self.written.len() + 1) + j;
        if let (Some(c), Some(o)) = (self.cells.get_mut(k), self.ops.get_mut(k)) {
            *c = cost;
            *o = op;
        }
    }

    /// Fills row `i` (1-based) for a candidate; earlier rows must hold its prefix. Returns the
    /// row's minimum.
    fn row(&mut self, cand: &[u8], i: usize) -> u32 {
        let Some(&c) = cand.get(i - 1) else {
            return u32::MAX;
        };
        let after_dot = cand.iter().take(i - 1).any(|&b| b == b'.');
        let (del_cost, del_kind) = delete(c, after_dot);
        let mut min = u32::MAX;
        for j in 0..=self.written.len() {
            let mut best = (
                self.at(i - 1, j).saturating_add(del_cost),
                Op::Del(del_kind),
            );
            let mut consider = |cost: u32, op: Op| {
                if cost < best.0 {
                    best = (cost, op);
                }
            };
            if j > 0 {
                let w = self.written.get(j - 1).copied().unwrap_or(' ');
                let (cost, op) = self
                    .subs
                    .get((j - 1) * 128 + usize::from(c))
                    .copied()
                    .unwrap_or((EDIT, Op::Sub(SlipKind::Substitution)));
                consider(self.at(i - 1, j - 1).saturating_add(cost), op);
                let (cost, kind) = insert(w);
                consider(self.at(i, j - 1).saturating_add(cost), Op::Ins(kind));
            }
            if i >= 2 && j >= 2 {
                let (w1, w2) = (self.written.get(j - 2), self.written.get(j - 1));
                let (c1, c2) = (cand.get(i - 2), cand.get(i - 1));
                if let (Some(&w1), Some(&w2), Some(&c1), Some(&c2)) = (w1, w2, c1, c2)
                    && same(w1, c2)
                    && same(w2, c1)
                    && c1 != c2
                {
                    consider(
                        self.at(i - 2, j - 2).saturating_add(TRANSPOSE),
                        Op::Transpose,
                    );
                }
            }
            for len in 2..=3 {
                if j >= len
                    && let Some(ws) = self.written.get(j - len..j)
                    && strokes(c, ws)
                {
                    consider(
                        self.at(i - 1, j - len).saturating_add(STROKES),
                        Op::Strokes(len),
                    );
                }
            }
            self.set(i, j, best.0, best.1);
            min = min.min(best.0);
        }
        min
    }

    /// The slips of the alignment ending at row `n`, in written order.
    fn slips(&self, cand: &[u8], n: usize) -> Vec<Slip> {
        let (mut i, mut j) = (n, self.written.len());
        let mut out = Vec::new();
        let text = |from: usize, to: usize| -> String {
            self.written.get(from..to).unwrap_or(&[]).iter().collect()
        };
        let meant = |i: usize| {
            cand.get(i - 1)
                .map(|&b| char::from(b).to_string())
                .unwrap_or_default()
        };
        while i > 0 || j > 0 {
            let slip = |kind, written, meant| Slip {
                kind,
                written,
                meant,
            };
            match self.op(i, j) {
                Op::Start => break,
                Op::Match => {
                    i -= 1;
                    j -= 1;
                }
                Op::Sub(kind) => {
                    out.push(slip(kind, text(j - 1, j), meant(i)));
                    i -= 1;
                    j -= 1;
                }
                Op::Ins(kind) => {
                    out.push(slip(kind, text(j - 1, j), String::new()));
                    j -= 1;
                }
                Op::Del(kind) => {
                    out.push(slip(kind, String::new(), meant(i)));
                    i -= 1;
                }
                Op::Transpose => {
                    let m: String = cand
                        .get(i - 2..i)
                        .unwrap_or(&[])
                        .iter()
                        .map(|&b| char::from(b))
                        .collect();
                    out.push(slip(SlipKind::Transposition, text(j - 2, j), m));
                    i -= 2;
                    j -= 2;
                }
                Op::Strokes(len) => {
                    out.push(slip(SlipKind::LookAlike, text(j - len, j), meant(i)));
                    i -= 1;
                    j -= len;
                }
            }
        }
        out.reverse();
        merge_dots(out)
    }

    /// The cost and slips of one candidate, computed whole.
    fn align(&mut self, cand: &[u8]) -> (u32, Vec<Slip>) {
        for i in 1..=cand.len() {
            self.row(cand, i);
        }
        (
            self.at(cand.len(), self.written.len()),
            self.slips(cand, cand.len()),
        )
    }
}

/// A dot left out in one place and added in another is one misplaced dot.
fn merge_dots(slips: Vec<Slip>) -> Vec<Slip> {
    let dot = |s: &Slip| s.kind == SlipKind::Dot;
    let missing = slips.iter().position(|s| dot(s) && s.written.is_empty());
    let extra = slips.iter().position(|s| dot(s) && s.meant.is_empty());
    match (missing, extra) {
        (Some(a), Some(b)) => {
            let mut out: Vec<Slip> = slips
                .into_iter()
                .enumerate()
                .filter(|(k, _)| *k != b)
                .map(|(_, s)| s)
                .collect();
            if let Some(s) = out.get_mut(if b < a { a - 1 } else { a }) {
                s.written = ".".into();
            }
            out
        }
        _ => slips,
    }
}

// ------------------------------------------------------------------ the search

struct Found {
    code: String,
    billable: bool,
    /// With the bonus for being near; ties go to the fewer slips, then code order.
    cost: u32,
    slips: u32,
    near: bool,
}

pub(crate) fn suggest(table: &Table, written: &str, near: &[&str]) -> Vec<Suggestion> {
    let written: Vec<char> = written.trim().chars().collect();
    if written.is_empty() || written.len() > MAX_WRITTEN {
        return Vec::new();
    }
    let mut grid = Grid::new(&written);
    // Beyond this a candidate shares too little with the written code to be a suggestion:
    // about one plain edit per two characters.
    let cap = EDIT + written.len() as u32 * EDIT / 2;
    let mut kept: Vec<Found> = Vec::new();
    let bound = |kept: &Vec<Found>| {
        if kept.len() < KEEP {
            cap
        } else {
            kept.last().map_or(cap, |f| f.cost)
        }
    };

    // `done` rows are valid for the prefix `prev` of the previous candidate. When a prefix
    // cannot lead to a candidate worth keeping, the walk skips every code under it: a short
    // prefix (a category or less) by seeking past them, a longer one, whose few codes are
    // cheaper to step over than a seek, one by one.
    let mut prev: Vec<u8> = Vec::new();
    let mut done = 0;
    let mut row_min = [0u32; MAX_CODE + 1];
    let mut skipping: Option<Vec<u8>> = None;
    let mut entries = table.iter();
    while let Some(entry) = entries.next() {
        let cand = entry.code.as_bytes();
        if skipping.as_ref().is_some_and(|p| cand.starts_with(p)) {
            continue;
        }
        skipping = None;
        let shared = cand.iter().zip(&prev).take_while(|(a, b)| a == b).count();
        done = done.min(shared);
        let limit = bound(&kept);
        let mut pruned = None;
        for i in done + 1..=cand.len() {
            let min = grid.row(cand, i);
            if let Some(m) = row_min.get_mut(i) {
                *m = min;
            }
            done = i;
            let before = row_min.get(i - 1).copied().unwrap_or(0);
            if min.min(before) > limit {
                pruned = cand.get(..i).map(<[u8]>::to_vec);
                break;
            }
        }
        prev = cand.to_vec();
        if let Some(mut past) = pruned {
            if past.len() > SEEK_PREFIX {
                skipping = Some(past);
                continue;
            }
            // The first code after all those starting with the prefix: its last byte plus one
            // (codes are ASCII, so it cannot overflow).
            if let Some(last) = past.last_mut() {
                *last = last.saturating_add(1);
            }
            entries = table.entries_from(past);
            continue;
        }
        let cost = grid
            .at(cand.len(), written.len())
            .saturating_add(header_cost(&entry));
        if cost <= limit {
            keep(&mut kept, found(&entry, cost, cost, false));
        }
    }

    for (code, bonus) in near_candidates(table, near) {
        let (slips, _) = grid.align(code.code.as_bytes());
        let slips = slips.saturating_add(header_cost(&code));
        if slips <= cap {
            keep(
                &mut kept,
                found(&code, slips.saturating_sub(bonus), slips, true),
            );
        }
    }

    let best = kept.first().map_or(0, |f| f.cost);
    kept.into_iter()
        .take(MAX_SUGGESTIONS)
        .filter(|f| f.cost <= best + 2 * EDIT)
        .map(|f| {
            let (_, slips) = grid.align(f.code.as_bytes());
            Suggestion {
                code: f.code,
                billable: f.billable,
                cost: f.cost,
                slips,
                near: f.near,
            }
        })
        .collect()
}

/// How a written code differs from one code of the table: the slips of their cheapest
/// alignment and its cost (no header cost, no bonus); `None` when the written code is empty or
/// too long to be a mangled code.
pub(crate) fn compare(entry: &Entry<'_>, written: &str) -> Option<Suggestion> {
    let written: Vec<char> = written.trim().chars().collect();
    if written.is_empty() || written.len() > MAX_WRITTEN {
        return None;
    }
    let mut grid = Grid::new(&written);
    let (cost, slips) = grid.align(entry.code.as_bytes());
    Some(Suggestion {
        code: entry.code().to_string(),
        billable: entry.is_billable(),
        cost,
        slips,
        near: false,
    })
}

fn header_cost(entry: &Entry<'_>) -> u32 {
    if entry.is_billable() { 0 } else { HEADER }
}

fn found(entry: &Entry<'_>, cost: u32, slips: u32, near: bool) -> Found {
    Found {
        code: entry.code().to_string(),
        billable: entry.is_billable(),
        cost,
        slips,
        near,
    }
}

/// Keeps the `KEEP` cheapest; a code found twice keeps its lower cost.
fn keep(kept: &mut Vec<Found>, f: Found) {
    let key = |k: &Found| (k.cost, k.slips, k.code.clone());
    if let Some(old) = kept.iter().position(|k| k.code == f.code) {
        if kept.get(old).is_some_and(|k| key(k) <= key(&f)) {
            return;
        }
        kept.remove(old);
    }
    let at = kept.partition_point(|k| key(k) <= key(&f));
    kept.insert(at, f);
    kept.truncate(KEEP);
}

/// The codes written near (that exist) and their siblings, with their bonus; `near` is
/// closest first.
fn near_candidates<'t>(table: &'t Table, near: &[&str]) -> Vec<(Entry<'t>, u32)> {
    let mut out: Vec<(Entry<'t>, u32)> = Vec::new();
    for (k, code) in near.iter().enumerate() {
        let Some(entry) = table.lookup(code.trim()) else {
            continue;
        };
        let fall = |bonus: u32| bonus.saturating_mul(2) / (k as u32).saturating_add(2);
        let siblings = entry.parent().map(|p| p.children()).unwrap_or_default();
        for s in siblings {
            out.push((s, fall(SIBLING_OF_NEAR)));
        }
        out.push((entry, fall(REPEAT_OF_NEAR)));
    }
    out
}
