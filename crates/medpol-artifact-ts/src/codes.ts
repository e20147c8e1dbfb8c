// Code systems and the format of their codes. Codes are kept in one normal form: upper case,
// with the dot where the system prints one (ICD-10-CM only).

export type System = "icd10cm" | "icd10pcs" | "cpt" | "hcpcs";

const SYSTEMS: readonly System[] = ["icd10cm", "icd10pcs", "cpt", "hcpcs"];

const DISPLAY: Record<System, string> = {
  icd10cm: "ICD-10-CM",
  icd10pcs: "ICD-10-PCS",
  cpt: "CPT",
  hcpcs: "HCPCS",
};

export function parseSystem(name: string): System | null {
  return (SYSTEMS as readonly string[]).includes(name) ? (name as System) : null;
}

export function displaySystem(s: System): string {
  return DISPLAY[s];
}

/** A written code read: a whole code, a prefix pattern, or why it is malformed. */
export type CodeForm = { exact: string } | { prefix: string } | { error: string };

function isAlnum(c: string): boolean {
  return /^[0-9A-Za-z]$/.test(c);
}

/** Reads a code or pattern of `system` (`m80.08xa` is `M80.08XA`; `M80.08X-` a pattern). */
export function parseCode(system: System, written: string): CodeForm {
  const upper = written.replace(/[a-z]/g, (c) => c.toUpperCase());
  let body: string;
  let pattern: boolean;
  if (upper.endsWith("*")) {
    body = upper.slice(0, -1);
    pattern = true;
  } else if (upper.endsWith("-")) {
    body = upper.replace(/-+$/, "");
    pattern = true;
  } else {
    body = upper;
    pattern = false;
  }
  if (system === "icd10cm" && !/^[A-Za-z]/.test(body)) {
    return { error: "ICD-10-CM codes start with a letter" };
  }
  for (const c of body) {
    if (!isAlnum(c) && c !== ".") {
      if (c === "-") return { error: "`-` can only end a pattern" };
      if (c === "*") return { error: "`*` can only end a pattern" };
      return { error: "a character that is not a letter or digit" };
    }
  }
  let result: string | { error: string };
  if (system === "icd10cm") result = icd10cm(body, pattern);
  else if (system === "icd10pcs") result = fixed(system, body, pattern, 7, pcsChar);
  else if (system === "cpt") result = cpt(body, pattern);
  else result = hcpcs(body, pattern);
  if (typeof result !== "string") return result;
  return pattern ? { prefix: result } : { exact: result };
}

function icd10cm(body: string, pattern: boolean): string | { error: string } {
  const dot = body.indexOf(".");
  if (body.split(".").length > 2) return { error: "a code has at most one `.`" };
  const plain = body.replace(".", "");
  if (plain.length === 0) return { error: "the code is empty" };
  if (dot >= 0 && dot !== 3) return { error: "the `.` must follow the third character" };
  if (dot < 0 && plain.length > 3 && plain.length <= 7) {
    return { error: "the `.` after the third character is missing" };
  }
  if (plain.length > 7) return { error: "ICD-10-CM codes have at most 7 characters" };
  if (!pattern && plain.length < 3) return { error: "ICD-10-CM codes have at least 3 characters" };
  if (!pattern && body.endsWith(".")) return { error: "a code does not end in `.`" };
  if (pattern && plain.length >= 7) return { error: "a pattern is shorter than a full code" };
  return body.replace(/\.+$/, "");
}

function pcsChar(c: string): string | null {
  if (c === "O") return "ICD-10-PCS codes never contain the letter `O`";
  if (c === "I") return "ICD-10-PCS codes never contain the letter `I`";
  return isAlnum(c) ? null : "ICD-10-PCS codes have only letters and digits";
}

function fixed(
  system: System,
  body: string,
  pattern: boolean,
  len: number,
  check: (c: string) => string | null,
): string | { error: string } {
  if (body.includes(".")) return { error: `${DISPLAY[system]} codes have no \`.\`` };
  for (const c of body) {
    const bad = check(c);
    if (bad !== null) return { error: bad };
  }
  const ok = pattern ? body.length < len : body.length === len;
  if (!ok) {
    return {
      error: pattern
        ? `a pattern of ${DISPLAY[system]} codes has fewer than ${len} characters`
        : `${DISPLAY[system]} codes have ${len} characters, not ${body.length}`,
    };
  }
  return body;
}

function cpt(body: string, pattern: boolean): string | { error: string } {
  const code = fixed("cpt", body, pattern, 5, (c) => (isAlnum(c) ? null : "CPT codes have only digits and a final letter"));
  if (typeof code !== "string") return code;
  const digitsOk = /^[0-9]*$/.test(code.slice(0, 4));
  const last = code.charAt(4);
  const lastOk = last === "" || /[0-9FTU]/.test(last);
  if (!digitsOk || !lastOk) {
    return { error: "CPT codes are four digits and a fifth digit or `F`, `T` or `U`" };
  }
  return code;
}

function hcpcs(body: string, pattern: boolean): string | { error: string } {
  const code = fixed("hcpcs", body, pattern, 5, (c) => (isAlnum(c) ? null : "HCPCS codes have only a letter and digits"));
  if (typeof code !== "string") return code;
  const first = code.charAt(0);
  if ((first !== "" && !(first >= "A" && first <= "V")) || !/^[0-9]*$/.test(code.slice(1))) {
    return { error: "HCPCS Level II codes are a letter `A` to `V` and four digits" };
  }
  return code;
}
