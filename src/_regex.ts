// Copyright 2026 the weight-decay authors. MIT license.
// String patterns come from config files, so they run on RE2 (re2js), whose matching
// time is linear in the name: no pattern can hang the process by backtracking.
// Python constructs that RE2 lacks are rejected with an RE2 spelling, or with the
// advice to pass a RegExp object when RE2 has none.

import { RE2JS, RE2JSSyntaxException } from "re2js";
import { PolicyError } from "./policy.ts";
import { _causeMessage, _describe } from "./_describe.ts";

/** A compiled string pattern. */
export interface _StringPattern {
  /** True if the pattern matches anywhere in the name, like Python's `re.search`. */
  search(name: string): boolean;
  /**
   * The groups the pattern captures when it matches at the start of the name, like
   * Python's `re.match(...).groups()` (undefined for a group that did not take part),
   * or null when it does not match there.
   */
  matchAtStart(name: string): (string | undefined)[] | null;
}

/**
 * Compiles a string pattern in RE2 syntax.
 *
 * @param at Where the pattern is, for messages: a rule index ("Rule 3 pattern ..."), or
 * the words that name it (`groupMatcher entry "blocks" pair 0 regex`).
 * @throws {PolicyError} If the source is no RE2 regular expression, or uses Python's
 * `{,n}`, which RE2 would read as text.
 */
export function _compileStringPattern(
  source: string,
  at: number | string,
): _StringPattern {
  if (source.length > MAX_SOURCE_LENGTH) {
    // RE2 compiles in time linear in the source, but at microseconds per character.
    throw new PolicyError(
      `${_subject(at)} ${
        _describe(source)
      } is longer than ${MAX_SOURCE_LENGTH} characters, the most a string pattern may have; a RegExp object has no limit`,
      {
        ...(typeof at === "number" ? { ruleIndex: at } : {}),
        received: source,
      },
    );
  }
  const compiled = _tryCompile(source);
  if (
    !(compiled instanceof RE2JS) || _withoutOpenRepeats(source) !== undefined
  ) {
    throw _rejection(source, at, compiled);
  }
  return Object.freeze({
    search: (name: string) => compiled.test(name),
    matchAtStart: (name: string) => {
      const matcher = compiled.matcher(name);
      if (!matcher.lookingAt()) return null;
      return Array.from(
        { length: matcher.groupCount() },
        (_, i) => matcher.group(i + 1) ?? undefined,
      );
    },
  });
}

/** The most characters of a string pattern: compiling one takes a few µs per character. */
export const MAX_SOURCE_LENGTH = 10_000;

/** How messages name the pattern: by rule index, or in the caller's words. */
function _subject(at: number | string): string {
  return typeof at === "number" ? `Rule ${at} pattern` : at;
}

function _tryCompile(source: string): RE2JS | unknown {
  try {
    return RE2JS.compile(source);
  } catch (cause) {
    return cause;
  }
}

/** A construct RE2 rejects: what it is, and its RE2 spelling or what to do instead. */
interface _Hint {
  what: string;
  fix?: (source: string) => string;
  advice?: string;
}

const USE_REGEXP =
  "RE2 lacks it, so that matching stays linear in time; pass a RegExp object, which runs as JavaScript";

/** Hints keyed by the fragment RE2 reports; the first that fits is taken. */
const HINTS: readonly { fragment: RegExp; hint: _Hint }[] = [
  {
    fragment: /^\\Z/,
    hint: {
      what: `Python's "\\Z" anchor`,
      fix: (s) => _rewrite(s, /\\Z/, () => "\\z"),
    },
  },
  {
    fragment: /^\(\?#/,
    hint: {
      what: 'a Python comment "(?#...)"',
      fix: (s) => _rewrite(s, /\(\?#[^)]*\)/, () => ""),
    },
  },
  {
    fragment: /^\(\?[imsU-]*[auL]/,
    hint: {
      what:
        'Python\'s "(?a)", "(?u)" or "(?L)" flag (RE2\'s classes are ASCII)',
      fix: (s) =>
        _rewrite(s, /\(\?([a-zA-Z-]*)([):])/, (flags = "", end = "") => {
          const kept = flags.replaceAll(/[auL]/g, "");
          return kept === "" && end === ")" ? "" : `(?${kept}${end}`;
        }),
    },
  },
  {
    fragment: /^\\[uU]/,
    hint: {
      what: 'a "\\u" escape',
      fix: (s) =>
        _rewrite(
          s,
          /\\u\{([0-9A-Fa-f]+)\}|\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})/,
          (...hex) => `\\x{${hex.find((digits) => digits !== undefined)}}`,
        ),
    },
  },
  {
    fragment: /^\(\?[imsU-]*x/,
    hint: {
      what: 'Python\'s verbose flag "(?x)"',
      advice:
        "RE2 lacks it; write the pattern without it, its whitespace and its comments",
    },
  },
  {
    fragment: /^\(\?[=!]/,
    hint: { what: 'a lookahead "(?=...)" or "(?!...)"', advice: USE_REGEXP },
  },
  {
    fragment: /^\(\?<[=!]/,
    hint: {
      what: 'a lookbehind "(?<=...)" or "(?<!...)"',
      advice: USE_REGEXP,
    },
  },
  {
    fragment: /^\\[1-9k]|^\(\?P$/,
    hint: {
      what: 'a backreference such as "\\1" or "(?P=name)"',
      advice: USE_REGEXP,
    },
  },
];

function _rejection(
  source: string,
  at: number | string,
  compiled: unknown,
): PolicyError {
  const fail = (detail: string) =>
    new PolicyError(`${_subject(at)} ${_describe(source)} ${detail}`, {
      ...(typeof at === "number" ? { ruleIndex: at } : {}),
      received: source,
      ...(compiled instanceof RE2JS ? {} : { cause: compiled }),
    });
  const found: string[] = [];
  let fixed = source;
  let result = compiled;
  const open = _withoutOpenRepeats(source);
  if (open !== undefined) {
    found.push('Python\'s "{,n}" repeat');
    fixed = open;
    result = _tryCompile(fixed);
  }
  const used = new Set<_Hint>();
  while (!(result instanceof RE2JS)) {
    const hint = _hintFor(result);
    if (hint === undefined || used.has(hint)) {
      return fail(_invalid(compiled instanceof RE2JS ? result : compiled));
    }
    if (hint.advice !== undefined) {
      return fail(`uses ${hint.what}; ${hint.advice}`);
    }
    used.add(hint);
    found.push(hint.what);
    fixed = hint.fix!(fixed);
    result = _tryCompile(fixed);
  }
  return fail(
    `uses ${found.join(" and ")}, which RE2 lacks; write ${_describe(fixed)}`,
  );
}

function _hintFor(error: unknown): _Hint | undefined {
  if (!(error instanceof RE2JSSyntaxException)) return undefined;
  const fragment = error.getPattern() ?? "";
  return HINTS.find((entry) => entry.fragment.test(fragment))?.hint;
}

function _invalid(cause: unknown): string {
  const fragment = cause instanceof RE2JSSyntaxException
    ? cause.getPattern()
    : null;
  const detail = !(cause instanceof RE2JSSyntaxException)
    ? _causeMessage(cause)
    : fragment === null
    ? cause.getDescription()
    : `${cause.getDescription()}: ${_describe(fragment)}`;
  return `is not a valid regular expression (RE2 syntax): ${detail}`;
}

/** Respells each `construct` in the source; escaped characters are skipped whole. */
function _rewrite(
  source: string,
  construct: RegExp,
  spell: (...groups: (string | undefined)[]) => string,
): string {
  return source.replaceAll(
    new RegExp(`(${construct.source})|\\\\.`, "gs"),
    (whole: string, found: string | undefined, ...rest: unknown[]) =>
      found === undefined
        ? whole
        : spell(...(rest.slice(0, -2) as (string | undefined)[])),
  );
}

const OPEN_REPEAT = /\{,\d*\}/y;

/**
 * The source with Python's `{,n}` (and `{,}`) repeats spelled `{0,n}`, or undefined if it
 * has none outside escapes, `\Q...\E` and character classes.
 */
function _withoutOpenRepeats(source: string): string | undefined {
  const pieces: string[] = [];
  let copied = 0;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === "\\") {
      if (source[i + 1] === "Q") {
        const end = source.indexOf("\\E", i + 2);
        i = end === -1 ? source.length : end + 1;
      } else i++;
    } else if (char === "[") {
      i = _classEnd(source, i);
    } else if (char === "{") {
      OPEN_REPEAT.lastIndex = i;
      if (OPEN_REPEAT.test(source)) {
        pieces.push(source.slice(copied, i + 1), "0");
        copied = i + 1;
      }
    }
  }
  if (pieces.length === 0) return undefined;
  pieces.push(source.slice(copied));
  return pieces.join("");
}

/** The index of the `]` closing the class that opens at `start` (or the end). */
function _classEnd(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === "^") i++;
  if (source[i] === "]") i++;
  for (; i < source.length; i++) {
    if (source[i] === "\\") i++;
    else if (source.startsWith("[:", i)) {
      const end = source.indexOf(":]", i + 2);
      if (end !== -1) i = end + 1;
    } else if (source[i] === "]") return i;
  }
  return source.length;
}
