// Copyright 2026 the weight-decay authors. MIT license.
// Shows a received value in an error message: short, unambiguous and never throwing.

/** The most characters of a received value (or a foreign message) quoted in a message. */
const MAX_LENGTH = 200;

/**
 * Describes a value for an error message: strings quoted, `-0`, `NaN` and `Infinity`
 * spelled out, classes and functions by name, arrays by their entries, objects by
 * their class.
 */
export function _describe(value: unknown, depth = 0): string {
  switch (typeof value) {
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "string":
      return _clip(JSON.stringify(value));
    case "bigint":
      return `${value}n`;
    case "symbol":
      return value.toString();
    case "undefined":
      return "undefined";
    case "boolean":
      return String(value);
    case "function":
      return _describeFunction(value as (...args: never[]) => unknown);
  }
  if (value === null) return "null";
  if (value instanceof RegExp) return _clip(String(value));
  if (Array.isArray(value)) {
    if (depth > 1) return `an array of ${value.length}`;
    return _clip(
      `[${value.map((entry) => _describe(entry, depth + 1)).join(", ")}]`,
    );
  }
  const name = _constructorName(value as object);
  if (name === undefined || name === "Object") return "an object";
  return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
}

function _describeFunction(fn: (...args: never[]) => unknown): string {
  const source = Function.prototype.toString.call(fn);
  const kind = source.startsWith("class") ? "class" : "function";
  return fn.name === "" ? `an anonymous ${kind}` : `${kind} ${fn.name}`;
}

function _constructorName(value: object): string | undefined {
  try {
    const prototype = Object.getPrototypeOf(value);
    const name = prototype?.constructor?.name;
    return typeof name === "string" && name !== "" ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The text, or its first {@linkcode MAX_LENGTH} characters marked as cut with the full
 * length, so a message never grows with the input.
 */
export function _clip(text: string): string {
  return text.length <= MAX_LENGTH
    ? text
    : `${text.slice(0, MAX_LENGTH)}… (cut, ${text.length} characters)`;
}

/** Another component's error message, bounded as received values are. */
export function _causeMessage(cause: unknown): string {
  if (cause instanceof Error) return _clip(String(cause.message));
  return _describe(cause);
}
