//! What the tests that generate programs share: a seeded generator, and the example patients
//! the analysis prints read back.
// Each test uses part of it.
#![allow(dead_code)]

/// SplitMix64: a small, fixed generator, so a seed always gives the same program.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// The `name = value` pairs of an example patient as the analysis prints it (`a = 1, b = {x,
/// y}`, `c = [{ x = 1, y = a }]`): split at the commas outside braces and brackets.
pub fn witness_pairs(example: &str) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in example.char_indices() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&example[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&example[start..]);
    parts
        .iter()
        .map(|p| {
            let (name, value) = p.split_once(" = ").expect("a `name = value` pair");
            (name.trim().to_string(), value.trim().to_string())
        })
        .collect()
}
