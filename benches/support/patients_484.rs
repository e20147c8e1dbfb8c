//! The 100,000 generated patients of policy 484 that `benches/eval.rs` and
//! `benches/bindings.rs` time: every fact of `coverage` known, from a fixed seed.

/// How many patients the generated set has.
pub const GENERATED: usize = 100_000;

/// Patients of policy 484 with every fact of `coverage` known, as JSON lines: random values
/// from a fixed seed, codes in and out of the policy's sets.
pub fn generated_patients() -> Vec<String> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        // xorshift64*: enough spread for picking values, the same list every run.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    };
    let pick = |n: u64, from: &[&'static str]| from[n as usize % from.len()];
    const PROCEDURES: [&str; 7] = [
        "22510", "22511", "22511", "22512", "0200T", "0201T", "99213",
    ];
    const FACILITY: [&str; 4] = ["0PU33JZ", "0QU13JZ", "0QS03ZZ", "0SG00A0"];
    const PRODUCTS: [&str; 6] = [
        "hmo",
        "pos",
        "ppo",
        "indemnity",
        "medicare_hmo",
        "medicare_ppo",
    ];
    const DIAGNOSES: [&str; 8] = [
        "M80.08XA", "M80.88XA", "C90.00", "C79.51", "S32.020A", "M48.56XA", "M84.58XA", "I10",
    ];
    let bool_of = |n: u64| if n == 0 { "false" } else { "true" };
    (0..GENERATED)
        .map(|_| {
            let procedures = (0..1 + next(2))
                .map(|_| format!("\"{}\"", pick(next(7), &PROCEDURES)))
                .collect::<Vec<_>>()
                .join(", ");
            let facility = (0..next(2))
                .map(|_| format!("\"{}\"", pick(next(4), &FACILITY)))
                .collect::<Vec<_>>()
                .join(", ");
            let diagnoses = (0..1 + next(2))
                .map(|_| format!("\"{}\"", pick(next(8), &DIAGNOSES)))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                r#"{{"procedures": [{procedures}], "facility_procedures": [{facility}], "product": "{}", "diagnoses": [{diagnoses}], "symptomatic": {}, "conservative_care": "{} weeks", "fracture_age": "{} weeks", "hospitalized": {}, "ambulation_prevented": {}, "pain_from_nonhealing_fracture": {}, "prophylactic": {}, "severe_pain": {}}}"#,
                pick(next(6), &PRODUCTS),
                bool_of(next(4)),
                next(13),
                next(13),
                bool_of(next(2)),
                bool_of(next(2)),
                bool_of(next(4)),
                bool_of(next(5)),
                bool_of(next(2)),
            )
        })
        .collect()
}
