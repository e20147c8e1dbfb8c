//! The on-disk table format: written by [`encode`], read in place by [`View`] without copying
//! or decoding anything at load. Layout and reasons: `docs/decisions/0002-table-format.md`.
//!
//! Every read goes through `get`, so a damaged file gives missing entries or empty text, never
//! a panic; the checksum makes damage an error at load instead.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::codes::System;
use crate::types::Date;

use super::CodeRef;
use super::code::{CodeBuf, MAX_CODE};
use super::data::TableData;

const MAGIC: &[u8; 8] = b"MEDPOLTB";
const VERSION: u16 = 1;
/// Entries per block. A lookup decodes at most one block; front coding and description
/// sharing restart at each block. 32 keeps a lookup under a microsecond or two and the index
/// small.
const BLOCK: usize = 32;

/// Sections, in file order.
#[derive(Clone, Copy)]
enum Sec {
    Meta,
    Index,
    Codes,
    Texts,
    Dict,
    Rules,
    RuleKeys,
    Notes,
    NoteKeys,
    Addons,
    AddonKeys,
}

const SECTIONS: usize = 11;
const HEADER: usize = 24 + SECTIONS * 8;

/// Header flag: 7th-character codes are derived (see [`TableData::derive_seventh`]).
const DERIVE_SEVENTH: u8 = 1;

/// Entry flags, one byte per stored entry in the code stream.
pub(crate) const BILLABLE: u8 = 1;
/// A short description that differs from the long one follows the long one.
const SHORT: u8 = 2;
/// The short description is the long one.
const SHORT_SAME: u8 = 4;
/// Short descriptions of the derived 7th-character codes follow.
const DERIVED_SHORTS: u8 = 8;

fn system_byte(system: System) -> u8 {
    match system {
        System::Icd10Cm => 1,
        System::Icd10Pcs => 2,
        System::Cpt => 3,
        System::Hcpcs => 4,
    }
}

fn byte_system(b: u8) -> Option<System> {
    System::ALL.iter().copied().find(|s| system_byte(*s) == b)
}

// ------------------------------------------------------------------ text tokens

/// Cuts text into tokens that concatenate back to it: a run of ASCII letters and digits or
/// one other character, each with the single space before it. Descriptions are made of few
/// distinct words, so a table stores each token once and a description as token numbers.
pub(crate) fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let body = if c == ' ' {
            match chars.peek() {
                Some(&(_, next)) if next != ' ' => chars.next().map(|(_, n)| n),
                _ => None,
            }
        } else {
            Some(c)
        };
        if body.is_some_and(|b| b.is_ascii_alphanumeric()) {
            while chars.next_if(|(_, n)| n.is_ascii_alphanumeric()).is_some() {}
        }
        let end = chars.peek().map_or(text.len(), |&(i, _)| i);
        if let Some(t) = text.get(start..end) {
            out.push(t);
        }
    }
    out
}

// ------------------------------------------------------------------ writing

#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn varint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    /// A code in a fixed-width slot, padded with NUL.
    fn slot(&mut self, code: &[u8], width: usize) {
        self.0.extend_from_slice(code);
        self.0
            .extend(std::iter::repeat_n(0, width.saturating_sub(code.len())));
    }
    fn short_bytes(&mut self, b: &[u8]) -> Result<(), String> {
        let len = u8::try_from(b.len()).map_err(|_| "a reference longer than 255 bytes")?;
        self.u8(len);
        self.bytes(b);
        Ok(())
    }
    fn str16(&mut self, s: &str) -> Result<(), String> {
        let len = u16::try_from(s.len())
            .map_err(|_| format!("`{}` is too long", crate::diagnostic::shown(s)))?;
        self.u16(len);
        self.bytes(s.as_bytes());
        Ok(())
    }
    fn len32(&self) -> Result<u32, String> {
        u32::try_from(self.0.len()).map_err(|_| "the table is larger than 4 GiB".to_string())
    }
    /// Tokens written in full.
    fn plain(&mut self, ids: &[u32]) -> Result<(), String> {
        self.varint(count32(ids.len())?);
        for &id in ids {
            self.varint(id);
        }
        Ok(())
    }
    /// Tokens written as the prefix and suffix they share with the previous text plus the
    /// tokens in between: neighbouring codes' descriptions differ in a word or two.
    fn shared(&mut self, ids: &[u32], prev: &[u32]) -> Result<(), String> {
        let prefix = ids.iter().zip(prev).take_while(|(a, b)| a == b).count();
        let room = ids.len().min(prev.len()) - prefix;
        let suffix = ids
            .iter()
            .rev()
            .zip(prev.iter().rev())
            .take(room)
            .take_while(|(a, b)| a == b)
            .count();
        self.varint(count32(prefix)?);
        self.varint(count32(suffix)?);
        let middle = ids.get(prefix..ids.len() - suffix).unwrap_or(&[]);
        self.plain(middle)
    }
}

fn count32(n: usize) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| "too many items".to_string())
}

/// What the encoder and the reader both need to know about an entry's 7th characters.
pub(crate) struct Expansion {
    /// Index into the rule list of each entry whose codes are derived, else `None`.
    pub(crate) rule_of: Vec<Option<usize>>,
    pub(crate) rules: Vec<Vec<(char, String)>>,
    /// The rule id defined at each entry that has a `seventh`.
    pub(crate) defined: Vec<Option<u32>>,
}

/// Finds, for every entry, the rule of its nearest ancestor-or-self and whether it is a leaf.
pub(crate) fn expansion(data: &TableData) -> Result<Expansion, String> {
    let mut rules: Vec<Vec<(char, String)>> = Vec::new();
    let mut ids: BTreeMap<&Vec<(char, String)>, usize> = BTreeMap::new();
    let mut defined = Vec::with_capacity(data.entries.len());
    let mut by_code: HashMap<&str, usize> = HashMap::new();
    for e in &data.entries {
        let id = match &e.seventh {
            Some(rule) => {
                if rule.is_empty() || rule.len() > 255 {
                    return Err(format!(
                        "{}: a 7th-character rule needs 1 to 255 characters",
                        e.code
                    ));
                }
                let next = rules.len();
                let id = *ids.entry(rule).or_insert(next);
                if id == next {
                    rules.push(rule.clone());
                }
                by_code.insert(&e.code, id);
                Some(count32(id)?)
            }
            None => None,
        };
        defined.push(id);
    }
    let mut rule_of = Vec::with_capacity(data.entries.len());
    for (i, e) in data.entries.iter().enumerate() {
        let leaf = data
            .entries
            .get(i + 1)
            .is_none_or(|next| !next.code.starts_with(&e.code));
        let code = CodeBuf::new(e.code.as_bytes()).ok_or_else(|| {
            format!(
                "`{}` is too long",
                crate::diagnostic::shown(e.code.as_ref())
            )
        })?;
        let rule = std::iter::once(code)
            .chain(code.ancestors())
            .find_map(|c| by_code.get(c.as_str()).copied());
        rule_of.push(if data.derive_seventh && leaf {
            rule
        } else {
            None
        });
    }
    Ok(Expansion {
        rule_of,
        rules,
        defined,
    })
}

fn count<'a>(freq: &mut HashMap<&'a str, u64>, text: &'a str) {
    for t in tokens(text) {
        *freq.entry(t).or_default() += 1;
    }
}

/// Encodes a table. Fails on data no importer produces: unsorted or repeated codes, codes
/// that are too long, a billable entry whose codes are derived.
pub(crate) fn encode(data: &TableData) -> Result<Vec<u8>, String> {
    for pair in data.entries.windows(2) {
        if let [a, b] = pair
            && a.code >= b.code
        {
            return Err(format!(
                "codes out of order or repeated: `{}` then `{}`",
                a.code, b.code
            ));
        }
    }
    let mut width = 1;
    for e in &data.entries {
        if e.code.is_empty()
            || e.code.len() > MAX_CODE
            || !e.code.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!(
                "`{}` is not a code",
                crate::diagnostic::shown(e.code.as_ref())
            ));
        }
        width = width.max(e.code.len());
    }
    let exp = expansion(data)?;

    // Token dictionary, most frequent first so that common words take one byte.
    let mut freq: HashMap<&str, u64> = HashMap::new();
    for e in &data.entries {
        count(&mut freq, &e.long);
        if let Some(s) = &e.short {
            count(&mut freq, s);
        }
        e.derived_shorts.iter().for_each(|s| count(&mut freq, s));
        e.excludes1.iter().for_each(|n| count(&mut freq, &n.text));
    }
    for rule in &exp.rules {
        rule.iter().for_each(|(_, m)| count(&mut freq, m));
    }
    let mut dict: Vec<(&str, u64)> = freq.into_iter().collect();
    dict.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let ids: HashMap<&str, u32> = dict
        .iter()
        .enumerate()
        .map(|(i, (t, _))| Ok((*t, count32(i)?)))
        .collect::<Result<_, String>>()?;
    let tok = |text: &str| -> Vec<u32> {
        tokens(text)
            .iter()
            .filter_map(|t| ids.get(t).copied())
            .collect()
    };

    let mut index = Out::default();
    let mut codes = Out::default();
    let mut texts = Out::default();
    let (mut total, mut billable) = (0u32, 0u32);
    let (mut prev_code, mut prev_long, mut prev_short, mut prev_derived): (
        &[u8],
        Vec<u32>,
        Vec<u32>,
        Vec<u32>,
    ) = (&[], Vec::new(), Vec::new(), Vec::new());
    for (i, e) in data.entries.iter().enumerate() {
        if i.is_multiple_of(BLOCK) {
            index.slot(e.code.as_bytes(), width);
            index.u32(codes.len32()?);
            index.u32(texts.len32()?);
            prev_code = &[];
            prev_long.clear();
            prev_short.clear();
            prev_derived.clear();
        }
        let derived = exp
            .rule_of
            .get(i)
            .copied()
            .flatten()
            .and_then(|r| exp.rules.get(r))
            .map_or(0, Vec::len);
        if derived > 0
            && CodeBuf::new(e.code.as_bytes())
                .and_then(|c| c.with_seventh(b'A'))
                .is_none()
        {
            return Err(format!(
                "`{}` is too long to take a 7th character",
                crate::diagnostic::shown(e.code.as_ref())
            ));
        }
        if derived > 0 && e.billable {
            return Err(format!(
                "`{}` is billable but its codes take a 7th character",
                e.code
            ));
        }
        if !e.derived_shorts.is_empty() && e.derived_shorts.len() != derived {
            return Err(format!(
                "`{}` has {} short descriptions for {derived} 7th-character codes",
                e.code,
                e.derived_shorts.len()
            ));
        }
        total += 1 + count32(derived)?;
        billable += u32::from(e.billable) + count32(derived)?;

        let code = e.code.as_bytes();
        let shared = code
            .iter()
            .zip(prev_code)
            .take_while(|(a, b)| a == b)
            .count();
        codes.u8(shared as u8);
        let rest = code.get(shared..).unwrap_or(&[]);
        codes.u8(rest.len() as u8);
        codes.bytes(rest);
        let mut flags = if e.billable { BILLABLE } else { 0 };
        match &e.short {
            Some(s) if *s == e.long => flags |= SHORT_SAME,
            Some(_) => flags |= SHORT,
            None => {}
        }
        if !e.derived_shorts.is_empty() {
            flags |= DERIVED_SHORTS;
        }
        codes.u8(flags);
        prev_code = code;

        let long = tok(&e.long);
        texts.shared(&long, &prev_long)?;
        prev_long = long;
        if let Some(s) = e.short.as_ref().filter(|s| **s != e.long) {
            let short = tok(s);
            texts.shared(&short, &prev_short)?;
            prev_short = short;
        }
        if !e.derived_shorts.is_empty() {
            texts.varint(count32(e.derived_shorts.len())?);
            for s in &e.derived_shorts {
                let short = tok(s);
                texts.shared(&short, &prev_derived)?;
                prev_derived = short;
            }
        }
    }

    let mut dict_out = Out::default();
    dict_out.u32(count32(dict.len())?);
    let mut at = 0u32;
    for (t, _) in &dict {
        dict_out.u32(at);
        at += count32(t.len())?;
    }
    dict_out.u32(at);
    for (t, _) in &dict {
        dict_out.bytes(t.as_bytes());
    }

    let mut rules = Out::default();
    let mut payload = Out::default();
    rules.u32(count32(exp.rules.len())?);
    for rule in &exp.rules {
        rules.u32(payload.len32()?);
        payload.u8(rule.len() as u8);
        for (c, meaning) in rule {
            payload.u8(u8::try_from(*c)
                .ok()
                .filter(u8::is_ascii_alphanumeric)
                .ok_or_else(|| format!("`{c}` is not a 7th character"))?);
            payload.plain(&tok(meaning))?;
        }
    }
    rules.bytes(&payload.0);

    let mut rule_keys = Out::default();
    let mut notes = Out::default();
    let mut note_keys = Out::default();
    let mut addons = Out::default();
    let mut addon_keys = Out::default();
    for (e, rule) in data.entries.iter().zip(&exp.defined) {
        if let Some(id) = rule {
            rule_keys.slot(e.code.as_bytes(), width);
            rule_keys.u32(*id);
        }
        if !e.excludes1.is_empty() {
            note_keys.slot(e.code.as_bytes(), width);
            note_keys.u32(notes.len32()?);
            notes.u8(u8::try_from(e.excludes1.len()).map_err(|_| {
                format!(
                    "`{}` has too many notes",
                    crate::diagnostic::shown(e.code.as_ref())
                )
            })?);
            for note in &e.excludes1 {
                notes.plain(&tok(&note.text))?;
                notes.u8(u8::try_from(note.refs.len()).map_err(|_| {
                    format!(
                        "`{}`: too many references",
                        crate::diagnostic::shown(e.code.as_ref())
                    )
                })?);
                for r in &note.refs {
                    match r {
                        CodeRef::Code(c) => {
                            notes.u8(0);
                            notes.short_bytes(c.as_bytes())?;
                        }
                        CodeRef::Prefix(p) => {
                            notes.u8(1);
                            notes.short_bytes(p.as_bytes())?;
                        }
                        CodeRef::Range { first, last } => {
                            notes.u8(2);
                            notes.short_bytes(first.as_bytes())?;
                            notes.short_bytes(last.as_bytes())?;
                        }
                    }
                }
            }
        }
        if e.addon || !e.primaries.is_empty() {
            addon_keys.slot(e.code.as_bytes(), width);
            addon_keys.u32(addons.len32()?);
            addons.u8(u8::from(e.addon));
            addons.u8(u8::try_from(e.primaries.len()).map_err(|_| {
                format!(
                    "`{}` has too many primary codes",
                    crate::diagnostic::shown(e.code.as_ref())
                )
            })?);
            for p in &e.primaries {
                addons.short_bytes(p.as_bytes())?;
            }
        }
    }

    let mut meta = Out::default();
    meta.str16(&data.release)?;
    meta.str16(&data.title)?;
    meta.u16(data.effective.year);
    meta.u8(data.effective.month);
    meta.u8(data.effective.day);
    meta.u32(count32(data.entries.len())?);
    meta.u32(total);
    meta.u32(billable);
    // An optional last field: tables that cover every code (most) are written as before.
    if data.covers != "*" {
        meta.str16(&data.covers)?;
    }

    let sections = [
        meta, index, codes, texts, dict_out, rules, rule_keys, notes, note_keys, addons, addon_keys,
    ];
    let mut body = Out::default();
    let mut table = Out::default();
    for s in &sections {
        table.u32(count32(HEADER)? + body.len32()?);
        table.u32(s.len32()?);
        body.bytes(&s.0);
    }
    let mut out = Out::default();
    out.bytes(MAGIC);
    out.u16(VERSION);
    out.u8(system_byte(data.system));
    out.u8(if data.derive_seventh {
        DERIVE_SEVENTH
    } else {
        0
    });
    out.u8(width as u8);
    out.u8(BLOCK as u8);
    out.u16(0);
    out.bytes(&checksum(&table.0, &body.0).to_le_bytes());
    out.bytes(&table.0);
    out.bytes(&body.0);
    Ok(out.0)
}

/// FNV-1a over 8-byte words: cheap enough to run at every load (well under a millisecond for
/// the largest table) and enough to tell a damaged or truncated file.
fn checksum(table: &[u8], body: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |bytes: &[u8]| {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        for &b in words.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    mix(table);
    mix(body);
    h
}

// ------------------------------------------------------------------ reading

pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor { bytes, pos }
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.take(N)?;
        b.try_into().ok()
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(b)
    }
    pub(crate) fn varint(&mut self) -> Option<u32> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.u8()?;
            v |= u32::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn str16(&mut self) -> Option<String> {
        let len = self.u16()?;
        String::from_utf8(self.take(usize::from(len))?.to_vec()).ok()
    }
    fn short_str(&mut self) -> Option<String> {
        let len = self.u8()?;
        String::from_utf8(self.take(usize::from(len))?.to_vec()).ok()
    }
    /// Tokens written in full.
    pub(crate) fn plain(&mut self) -> Option<Vec<u32>> {
        let n = self.varint()?;
        // Each token takes at least a byte: a count beyond the bytes left is damage.
        if n as usize > self.bytes.len().saturating_sub(self.pos) {
            return None;
        }
        (0..n).map(|_| self.varint()).collect()
    }
    /// Tokens written against the previous text (see `Out::shared`).
    fn shared(&mut self, prev: &[u32]) -> Option<Vec<u32>> {
        let prefix = self.varint()? as usize;
        let suffix = self.varint()? as usize;
        let middle = self.plain()?;
        let head = prev.get(..prefix)?;
        let tail = prev.get(prev.len().checked_sub(suffix)?..)?;
        Some(head.iter().chain(&middle).chain(tail).copied().collect())
    }
}

/// The texts of one stored entry, as token numbers.
pub(crate) struct Texts {
    pub(crate) long: Vec<u32>,
    pub(crate) short: Option<Vec<u32>>,
    pub(crate) derived_shorts: Vec<Vec<u32>>,
}

/// One stored entry as the code stream has it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stored {
    pub(crate) ordinal: u32,
    pub(crate) code: CodeBuf,
    pub(crate) flags: u8,
}

/// A validated table file, read in place.
#[derive(Clone)]
pub(crate) struct View {
    bytes: Cow<'static, [u8]>,
    sections: [(usize, usize); SECTIONS],
    pub(crate) system: System,
    pub(crate) derive_seventh: bool,
    width: usize,
    block: usize,
    blocks: usize,
    dict_len: u32,
    pub(crate) release: String,
    pub(crate) title: String,
    pub(crate) covers: String,
    pub(crate) effective: Date,
    pub(crate) stored: u32,
    pub(crate) total: u32,
    pub(crate) billable: u32,
}

impl View {
    /// Checks the header, the section bounds and the checksum. Nothing else is decoded.
    pub(crate) fn parse(bytes: Cow<'static, [u8]>) -> Result<View, String> {
        let mut c = Cursor::new(&bytes, 0);
        if c.take(8) != Some(MAGIC.as_slice()) {
            return Err("not a medpol table file".into());
        }
        let version = c.u16().ok_or("the file is truncated")?;
        if version != VERSION {
            return Err(format!(
                "table format version {version}; this medpol reads version {VERSION}: import the table again"
            ));
        }
        let truncated = || "the file is truncated".to_string();
        let system = c.u8().and_then(byte_system).ok_or("unknown code system")?;
        let flags = c.u8().ok_or_else(truncated)?;
        let width = usize::from(c.u8().ok_or_else(truncated)?);
        let block = usize::from(c.u8().ok_or_else(truncated)?);
        c.u16().ok_or_else(truncated)?;
        let sum = u64::from_le_bytes(c.array().ok_or_else(truncated)?);
        if width == 0 || width > MAX_CODE || block == 0 {
            return Err("damaged header".into());
        }
        let mut sections = [(0, 0); SECTIONS];
        for s in sections.iter_mut() {
            let start = c.u32().ok_or_else(truncated)? as usize;
            let len = c.u32().ok_or_else(truncated)? as usize;
            let end = start
                .checked_add(len)
                .filter(|&e| e <= bytes.len() && start >= HEADER);
            *s = (start, end.ok_or_else(truncated)?);
        }
        let table = bytes.get(24..HEADER).ok_or_else(truncated)?;
        let body = bytes.get(HEADER..).ok_or_else(truncated)?;
        if checksum(table, body) != sum {
            return Err("the file is damaged (checksum mismatch)".into());
        }
        let meta_range = sections.get(Sec::Meta as usize).copied().unwrap_or((0, 0));
        let mut m = Cursor::new(
            bytes
                .get(meta_range.0..meta_range.1)
                .ok_or_else(truncated)?,
            0,
        );
        let damaged = || "damaged metadata".to_string();
        let release = m.str16().ok_or_else(damaged)?;
        let title = m.str16().ok_or_else(damaged)?;
        let effective = Date {
            year: m.u16().ok_or_else(damaged)?,
            month: m.u8().ok_or_else(damaged)?,
            day: m.u8().ok_or_else(damaged)?,
        };
        let stored = m.u32().ok_or_else(damaged)?;
        let total = m.u32().ok_or_else(damaged)?;
        let billable = m.u32().ok_or_else(damaged)?;
        let covers = m.str16().unwrap_or_else(|| "*".to_string());
        let mut view = View {
            bytes,
            sections,
            system,
            derive_seventh: flags & DERIVE_SEVENTH != 0,
            width,
            block,
            blocks: 0,
            dict_len: 0,
            release,
            title,
            effective,
            stored,
            total,
            billable,
            covers,
        };
        view.blocks = view.sec(Sec::Index).len() / (width + 8);
        if view.blocks != (stored as usize).div_ceil(block) {
            return Err("damaged block index".into());
        }
        view.dict_len = Cursor::new(view.sec(Sec::Dict), 0)
            .u32()
            .ok_or_else(damaged)?;
        Ok(view)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn sec(&self, s: Sec) -> &[u8] {
        let (start, end) = self.sections.get(s as usize).copied().unwrap_or((0, 0));
        self.bytes.get(start..end).unwrap_or(&[])
    }

    fn slot(&self, bytes: &[u8]) -> Option<CodeBuf> {
        let code = bytes.get(..self.width)?;
        let len = code.iter().position(|&b| b == 0).unwrap_or(self.width);
        CodeBuf::new(code.get(..len)?)
    }

    /// The first code of a block and where its codes and texts start.
    fn block_at(&self, b: usize) -> Option<(CodeBuf, usize, usize)> {
        let size = self.width + 8;
        let rec = self.sec(Sec::Index).get(b * size..(b + 1) * size)?;
        let mut c = Cursor::new(rec, self.width);
        Some((self.slot(rec)?, c.u32()? as usize, c.u32()? as usize))
    }

    /// Stored entries from the start of the block that holds `code` (or would).
    pub(crate) fn seek(&self, code: &[u8]) -> StoredIter<'_> {
        // The last block whose first code is at most `code`.
        let (mut lo, mut hi) = (0, self.blocks);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.block_at(mid) {
                Some((first, _, _)) if first.as_bytes() <= code => lo = mid + 1,
                _ => hi = mid,
            }
        }
        self.block_entries(lo.saturating_sub(1))
    }

    pub(crate) fn block_entries(&self, b: usize) -> StoredIter<'_> {
        let start = self.block_at(b).map_or(usize::MAX, |(_, codes, _)| codes);
        StoredIter {
            view: self,
            cursor: Cursor::new(self.sec(Sec::Codes), start),
            ordinal: (b * self.block) as u32,
            prev: CodeBuf::EMPTY,
        }
    }

    /// The stored entry with this code.
    pub(crate) fn find(&self, code: &[u8]) -> Option<Stored> {
        self.seek(code)
            .take_while(|s| s.code.as_bytes() <= code)
            .find(|s| s.code.as_bytes() == code)
    }

    /// The texts of a stored entry: decodes its block up to it, since each text is written
    /// against the one before it.
    pub(crate) fn texts(&self, ordinal: u32) -> Option<Texts> {
        let b = ordinal as usize / self.block;
        let (_, _, text_start) = self.block_at(b)?;
        let mut t = Cursor::new(self.sec(Sec::Texts), text_start);
        let (mut long, mut short, mut derived): (Vec<u32>, Vec<u32>, Vec<u32>) = Default::default();
        for s in self.block_entries(b).take(self.block) {
            long = t.shared(&long)?;
            let own_short = if s.flags & SHORT != 0 {
                short = t.shared(&short)?;
                Some(short.clone())
            } else if s.flags & SHORT_SAME != 0 {
                Some(long.clone())
            } else {
                None
            };
            let mut shorts = Vec::new();
            if s.flags & DERIVED_SHORTS != 0 {
                for _ in 0..t.varint()? {
                    derived = t.shared(&derived)?;
                    shorts.push(derived.clone());
                }
            }
            if s.ordinal == ordinal {
                return Some(Texts {
                    long,
                    short: own_short,
                    derived_shorts: shorts,
                });
            }
        }
        None
    }

    pub(crate) fn token(&self, id: u32) -> &[u8] {
        if id >= self.dict_len {
            return &[];
        }
        let dict = self.sec(Sec::Dict);
        let header = 4 + (self.dict_len as usize + 1) * 4;
        let mut c = Cursor::new(dict, 4 + id as usize * 4);
        match (c.u32(), c.u32()) {
            (Some(a), Some(b)) => dict
                .get(header + a as usize..header + b as usize)
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    pub(crate) fn text(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| self.token(id).iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The value stored for a code in a keyed section (sorted fixed-width codes, each with a
    /// `u32`).
    fn keyed(&self, sec: Sec, code: &[u8]) -> Option<u32> {
        let keys = self.sec(sec);
        let size = self.width + 4;
        let (mut lo, mut hi) = (0, keys.len() / size);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let rec = keys.get(mid * size..(mid + 1) * size)?;
            let key = self.slot(rec)?;
            match key.as_bytes().cmp(code) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Cursor::new(rec, self.width).u32(),
            }
        }
        None
    }

    /// The id of the 7th-character rule defined at a code.
    pub(crate) fn rule_defined_at(&self, code: &[u8]) -> Option<u32> {
        self.keyed(Sec::RuleKeys, code)
    }

    /// The `i`-th code that defines a rule, in code order, with its rule.
    pub(crate) fn rule_key(&self, i: usize) -> Option<(CodeBuf, u32)> {
        let size = self.width + 4;
        let rec = self.sec(Sec::RuleKeys).get(i * size..(i + 1) * size)?;
        Some((self.slot(rec)?, Cursor::new(rec, self.width).u32()?))
    }

    /// How many codes that define a rule come before `code`.
    pub(crate) fn rule_keys_before(&self, code: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.sec(Sec::RuleKeys).len() / (self.width + 4));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.rule_key(mid) {
                Some((key, _)) if key.as_bytes() < code => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }

    /// A rule's characters with their meanings.
    pub(crate) fn rule(&self, id: u32) -> Vec<(u8, Vec<u32>)> {
        let sec = self.sec(Sec::Rules);
        let mut head = Cursor::new(sec, 0);
        let Some(count) = head.u32() else {
            return Vec::new();
        };
        let payload = 4 + count as usize * 4;
        let Some(at) = Cursor::new(sec, 4 + id as usize * 4)
            .u32()
            .filter(|_| id < count)
        else {
            return Vec::new();
        };
        let mut c = Cursor::new(sec, payload + at as usize);
        let n = c.u8().unwrap_or(0);
        (0..n).map_while(|_| Some((c.u8()?, c.plain()?))).collect()
    }

    /// Whether the table has any Excludes1 note.
    pub(crate) fn has_notes(&self) -> bool {
        !self.sec(Sec::NoteKeys).is_empty()
    }

    /// The Excludes1 notes written at a code: text and references.
    pub(crate) fn notes(&self, code: &[u8]) -> Vec<(Vec<u32>, Vec<CodeRef>)> {
        let Some(at) = self.keyed(Sec::NoteKeys, code) else {
            return Vec::new();
        };
        let mut c = Cursor::new(self.sec(Sec::Notes), at as usize);
        let n = c.u8().unwrap_or(0);
        (0..n)
            .map_while(|_| {
                let text = c.plain()?;
                let refs = (0..c.u8()?)
                    .map(|_| {
                        Some(match c.u8()? {
                            0 => CodeRef::Code(c.short_str()?),
                            1 => CodeRef::Prefix(c.short_str()?),
                            _ => CodeRef::Range {
                                first: c.short_str()?,
                                last: c.short_str()?,
                            },
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some((text, refs))
            })
            .collect()
    }

    /// Whether a code is an add-on code, and its primary codes.
    pub(crate) fn addon(&self, code: &[u8]) -> (bool, Vec<String>) {
        let Some(at) = self.keyed(Sec::AddonKeys, code) else {
            return (false, Vec::new());
        };
        let mut c = Cursor::new(self.sec(Sec::Addons), at as usize);
        let addon = c.u8() == Some(1);
        let n = c.u8().unwrap_or(0);
        (addon, (0..n).map_while(|_| c.short_str()).collect())
    }
}

/// Stored entries in code order, decoded from the code stream.
pub(crate) struct StoredIter<'a> {
    view: &'a View,
    cursor: Cursor<'a>,
    ordinal: u32,
    prev: CodeBuf,
}

impl Iterator for StoredIter<'_> {
    type Item = Stored;

    fn next(&mut self) -> Option<Stored> {
        if self.ordinal >= self.view.stored {
            return None;
        }
        if (self.ordinal as usize).is_multiple_of(self.view.block) {
            self.prev = CodeBuf::EMPTY;
        }
        let shared = usize::from(self.cursor.u8()?);
        let len = usize::from(self.cursor.u8()?);
        let rest = self.cursor.take(len)?;
        let mut code = self.prev;
        code.truncate(shared);
        for &b in rest {
            code.push(b)?;
        }
        let flags = self.cursor.u8()?;
        let s = Stored {
            ordinal: self.ordinal,
            code,
            flags,
        };
        self.prev = code;
        self.ordinal += 1;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_concatenate_back() {
        for text in [
            "Collapsed vertebra, not elsewhere classified",
            "  two  spaces ",
            "Brown-Séquard syndrome (C1)",
            "",
            "x",
        ] {
            assert_eq!(tokens(text).concat(), text);
        }
        assert_eq!(
            tokens("Collapsed vertebra, NEC"),
            ["Collapsed", " vertebra", ",", " NEC"]
        );
    }

    #[test]
    fn varints_round_trip() {
        let mut out = Out::default();
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            out.varint(v);
        }
        let mut c = Cursor::new(&out.0, 0);
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            assert_eq!(c.varint(), Some(v));
        }
        assert_eq!(c.varint(), None);
    }

    #[test]
    fn shared_texts_round_trip() {
        let mut out = Out::default();
        let prev = [1, 2, 3, 4, 5];
        for ids in [vec![1, 2, 9, 4, 5], vec![], vec![1, 2, 3, 4, 5, 6], vec![7]] {
            out.shared(&ids, &prev).unwrap();
        }
        let mut c = Cursor::new(&out.0, 0);
        assert_eq!(c.shared(&prev).unwrap(), [1, 2, 9, 4, 5]);
        assert_eq!(c.shared(&prev).unwrap(), Vec::<u32>::new());
        assert_eq!(c.shared(&prev).unwrap(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(c.shared(&prev).unwrap(), [7]);
    }
}
