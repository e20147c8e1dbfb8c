//! A fact's value of the typed model as JSON facts write it (`docs/artifact.md`): durations
//! and measurements with their unit, percentages with `%`, dates `YYYY-MM-DD`.

use medpol::ir::{Program, Value};
use medpol::types::{Date, Type, Unit};

/// The value of a fact of type `ty`, as a facts file writes it.
pub fn fact_json(program: &Program, ty: Type, v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::json!(b),
        Value::Num(n) => match ty {
            Type::Quantity(Unit::Percent) => serde_json::json!(format!("{n}%")),
            Type::Quantity(u) => serde_json::json!(format!("{n} {}", u.name())),
            Type::Date => serde_json::json!(Date::from_num(*n).unwrap().to_string()),
            _ => serde_json::json!(n.to_string()),
        },
        Value::Enum(i) => match ty {
            Type::Enum(e) => serde_json::json!(program.enum_value(e, *i)),
            _ => serde_json::Value::Null,
        },
        Value::Code(c) => serde_json::json!(c),
        Value::Codes(cs) => serde_json::json!(cs),
        Value::List(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|item| {
                    let mut fields = serde_json::Map::new();
                    for (f, v) in item {
                        let field = program.fact(*f).unwrap();
                        fields.insert(field.name.clone(), fact_json(program, field.ty, v));
                    }
                    serde_json::Value::Object(fields)
                })
                .collect(),
        ),
    }
}
