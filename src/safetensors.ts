// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The safetensors format of PyTorch and Hugging Face, read and written by hand: an
 * 8-byte little-endian header length N, N bytes of JSON header (padded with spaces),
 * then the tensors' bytes, contiguous, in the order of their data offsets.
 *
 * The reader validates the whole header when a file is opened (what the Rust
 * `safetensors` crate checks, and duplicate keys and stray fields too) and reads data
 * on demand. The writer writes to a temporary file beside the target and renames it
 * into place, so a failed or interrupted save never leaves a partial file.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { _describe } from "./_describe.ts";

// ---------------------------------------------------------------------------------
// Dtypes
// ---------------------------------------------------------------------------------

/**
 * Every dtype of the safetensors format (the Rust crate, version 0.8), smallest first
 * as in the crate. `F4` packs two values per byte and the `F6` types four values in
 * three bytes, so their tensors must fill whole bytes.
 *
 * @example Checking a dtype read from elsewhere
 * ```ts
 * import { SAFETENSORS_DTYPES } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * assert.ok(SAFETENSORS_DTYPES.includes("BF16"));
 * assert.ok(!(SAFETENSORS_DTYPES as readonly string[]).includes("float32"));
 * ```
 */
export const SAFETENSORS_DTYPES = [
  "BOOL",
  "F4",
  "F6_E2M3",
  "F6_E3M2",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "F8_E8M0",
  "F8_E4M3FNUZ",
  "F8_E5M2FNUZ",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "C64",
  "F64",
  "I64",
  "U64",
] as const;

/** A safetensors dtype name, e.g. `"F32"`. */
export type SafetensorsDtype = typeof SAFETENSORS_DTYPES[number];

/** Bits per element. */
const DTYPE_BITS: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

const DTYPE_LIST = SAFETENSORS_DTYPES.join(", ");

/** The dtypes that `read` converts to f32, with their bytes per element. */
const READABLE: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };

function _isDtype(dtype: unknown): dtype is SafetensorsDtype {
  return typeof dtype === "string" && Object.hasOwn(DTYPE_BITS, dtype);
}

/** The number of elements of a shape, or `undefined` past `Number.MAX_SAFE_INTEGER`. */
function _elementCount(shape: readonly number[]): number | undefined {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const size of shape) {
    count *= size;
    if (count > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return count;
}

/** Why a tensor of this dtype and shape has no byte size, or its size in bytes. */
function _byteSize(
  dtype: SafetensorsDtype,
  shape: readonly number[],
): number | string {
  const count = _elementCount(shape);
  if (count === undefined) return "more than 2 ** 53 - 1 elements";
  const bits = DTYPE_BITS[dtype];
  // Sub-byte dtypes pack `perUnit` elements into `unitBytes` whole bytes.
  const common = _gcd(bits, 8);
  const perUnit = 8 / common;
  if (count % perUnit !== 0) {
    return `${count} elements of ${bits} bits, which do not fill whole bytes`;
  }
  const bytes = (count / perUnit) * (bits / common);
  return bytes > Number.MAX_SAFE_INTEGER
    ? "more than 2 ** 53 - 1 bytes"
    : bytes;
}

function _bytes(count: number): string {
  return count === 1 ? "1 byte" : `${count} bytes`;
}

function _gcd(a: number, b: number): number {
  return b === 0 ? a : _gcd(b, a % b);
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/** Where a {@linkcode SafetensorsError} arose. */
export interface SafetensorsErrorOptions {
  /** The file at fault. */
  path: string;
  /** The tensor at fault, when there is one. */
  tensor?: string;
  /** The underlying error, when there is one. */
  cause?: unknown;
}

/**
 * Everything wrong with a safetensors file: a malformed header, data that does not
 * match it, a tensor it lacks, a dtype that cannot be read as f32, a file that shrank
 * while open. Failing to open the file at all is Deno's own error (`Deno.errors.NotFound`
 * and the like).
 *
 * @example Telling a bad file apart from a missing one
 * ```ts
 * import { readSafetensors, SafetensorsError } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/broken.safetensors`;
 * await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
 * await assert.rejects(readSafetensors(path), (error) => {
 *   assert.ok(error instanceof SafetensorsError);
 *   assert.equal(error.path, path);
 *   assert.equal(error.tensor, undefined);
 *   return true;
 * });
 * await assert.rejects(readSafetensors(`${dir}/missing`), Deno.errors.NotFound);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SafetensorsError extends Error {
  /** The file at fault. */
  readonly path: string;
  /** The tensor at fault, when there is one. */
  readonly tensor?: string;

  /**
   * Makes a safetensors error.
   *
   * @param message What was expected and what was found, naming the file.
   * @param options The file, the tensor and the cause.
   */
  constructor(message: string, options: SafetensorsErrorOptions) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "SafetensorsError";
    this.path = options.path;
    if (options.tensor !== undefined) this.tensor = options.tensor;
  }
}

/** The error for a file whose content breaks the format. */
function _invalid(
  path: string,
  detail: string,
  tensor?: string,
): SafetensorsError {
  return new SafetensorsError(
    `Invalid safetensors file ${JSON.stringify(path)}: ${detail}`,
    { path, tensor },
  );
}

// ---------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------

/** The largest header the format allows (the Rust crate's `MAX_HEADER_SIZE`). */
const MAX_HEADER_BYTES = 100_000_000;

/** What is known of a tensor from the header of its file. */
export interface SafetensorsTensorInfo {
  /** Its name, e.g. `"layers.0.weight"`. */
  readonly name: string;
  /** Its dtype, e.g. `"F32"`. */
  readonly dtype: SafetensorsDtype;
  /** Its shape, outermost dimension first (C order); `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Where its data starts, in bytes from the start of the file. */
  readonly byteOffset: number;
  /** The size of its data in bytes. */
  readonly byteLength: number;
}

/** A validated header. */
export interface _Header {
  /** The `__metadata__` map, empty when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor, in data-offset order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
}

/**
 * Parses and validates a header. Pure, so it can be fuzzed without touching disk.
 *
 * @param header The N bytes after the length prefix.
 * @param fileSize The size of the whole file in bytes.
 * @param path The file, for messages.
 * @returns The metadata and the tensors.
 * @throws {SafetensorsError} If anything in the header is wrong, or the file size does
 * not match the data the header indexes.
 */
export function _parseHeader(
  header: Uint8Array,
  fileSize: number,
  path: string,
): _Header {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      header,
    );
  } catch {
    throw _invalid(
      path,
      "expected the header to be UTF-8 text but found bytes that are not valid UTF-8",
    );
  }
  const { metadata, entries } = new _HeaderParser(text, path).parse();
  const tensors = _layOut(entries, path);
  const dataEnd = tensors.length === 0 ? 0 : tensors.at(-1)!.end;
  const expected = 8 + header.length + dataEnd;
  if (fileSize !== expected) {
    const lastName = tensors.at(-1)?.name;
    const last = lastName === undefined
      ? "no tensor"
      : `tensor ${_describe(lastName)}`;
    throw _invalid(
      path,
      fileSize > expected
        ? `expected the file to end at byte ${expected}, where the data of ${last} ends, but found ${fileSize} bytes: ${
          _bytes(fileSize - expected)
        } that no tensor covers`
        : `expected ${expected} bytes, to hold the data of ${last}, but found ${fileSize}: ${
          _bytes(expected - fileSize)
        } missing (a truncated file?)`,
    );
  }
  const base = 8 + header.length;
  const map = new Map<string, SafetensorsTensorInfo>();
  for (const { name, dtype, shape, begin, end } of tensors) {
    map.set(
      name,
      Object.freeze({
        name,
        dtype,
        shape: Object.freeze(shape),
        byteOffset: base + begin,
        byteLength: end - begin,
      }),
    );
  }
  return { metadata: Object.freeze(metadata), tensors: map };
}

/** A tensor entry as the header states it. */
interface _Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A tensor entry whose dtype, size and place are checked. */
interface _PlacedEntry extends _Entry {
  dtype: SafetensorsDtype;
}

/**
 * Checks each entry's dtype and byte size, then that the entries, sorted by offset,
 * tile the data from byte 0 with no gap and no overlap (what the crate checks).
 */
function _layOut(entries: _Entry[], path: string): _PlacedEntry[] {
  for (const entry of entries) _checkEntry(entry, path);
  // A stable sort: zero-length tensors at one offset keep their header order.
  const sorted = (entries as _PlacedEntry[]).toSorted((a, b) =>
    a.begin - b.begin || a.end - b.end
  );
  let start = 0;
  let previous: string | undefined;
  for (const { name, begin, end } of sorted) {
    if (begin !== start) {
      const where = previous === undefined
        ? "where the data starts"
        : `where tensor ${_describe(previous)} ends`;
      const problem = begin < start
        ? `it overlaps tensor ${_describe(previous)}`
        : `a gap of ${_bytes(begin - start)}`;
      throw _invalid(
        path,
        `expected tensor ${
          _describe(name)
        } to start at data byte ${start}, ${where}, but found ${begin}: ${problem}`,
        name,
      );
    }
    start = end;
    previous = name;
  }
  return sorted;
}

function _checkEntry(entry: _Entry, path: string): void {
  const { name, dtype, shape, begin, end } = entry;
  const tensor = `tensor ${_describe(name)}`;
  if (!_isDtype(dtype)) {
    throw _invalid(
      path,
      `expected ${tensor} to have a safetensors dtype (${DTYPE_LIST}) but found ${
        _describe(dtype)
      }`,
      name,
    );
  }
  if (end < begin) {
    throw _invalid(
      path,
      `expected the data offsets [begin, end] of ${tensor} to have end >= begin but found [${begin}, ${end}]`,
      name,
    );
  }
  const size = _byteSize(dtype, shape);
  const stated = `${tensor} (${dtype}, shape ${_describe(shape)})`;
  if (typeof size === "string") {
    throw _invalid(
      path,
      `expected ${stated} to have a size in whole bytes but found ${size}`,
      name,
    );
  }
  if (end - begin !== size) {
    throw _invalid(
      path,
      `expected ${stated} to take ${size} bytes but found data offsets [${begin}, ${end}], ${
        end - begin
      } bytes`,
      name,
    );
  }
}

/** A JSON number literal (RFC 8259). */
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const NON_NEGATIVE_INTEGER = /^(?:0|[1-9][0-9]*)$/;
const ENTRY_FIELDS = "dtype, shape and data_offsets";

/**
 * A parser for exactly the header's grammar: one object whose values are tensor
 * entries or the `__metadata__` map of strings. It reads JSON by hand, not with
 * `JSON.parse`, to reject duplicate keys (which `JSON.parse` silently resolves) and to
 * stop at the first value of the wrong kind, so no input nests it deeply or builds a
 * large value the format has no place for.
 */
class _HeaderParser {
  readonly #text: string;
  readonly #path: string;
  #pos = 0;

  constructor(text: string, path: string) {
    this.#text = text;
    this.#path = path;
  }

  parse(): { metadata: Record<string, string>; entries: _Entry[] } {
    if (this.#text[0] !== "{") {
      throw this.#fail(
        `expected the header to be a JSON object, starting with "{", but found ${this.#describeValue()}`,
      );
    }
    const metadata: Record<string, string> = {};
    const entries: _Entry[] = [];
    const seen = new Set<string>();
    this.#object((key) => {
      if (seen.has(key)) {
        throw this.#fail(
          `expected each key of the header once but found ${
            _describe(key)
          } twice`,
          key === "__metadata__" ? undefined : key,
        );
      }
      seen.add(key);
      if (key === "__metadata__") this.#metadata(metadata);
      else entries.push(this.#entry(key));
    });
    this.#skipSpace();
    if (this.#pos !== this.#text.length) {
      throw this.#fail(
        `expected only spaces after the header object but found ${this.#describeValue()} at character ${this.#pos}`,
      );
    }
    return { metadata, entries };
  }

  #metadata(into: Record<string, string>): void {
    if (this.#text[this.#pos] !== "{") {
      throw this.#fail(
        `expected __metadata__ to be an object of strings but found ${this.#describeValue()}`,
      );
    }
    this.#object((key) => {
      if (Object.hasOwn(into, key)) {
        throw this.#fail(
          `expected each __metadata__ key once but found ${
            _describe(key)
          } twice`,
        );
      }
      if (this.#text[this.#pos] !== '"') {
        throw this.#fail(
          `expected __metadata__ value ${
            _describe(key)
          } to be a string but found ${this.#describeValue()}`,
        );
      }
      // Defined, not assigned, so a "__proto__" key is kept as a key.
      Object.defineProperty(into, key, {
        value: this.#string(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    });
  }

  #entry(name: string): _Entry {
    const tensor = `tensor ${_describe(name)}`;
    if (this.#text[this.#pos] !== "{") {
      throw this.#fail(
        `expected ${tensor} to be an object of ${ENTRY_FIELDS} but found ${this.#describeValue()}`,
        name,
      );
    }
    let dtype: string | undefined;
    let shape: number[] | undefined;
    let offsets: number[] | undefined;
    this.#object((key) => {
      const seen = key === "dtype"
        ? dtype
        : key === "shape"
        ? shape
        : key === "data_offsets"
        ? offsets
        : undefined;
      if (seen !== undefined) {
        throw this.#fail(
          `expected one ${key} field in ${tensor} but found two`,
          name,
        );
      }
      switch (key) {
        case "dtype":
          if (this.#text[this.#pos] !== '"') {
            throw this.#fail(
              `expected the dtype of ${tensor} to be a string but found ${this.#describeValue()}`,
              name,
            );
          }
          dtype = this.#string();
          break;
        case "shape":
          shape = this.#integers(`the shape of ${tensor}`, name);
          break;
        case "data_offsets":
          offsets = this.#integers(`the data offsets of ${tensor}`, name);
          if (offsets.length !== 2) {
            throw this.#fail(
              `expected the data offsets of ${tensor} to be a pair [begin, end] but found ${
                _describe(offsets)
              }`,
              name,
            );
          }
          break;
        default:
          throw this.#fail(
            `expected ${tensor} to have only the fields ${ENTRY_FIELDS} but found ${
              _describe(key)
            }`,
            name,
          );
      }
    });
    const missing = dtype === undefined
      ? "dtype"
      : shape === undefined
      ? "shape"
      : offsets === undefined
      ? "data_offsets"
      : undefined;
    if (missing !== undefined) {
      throw this.#fail(
        `expected ${tensor} to have the fields ${ENTRY_FIELDS} but found no ${missing}`,
        name,
      );
    }
    return {
      name,
      dtype: dtype!,
      shape: shape!,
      begin: offsets![0]!,
      end: offsets![1]!,
    };
  }

  /** An array of non-negative safe integers. */
  #integers(what: string, name: string): number[] {
    const expected =
      `expected ${what} to be an array of non-negative integers but found`;
    if (this.#text[this.#pos] !== "[") {
      throw this.#fail(`${expected} ${this.#describeValue()}`, name);
    }
    this.#pos++;
    const values: number[] = [];
    this.#skipSpace();
    if (this.#text[this.#pos] === "]") {
      this.#pos++;
      return values;
    }
    for (;;) {
      this.#skipSpace();
      const literal = this.#numberLiteral();
      if (literal === undefined || !NON_NEGATIVE_INTEGER.test(literal)) {
        throw this.#fail(
          `${expected} an element ${this.#describeValue()}`,
          name,
        );
      }
      const value = Number(literal);
      if (!Number.isSafeInteger(value)) {
        throw this.#fail(
          `expected ${what} to hold integers of at most 2 ** 53 - 1 but found ${
            _describe(literal)
          }`,
          name,
        );
      }
      this.#pos += literal.length;
      values.push(value);
      this.#skipSpace();
      const next = this.#text[this.#pos];
      this.#pos++;
      if (next === "]") return values;
      if (next !== ",") {
        this.#pos--;
        throw this.#syntax('"," or "]"');
      }
    }
  }

  /** Walks an object's members, calling `member` with the position at its value. */
  #object(member: (key: string) => void): void {
    this.#pos++; // "{"
    this.#skipSpace();
    if (this.#text[this.#pos] === "}") {
      this.#pos++;
      return;
    }
    for (;;) {
      this.#skipSpace();
      if (this.#text[this.#pos] !== '"') throw this.#syntax("a string key");
      const key = this.#string();
      this.#skipSpace();
      if (this.#text[this.#pos] !== ":") throw this.#syntax('":"');
      this.#pos++;
      this.#skipSpace();
      member(key);
      this.#skipSpace();
      const next = this.#text[this.#pos];
      this.#pos++;
      if (next === "}") return;
      if (next !== ",") {
        this.#pos--;
        throw this.#syntax('"," or "}"');
      }
    }
  }

  /** A JSON string at the current position, which holds `"`. */
  #string(): string {
    const text = this.#text;
    let pos = this.#pos + 1;
    let result = "";
    let runStart = pos;
    for (;;) {
      const code = text.charCodeAt(pos);
      if (Number.isNaN(code)) {
        this.#pos = pos;
        throw this.#syntax('the closing " of a string');
      }
      if (code === 0x22) break; // "
      if (code < 0x20) {
        this.#pos = pos;
        throw this.#syntax("an escaped control character");
      }
      if (code !== 0x5c) { // not a backslash
        pos++;
        continue;
      }
      result += text.slice(runStart, pos);
      const [decoded, length] = this.#escape(pos);
      result += decoded;
      pos += length;
      runStart = pos;
    }
    result += text.slice(runStart, pos);
    this.#pos = pos + 1;
    return result;
  }

  /** The escape sequence at `pos` (a backslash): what it stands for and its length. */
  #escape(pos: number): [string, number] {
    const simple: Record<string, string> = {
      '"': '"',
      "\\": "\\",
      "/": "/",
      b: "\b",
      f: "\f",
      n: "\n",
      r: "\r",
      t: "\t",
    };
    const letter = this.#text[pos + 1] ?? "";
    if (Object.hasOwn(simple, letter)) return [simple[letter]!, 2];
    const unit = this.#hex(pos);
    if (unit < 0xd800 || unit > 0xdfff) return [String.fromCharCode(unit), 6];
    // Surrogates must pair up, as in UTF-8 text: a lone one names no character.
    const low = this.#text[pos + 6] === "\\" && this.#text[pos + 7] === "u"
      ? this.#hex(pos + 6)
      : -1;
    if (unit > 0xdbff || low < 0xdc00 || low > 0xdfff) {
      this.#pos = pos;
      throw this.#syntax("a surrogate pair, not a lone surrogate");
    }
    return [String.fromCharCode(unit, low), 12];
  }

  /** The code unit of the `\uXXXX` escape at `pos`. */
  #hex(pos: number): number {
    const digits = this.#text.slice(pos + 2, pos + 6);
    if (this.#text[pos + 1] !== "u" || !/^[0-9a-fA-F]{4}$/.test(digits)) {
      this.#pos = pos;
      throw this.#syntax("a JSON escape sequence");
    }
    return parseInt(digits, 16);
  }

  /** The number literal at the current position, or `undefined` if there is none. */
  #numberLiteral(): string | undefined {
    const match = /^[-+.eE0-9]+/.exec(
      this.#text.slice(this.#pos, this.#pos + 400),
    );
    if (match === null) return undefined;
    if (!NUMBER.test(match[0])) throw this.#syntax("a JSON number");
    return match[0];
  }

  #skipSpace(): void {
    const text = this.#text;
    let pos = this.#pos;
    for (;;) {
      const code = text.charCodeAt(pos);
      // JSON whitespace, as the crate's parser accepts; the writer pads with spaces.
      if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) {
        break;
      }
      pos++;
    }
    this.#pos = pos;
  }

  /** Describes the value at the current position without parsing it whole. */
  #describeValue(): string {
    const text = this.#text;
    const char = text[this.#pos];
    if (char === undefined) return "the end of the header";
    if (char === "{") return "an object";
    if (char === "[") return "an array";
    if (char === '"') {
      const start = this.#pos;
      try {
        return _describe(this.#string());
      } catch {
        return "an unterminated string";
      } finally {
        this.#pos = start;
      }
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, this.#pos)) return word;
    }
    const number = /^[-+.eE0-9]+/.exec(text.slice(this.#pos, this.#pos + 400));
    if (number !== null) return number[0];
    return `the character ${_describe(char)}`;
  }

  #syntax(expected: string): SafetensorsError {
    return this.#fail(
      `expected the header to be JSON but found ${this.#describeValue()} at character ${this.#pos}, where ${expected} should be`,
    );
  }

  #fail(detail: string, tensor?: string): SafetensorsError {
    return _invalid(this.#path, detail, tensor);
  }
}

// ---------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------

/** The most bytes asked of one read or write call (measured: larger calls gain nothing). */
const IO_CHUNK_BYTES = 16 << 20;

/** The scratch buffer of an F16 or BF16 read: bounded, whatever the tensor's size. */
const SCRATCH_BYTES = 1 << 20;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * An open safetensors file: the validated header, with data read on demand.
 *
 * The file stays open until {@linkcode SafetensorsFile.close}, so a checkpoint saved
 * over its path meanwhile (renamed into place) does not change what this one reads.
 * Reads may overlap: they run one at a time, in call order. `close()` lets reads
 * already asked for finish, then closes the file; later reads throw.
 */
export interface SafetensorsFile extends Disposable {
  /** The file, as a path. */
  readonly path: string;
  /** The `__metadata__` map of the header; empty when there is none. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor by name, in the order of their data in the file. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;

  /**
   * Reads a tensor as f32. F16 and BF16 convert exactly (every f16 and bf16 value is
   * an f32); NaN payloads are kept, with the quiet bit set for f16 as the hardware and
   * PyTorch do.
   *
   * @param name The tensor's name.
   * @returns A new array of its values, in C order.
   * @throws {SafetensorsError} If the file has no such tensor, its dtype is not F32,
   * F16 or BF16, or the file is shorter than when it was opened.
   * @throws {Error} If the file has been closed.
   */
  read(name: string): Promise<Float32Array>;

  /**
   * Reads a tensor as f32 into the caller's array: F32 bytes go straight into its
   * memory; F16 and BF16 convert through a bounded scratch buffer. On failure the
   * target's contents are unspecified.
   *
   * @param name The tensor's name.
   * @param target An array of exactly the tensor's element count, e.g. a parameter's
   * data or a view of a mapped GPU buffer.
   * @throws {TypeError} If `target` is not a `Float32Array`.
   * @throws {RangeError} If `target.length` differs from the tensor's element count.
   * @throws {SafetensorsError} As {@linkcode SafetensorsFile.read} does.
   * @throws {Error} If the file has been closed.
   */
  readInto(name: string, target: Float32Array): Promise<void>;

  /**
   * Reads a tensor's bytes as stored (little-endian), for any dtype.
   *
   * @param name The tensor's name.
   * @returns A new array of `byteLength` bytes.
   * @throws {SafetensorsError} If the file has no such tensor or is shorter than when
   * it was opened.
   * @throws {Error} If the file has been closed.
   */
  readBytes(name: string): Promise<Uint8Array>;

  /** Closes the file once pending reads finish; closing twice does nothing. */
  close(): void;
}

/**
 * Opens a safetensors file and validates its header; tensor data is read on demand.
 * Close it when done (`using file = await readSafetensors(path)` does).
 *
 * @param file The file, as a path or a `file:` URL.
 * @returns The open file.
 * @throws {TypeError} If `file` is not a string or a `file:` URL.
 * @throws {SafetensorsError} If the file is not a valid safetensors file: shorter than
 * 8 bytes, a header longer than 100,000,000 bytes or than the file, a header that is
 * not UTF-8, not a JSON object, or has duplicate keys, a `__metadata__` that is not a
 * map of strings, an entry with missing, extra or mistyped fields, an unknown dtype,
 * data offsets that disagree with the dtype and shape, overlap, leave gaps, or do not
 * end exactly at the end of the file.
 * @throws {Deno.errors.NotFound} If there is no such file (and Deno's other errors for
 * files that cannot be opened).
 *
 * @example Reading a file written by PyTorch, or by {@linkcode writeSafetensors}
 * ```ts
 * import { readSafetensors, writeSafetensors } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/model.safetensors`;
 * await writeSafetensors(path, {
 *   "fc.weight": { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
 *   "fc.bias": { dtype: "BF16", shape: [2], bytes: new Uint8Array([0x80, 0x3f, 0, 0xc0]) },
 * }, { metadata: { format: "pt" } });
 *
 * using file = await readSafetensors(path);
 * assert.deepEqual(file.metadata, { format: "pt" });
 * assert.deepEqual([...file.tensors.keys()], ["fc.weight", "fc.bias"]);
 * assert.deepEqual(file.tensors.get("fc.weight")?.shape, [2, 2]);
 * assert.deepEqual([...await file.read("fc.weight")], [1, 2, 3, 4]);
 * assert.deepEqual([...await file.read("fc.bias")], [1, -2]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readSafetensors(
  file: string | URL,
): Promise<SafetensorsFile> {
  const path = _toPath(file);
  const handle = await Deno.open(path, { read: true });
  try {
    const header = await _readHeader(handle, path);
    return new _OpenFile(path, handle, header);
  } catch (error) {
    handle.close();
    throw error;
  }
}

async function _readHeader(file: Deno.FsFile, path: string): Promise<_Header> {
  const stat = await file.stat();
  if (!stat.isFile) {
    throw _invalid(path, "expected a file but found a directory or device");
  }
  const size = stat.size;
  const prefix = new Uint8Array(8);
  const got = await _readRange(file, 0, prefix);
  if (got < 8) {
    throw _invalid(
      path,
      `expected at least 8 bytes, the header length, but found ${got}`,
    );
  }
  const length = new DataView(prefix.buffer).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw _invalid(
      path,
      `expected a header length of at most ${MAX_HEADER_BYTES} bytes but found ${length}`,
    );
  }
  if (length > BigInt(size - 8)) {
    throw _invalid(
      path,
      `expected a header length of at most ${
        size - 8
      } bytes, the rest of the file, but found ${length}`,
    );
  }
  const header = new Uint8Array(Number(length));
  if (await _readRange(file, 8, header) < header.length) {
    throw _invalid(
      path,
      "expected the header but the file shrank as it was read",
    );
  }
  return _parseHeader(header, size, path);
}

/**
 * Reads `target.length` bytes of a file from `byteOffset` into `target`, in calls of
 * at most {@linkcode IO_CHUNK_BYTES}, looping on partial reads.
 *
 * @param file An open file; its position moves.
 * @param byteOffset Where to start, in bytes from the start of the file.
 * @param target Where the bytes go.
 * @returns How many bytes were read: `target.length`, or fewer if the file ended.
 */
export async function _readRange(
  file: Deno.FsFile,
  byteOffset: number,
  target: Uint8Array,
): Promise<number> {
  await file.seek(byteOffset, Deno.SeekMode.Start);
  let done = 0;
  while (done < target.length) {
    const end = Math.min(target.length, done + IO_CHUNK_BYTES);
    const count = await file.read(target.subarray(done, end));
    // 0 for a non-empty buffer would loop forever; take it as the end of the file.
    if (count === null || count === 0) break;
    done += count;
  }
  return done;
}

/** The f32 bit patterns of all 65536 f16 values, built on first use. */
let f16Table: Uint32Array | undefined;

/**
 * The f32 bits of every f16 bit pattern: exact, subnormals and signed zeros included;
 * infinities stay infinite; NaNs keep sign and payload and become quiet (F16C and
 * PyTorch do the same).
 *
 * @returns The table, indexed by the f16 bits.
 */
export function _f16Table(): Uint32Array {
  if (f16Table !== undefined) return f16Table;
  const table = new Uint32Array(65536);
  const value = new Float32Array(1);
  const bits = new Uint32Array(value.buffer);
  for (let half = 0; half < 65536; half++) {
    const sign = (half & 0x8000) << 16;
    const exponent = (half >> 10) & 0x1f;
    const mantissa = half & 0x3ff;
    if (exponent === 0x1f) {
      table[half] = sign | 0x7f800000 |
        (mantissa === 0 ? 0 : 0x400000 | (mantissa << 13));
    } else if (exponent === 0) {
      value[0] = mantissa * 2 ** -24; // exact: subnormal f16 are normal f32
      table[half] = sign | bits[0]!;
    } else {
      table[half] = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
  }
  return f16Table = table;
}

/** The little-endian 16-bit values of `bytes` (whose byte offset is even). */
function _uint16s(bytes: Uint8Array): Uint16Array {
  if (LITTLE_ENDIAN) {
    return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Uint16Array.from(
    { length: bytes.length / 2 },
    (_, i) => view.getUint16(2 * i, true),
  );
}

/** Reverses each group of `size` bytes in place (little-endian data, big-endian host). */
function _swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) {
    bytes.subarray(i, i + size).reverse();
  }
}

class _OpenFile implements SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly #file: Deno.FsFile;
  #closed = false;
  #fileClosed = false;
  /** Reads asked for and not yet finished. */
  #pending = 0;
  /** Settles when the last read asked for has finished: reads share one position. */
  #tail: Promise<void> = Promise.resolve();

  constructor(path: string, file: Deno.FsFile, header: _Header) {
    this.path = path;
    this.#file = file;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
  }

  async read(name: string): Promise<Float32Array> {
    const info = this.#readable(name);
    const target = new Float32Array(info.byteLength / READABLE[info.dtype]!);
    await this.#exclusive(() => this.#convert(info, target));
    return target;
  }

  async readInto(name: string, target: Float32Array): Promise<void> {
    const info = this.#readable(name);
    if (!(target instanceof Float32Array)) {
      throw new TypeError(
        `Expected the target of tensor ${
          _describe(name)
        } to be a Float32Array but found ${_describe(target)}`,
      );
    }
    const count = info.byteLength / READABLE[info.dtype]!;
    if (target.length !== count) {
      throw new RangeError(
        `Expected the target of tensor ${_describe(name)} (shape ${
          _describe(info.shape)
        }) to have ${count} elements but found ${target.length}`,
      );
    }
    await this.#exclusive(() => this.#convert(info, target));
  }

  async readBytes(name: string): Promise<Uint8Array> {
    const info = this.#info(name);
    const target = new Uint8Array(info.byteLength);
    await this.#exclusive(() => this.#fill(info, 0, target));
    return target;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pending === 0) this.#closeFile();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #closeFile(): void {
    if (this.#fileClosed) return;
    this.#fileClosed = true;
    this.#file.close();
  }

  #info(name: string): SafetensorsTensorInfo {
    if (this.#closed) {
      throw new Error(
        `Safetensors file ${JSON.stringify(this.path)} has been closed`,
      );
    }
    if (typeof name !== "string") {
      throw new TypeError(
        `Expected a tensor name to be a string but found ${_describe(name)}`,
      );
    }
    const info = this.tensors.get(name);
    if (info === undefined) {
      throw new SafetensorsError(
        `Safetensors file ${JSON.stringify(this.path)} has no tensor ${
          _describe(name)
        }`,
        { path: this.path, tensor: name },
      );
    }
    return info;
  }

  #readable(name: string): SafetensorsTensorInfo {
    const info = this.#info(name);
    if (!Object.hasOwn(READABLE, info.dtype)) {
      throw new SafetensorsError(
        `Tensor ${_describe(name)} of safetensors file ${
          JSON.stringify(this.path)
        } has unsupported dtype ${info.dtype} (F32, F16 and BF16 are read; readBytes() gives the raw bytes)`,
        { path: this.path, tensor: name },
      );
    }
    return info;
  }

  /** Runs `op` once every read asked for before it has finished. */
  async #exclusive(op: () => Promise<void>): Promise<void> {
    this.#pending++;
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise((resolve) => release = resolve);
    try {
      await previous;
      await op();
    } finally {
      release();
      this.#pending--;
      if (this.#closed && this.#pending === 0) this.#closeFile();
    }
  }

  /**
   * Reads elements `[start, start + target.length)` of a tensor as f32 into `target`,
   * for loaders that go a chunk at a time; the caller has checked the range.
   */
  async readRangeInto(
    name: string,
    start: number,
    target: Float32Array,
  ): Promise<void> {
    const info = this.#readable(name);
    const count = info.byteLength / READABLE[info.dtype]!;
    if (
      !Number.isSafeInteger(start) || start < 0 ||
      start + target.length > count
    ) {
      throw new RangeError(
        `Expected elements ${start} to ${
          start + target.length
        } to lie in tensor ${_describe(name)} of ${count} elements`,
      );
    }
    await this.#exclusive(() => this.#convert(info, target, start));
  }

  async #convert(
    info: SafetensorsTensorInfo,
    target: Float32Array,
    start = 0,
  ): Promise<void> {
    const size = READABLE[info.dtype]!;
    const first = start * size;
    const byteLength = target.length * size;
    if (info.dtype === "F32") {
      const bytes = new Uint8Array(
        target.buffer,
        target.byteOffset,
        target.byteLength,
      );
      await this.#fill(info, first, bytes);
      if (!LITTLE_ENDIAN) _swapBytes(bytes, 4);
      return;
    }
    const bits = new Uint32Array(
      target.buffer,
      target.byteOffset,
      target.length,
    );
    const scratch = new Uint8Array(Math.min(byteLength, SCRATCH_BYTES));
    const table = info.dtype === "F16" ? _f16Table() : undefined;
    for (let done = 0; done < byteLength; done += scratch.length) {
      const chunk = scratch.subarray(
        0,
        Math.min(scratch.length, byteLength - done),
      );
      await this.#fill(info, first + done, chunk);
      const halves = _uint16s(chunk);
      const base = done / 2;
      // Integer copies, so NaN payloads survive (float stores may canonicalize them).
      if (table === undefined) {
        for (let i = 0; i < halves.length; i++) {
          bits[base + i] = halves[i]! << 16;
        }
      } else {
        for (let i = 0; i < halves.length; i++) {
          bits[base + i] = table[halves[i]!]!;
        }
      }
    }
  }

  /** Fills `target` with the tensor's bytes from `offset` on, or throws if the file shrank. */
  async #fill(
    info: SafetensorsTensorInfo,
    offset: number,
    target: Uint8Array,
  ): Promise<void> {
    const start = info.byteOffset + offset;
    const got = await _readRange(this.#file, start, target);
    if (got < target.length) {
      throw _invalid(
        this.path,
        `expected the data of tensor ${_describe(info.name)} to end at byte ${
          info.byteOffset + info.byteLength
        } but the file ends at byte ${
          start + got
        }: it shrank after it was opened`,
        info.name,
      );
    }
  }
}

/**
 * Reads elements `[start, start + target.length)` of a tensor of an open file as f32,
 * converted as {@linkcode SafetensorsFile.readInto} converts: for loaders that go a
 * bounded chunk at a time.
 *
 * @throws {TypeError} If `file` was not opened by {@linkcode readSafetensors}.
 * @throws {RangeError} If the range does not lie in the tensor.
 * @throws {SafetensorsError} As `readInto` does.
 */
export function _readElements(
  file: SafetensorsFile,
  name: string,
  start: number,
  target: Float32Array,
): Promise<void> {
  if (!(file instanceof _OpenFile)) {
    throw new TypeError(
      `Expected a file opened by readSafetensors but found ${_describe(file)}`,
    );
  }
  return file.readRangeInto(name, start, target);
}

// ---------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------

/**
 * A tensor to write: f32 values (`dtype` may be omitted, or `"F32"`), or the raw
 * little-endian bytes of any dtype.
 */
export type SafetensorsTensor =
  | {
    readonly dtype?: "F32";
    readonly shape: readonly number[];
    readonly data: Float32Array;
  }
  | {
    readonly dtype: SafetensorsDtype;
    readonly shape: readonly number[];
    readonly bytes: Uint8Array;
  };

/** Options of {@linkcode writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /**
   * The header's `__metadata__`: free-form strings, e.g. `{ format: "pt" }`.
   *
   * @default {}
   */
  metadata?: Readonly<Record<string, string>>;
  /**
   * Whether to flush the file to disk before renaming it over the target, so that
   * even a power cut leaves the old file or the whole new one. Without it the rename
   * still replaces the target whole if the process dies, but after a system crash
   * some file systems may show an empty or partial file. Flushing costs the time the
   * disk takes to write the data.
   *
   * @default true
   */
  sync?: boolean;
}

/** A tensor of a file to be written, before its data: what its header entry says. */
export interface _SafetensorsEntry {
  /** Its name: non-empty, not `"__metadata__"`, unique in the file. */
  readonly name: string;
  /** Its dtype. */
  readonly dtype: SafetensorsDtype;
  /** Its shape; `[]` for a scalar. */
  readonly shape: readonly number[];
}

/**
 * Writes tensors to a safetensors file that PyTorch (`safetensors.torch.load_file`),
 * JAX and Hugging Face read. Data lies in the order given, each tensor's bytes
 * written straight from its memory (given PyTorch's order, the file is byte for byte
 * the one `safetensors.torch.save_file` writes). Everything is checked before any file
 * is made; the data goes to a temporary file beside the target, flushed to disk and
 * renamed over the target, so the target is always either the old file or the whole
 * new one.
 *
 * Readers copy tensors out, so any order works; to keep every tensor aligned to its
 * element size for readers that map the file, put wider dtypes first, as the Rust
 * crate does.
 *
 * @param file The file, as a path or a `file:` URL; its directory must exist.
 * @param tensors The tensors by name: an iterable of `[name, tensor]` pairs (a `Map`,
 * say) or a record.
 * @param options The metadata, and whether to flush the file to disk.
 * @throws {TypeError} If `file` is not a path or `file:` URL, or a tensor, its shape,
 * data, bytes or dtype, the metadata or one of its values, or `sync` has the wrong
 * type, or options have an unknown key.
 * @throws {RangeError} If a name is empty, `"__metadata__"`, repeated or not
 * well-formed Unicode, a dtype is unknown, a shape holds something other than
 * non-negative integers or disagrees with the data's length, or the header would pass
 * 100,000,000 bytes.
 * @throws {Deno.errors.NotFound} If the directory does not exist (and Deno's other
 * errors for files that cannot be written); no file is left behind.
 *
 * @example Saving f32 parameters and a step count
 * ```ts
 * import { readSafetensors, writeSafetensors } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/optimizer.safetensors`;
 * const moments = new Map([
 *   ["fc.weight.exp_avg", { shape: [3], data: new Float32Array([0.5, -1, 2]) }],
 * ]);
 * await writeSafetensors(path, moments, { metadata: { step: "10" } });
 *
 * using file = await readSafetensors(path);
 * assert.equal(file.metadata.step, "10");
 * const target = new Float32Array(3);
 * await file.readInto("fc.weight.exp_avg", target);
 * assert.deepEqual([...target], [0.5, -1, 2]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeSafetensors(
  file: string | URL,
  tensors:
    | Iterable<readonly [string, SafetensorsTensor]>
    | Readonly<Record<string, SafetensorsTensor>>,
  options?: WriteSafetensorsOptions,
): Promise<void> {
  _checkOptions(options);
  const sources = _checkTensors(tensors);
  const entries = sources.map(({ entry }) => entry);
  const metadata = options?.metadata ?? {};
  const { tensors: layout } = _layout(entries, metadata);
  for (const { entry, bytes } of sources) {
    _checkLength(entry, bytes, layout.get(entry.name)!.byteLength);
  }
  const writer = await _SafetensorsWriter.create(file, entries, metadata, {
    sync: options?.sync ?? true,
  });
  try {
    for (const { bytes } of sources) await writer.write(bytes);
    await writer.commit();
  } finally {
    await writer.abort();
  }
}

function _checkOptions(options: unknown): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Expected options to be { metadata, sync } but found ${
        _describe(options)
      }`,
    );
  }
  for (const key of Object.keys(options)) {
    if (key !== "metadata" && key !== "sync") {
      throw new TypeError(
        `Expected options to be { metadata, sync } but found the key ${
          _describe(key)
        }`,
      );
    }
  }
  const sync = (options as WriteSafetensorsOptions).sync;
  if (sync !== undefined && typeof sync !== "boolean") {
    throw new TypeError(
      `Expected the sync option to be a boolean but found ${_describe(sync)}`,
    );
  }
}

/** A checked tensor: its header entry and its data as bytes in host order. */
interface _Source {
  entry: _SafetensorsEntry;
  /** F32 data, or little-endian bytes. */
  bytes: Float32Array | Uint8Array;
}

function _checkTensors(tensors: unknown): _Source[] {
  if (typeof tensors !== "object" || tensors === null) {
    throw new TypeError(
      `Expected tensors to be an iterable of [name, tensor] pairs or a record but found ${
        _describe(tensors)
      }`,
    );
  }
  const pairs: unknown[] = Symbol.iterator in tensors
    ? [...(tensors as Iterable<unknown>)]
    : Object.entries(tensors);
  return pairs.map((pair, index): _Source => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new TypeError(
        `Expected entry ${index} of tensors to be a [name, tensor] pair but found ${
          _describe(pair)
        }`,
      );
    }
    const [name, tensor] = pair as [unknown, unknown];
    return _checkTensor(name, tensor, index);
  });
}

function _checkTensor(name: unknown, tensor: unknown, index: number): _Source {
  if (typeof name !== "string") {
    throw new TypeError(
      `Expected the name of tensor ${index} to be a string but found ${
        _describe(name)
      }`,
    );
  }
  const kinds =
    "{ shape, data: Float32Array } or { dtype, shape, bytes: Uint8Array }";
  if (typeof tensor !== "object" || tensor === null) {
    throw new TypeError(
      `Expected tensor ${_describe(name)} to be ${kinds} but found ${
        _describe(tensor)
      }`,
    );
  }
  const { dtype, shape, data, bytes } = tensor as Record<string, unknown>;
  if ((data === undefined) === (bytes === undefined)) {
    throw new TypeError(
      `Expected tensor ${_describe(name)} to be ${kinds} but found ${
        data === undefined ? "neither data nor bytes" : "both data and bytes"
      }`,
    );
  }
  if (data !== undefined) {
    if (!(data instanceof Float32Array)) {
      throw new TypeError(
        `Expected the data of tensor ${
          _describe(name)
        } to be a Float32Array but found ${
          _describe(data)
        } (other dtypes go as { dtype, shape, bytes })`,
      );
    }
    if (dtype !== undefined && dtype !== "F32") {
      throw new TypeError(
        `Expected tensor ${
          _describe(name)
        } with Float32Array data to have dtype "F32" or none but found ${
          _describe(dtype)
        } (other dtypes go as { dtype, shape, bytes })`,
      );
    }
    return {
      entry: { name, dtype: "F32", shape: shape as number[] },
      bytes: data,
    };
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Expected the bytes of tensor ${
        _describe(name)
      } to be a Uint8Array but found ${_describe(bytes)}`,
    );
  }
  return {
    entry: { name, dtype: dtype as SafetensorsDtype, shape: shape as number[] },
    bytes,
  };
}

function _checkLength(
  entry: _SafetensorsEntry,
  source: Float32Array | Uint8Array,
  byteLength: number,
): void {
  const [unit, expected] = source instanceof Float32Array
    ? ["elements", byteLength / 4]
    : ["bytes", byteLength];
  if (source.length !== expected) {
    throw new RangeError(
      `Expected tensor ${_describe(entry.name)} (${entry.dtype}, shape ${
        _describe(entry.shape)
      }) to have ${expected} ${unit} but found ${source.length}`,
    );
  }
}

/**
 * A safetensors file written in pieces, for engines that produce data shard by shard.
 * {@linkcode _SafetensorsWriter.create} lays out the header (data in the order of the
 * entries, contiguous) and writes it to a temporary file beside the target; `write`
 * appends data bytes in that order; `commit` checks every declared byte was written,
 * flushes, closes and renames the file over the target. Any failure, and `abort`,
 * closes and removes the temporary file, so the target is never half-written.
 *
 * `await using writer = await _SafetensorsWriter.create(...)` aborts on the way out of
 * a block that did not commit. Writes may overlap: they run in call order.
 */
export class _SafetensorsWriter {
  /** The target file. */
  readonly path: string;
  /** Where each tensor will lie in the file, in data order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The number of data bytes `write` must be given in all. */
  readonly dataLength: number;
  readonly #temp: string;
  readonly #file: Deno.FsFile;
  readonly #sync: boolean;
  #written = 0;
  #state: "open" | "committed" | "aborted" = "open";
  #tail: Promise<void> = Promise.resolve();

  private constructor(
    path: string,
    temp: string,
    file: Deno.FsFile,
    layout: _Layout,
    sync: boolean,
  ) {
    this.path = path;
    this.#temp = temp;
    this.#file = file;
    this.#sync = sync;
    this.tensors = layout.tensors;
    this.dataLength = layout.dataLength;
  }

  /**
   * Checks the entries and metadata, creates the temporary file and writes the header.
   *
   * @param file The target, as a path or a `file:` URL; its directory must exist.
   * @param entries Each tensor's name, dtype and shape, in the order its data will come.
   * @param metadata The header's `__metadata__`.
   * @param options `sync`: whether `commit` flushes the file to disk before the
   * rename (default true), as {@linkcode WriteSafetensorsOptions.sync}.
   * @returns A writer expecting `dataLength` bytes.
   * @throws {TypeError} If an entry, name, dtype, shape or metadata value has the
   * wrong type, or `file` is not a path or `file:` URL.
   * @throws {RangeError} If a name is empty, `"__metadata__"`, repeated or not
   * well-formed Unicode, a dtype is unknown, a shape is not non-negative integers or
   * gives a sub-byte tensor in no whole number of bytes, or the header would pass
   * 100,000,000 bytes.
   * @throws {Deno.errors.NotFound} If the directory does not exist.
   */
  static async create(
    file: string | URL,
    entries: readonly _SafetensorsEntry[],
    metadata: Readonly<Record<string, string>> = {},
    options: { readonly sync?: boolean } = {},
  ): Promise<_SafetensorsWriter> {
    const path = _toPath(file);
    const layout = _layout(entries, metadata);
    const suffix = crypto.getRandomValues(new Uint32Array(2)).join("-");
    const temp = `${path}.${suffix}.tmp`;
    const handle = await Deno.open(temp, { write: true, createNew: true })
      .catch((error) => {
        throw _renamed(error, path);
      });
    const writer = new _SafetensorsWriter(
      path,
      temp,
      handle,
      layout,
      options.sync ?? true,
    );
    try {
      await _writeAll(handle, layout.header);
    } catch (error) {
      await writer.abort();
      throw _renamed(error, path);
    }
    return writer;
  }

  /** How many data bytes `write` has been given so far. */
  get bytesWritten(): number {
    return this.#written;
  }

  /**
   * Appends the next data bytes, written straight from the array's memory, which must
   * not change (or be unmapped) until the returned promise settles.
   *
   * @param data Little-endian bytes, or f32 values (written little-endian); at most
   * `dataLength - bytesWritten` bytes in all.
   * @throws {TypeError} If `data` is not a `Uint8Array` or a `Float32Array`.
   * @throws {RangeError} If `data` would pass the declared data length; the writer
   * aborts.
   * @throws {Error} If the writer has been committed or aborted, or the write failed
   * (Deno's error; the writer aborts).
   */
  write(data: Uint8Array | Float32Array): Promise<void> {
    if (!(data instanceof Uint8Array || data instanceof Float32Array)) {
      return Promise.reject(
        new TypeError(
          `Expected the data to write to be a Uint8Array or a Float32Array but found ${
            _describe(data)
          }`,
        ),
      );
    }
    return this.#step(async () => {
      if (data.byteLength > this.dataLength - this.#written) {
        throw new RangeError(
          `Expected at most ${this.dataLength} data bytes for ${
            JSON.stringify(this.path)
          } but found ${this.#written + data.byteLength}`,
        );
      }
      this.#written += data.byteLength;
      await _writeAll(this.#file, data);
    });
  }

  /**
   * Checks that every declared byte was written, flushes the file to disk (unless made
   * with `sync: false`), closes it and renames it over the target.
   *
   * @throws {RangeError} If fewer bytes were written than declared; the writer aborts.
   * @throws {Error} If the writer has been committed or aborted, or flushing or
   * renaming failed (Deno's error; the writer aborts).
   */
  commit(): Promise<void> {
    return this.#step(async () => {
      if (this.#written !== this.dataLength) {
        throw new RangeError(
          `Expected ${this.dataLength} data bytes for ${
            JSON.stringify(this.path)
          } but found ${this.#written}`,
        );
      }
      // Flushed before the rename, so a power cut leaves the old file or the new one.
      if (this.#sync) await this.#file.sync();
      this.#file.close();
      await Deno.rename(this.#temp, this.path);
      this.#state = "committed";
    });
  }

  /**
   * Closes and removes the temporary file: a write in progress finishes first, queued
   * ones reject. Does nothing after `commit` or a first `abort`.
   */
  async abort(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "aborted";
    await this.#tail;
    await this.#discard();
  }

  /** Aborts unless committed. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.abort();
  }

  /** Runs `op` after earlier steps; a failure aborts the writer. */
  #step(op: () => Promise<void>): Promise<void> {
    if (this.#state !== "open") {
      return Promise.reject(
        new Error(
          `Safetensors writer of ${
            JSON.stringify(this.path)
          } has been ${this.#state}`,
        ),
      );
    }
    const run = this.#tail.then(async () => {
      if (this.#state !== "open") {
        throw new Error(
          `Safetensors writer of ${
            JSON.stringify(this.path)
          } has been ${this.#state}`,
        );
      }
      try {
        await op();
      } catch (error) {
        this.#state = "aborted";
        await this.#discard();
        throw _renamed(error, this.path);
      }
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  async #discard(): Promise<void> {
    try {
      this.#file.close();
    } catch {
      // Already closed by a commit that failed at the rename.
    }
    await Deno.remove(this.#temp).catch(() => {});
  }
}

/** A file's header bytes (length prefix included) and where its tensors will lie. */
interface _Layout {
  header: Uint8Array;
  tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  dataLength: number;
}

/** Checks entries and metadata, and lays out the file. */
function _layout(
  entries: readonly _SafetensorsEntry[],
  metadata: Readonly<Record<string, string>>,
): _Layout {
  if (!Array.isArray(entries)) {
    throw new TypeError(
      `Expected the tensors to be an array of { name, dtype, shape } but found ${
        _describe(entries)
      }`,
    );
  }
  const members = [_metadataJson(metadata)].filter((member) => member !== "");
  const placed: Omit<SafetensorsTensorInfo, "byteOffset">[] = [];
  const names = new Set<string>();
  let offset = 0;
  entries.forEach((entry: unknown, index) => {
    const { name, dtype, shape, byteLength } = _checkEntryToWrite(
      entry,
      index,
      names,
    );
    members.push(
      `${JSON.stringify(name)}:{"dtype":${JSON.stringify(dtype)},"shape":[${
        shape.join(",")
      }],"data_offsets":[${offset},${offset + byteLength}]}`,
    );
    placed.push({ name, dtype, shape, byteLength });
    offset += byteLength;
  });
  const json = new TextEncoder().encode(`{${members.join(",")}}`);
  // Spaces pad the header so the data starts 8-byte aligned, as the crate writes it.
  const length = Math.ceil(json.length / 8) * 8;
  if (length > MAX_HEADER_BYTES) {
    throw new RangeError(
      `Expected a safetensors header of at most ${MAX_HEADER_BYTES} bytes but found ${length}`,
    );
  }
  const header = new Uint8Array(8 + length).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(length), true);
  header.set(json, 8);
  const tensors = new Map<string, SafetensorsTensorInfo>();
  let byteOffset = header.length;
  for (const info of placed) {
    tensors.set(info.name, Object.freeze({ ...info, byteOffset }));
    byteOffset += info.byteLength;
  }
  return { header, tensors, dataLength: offset };
}

function _metadataJson(metadata: unknown): string {
  if (typeof metadata !== "object" || metadata === null) {
    throw new TypeError(
      `Expected metadata to be a record of strings but found ${
        _describe(metadata)
      }`,
    );
  }
  const entries = Object.entries(metadata);
  for (const [key, value] of entries) {
    if (typeof value !== "string") {
      throw new TypeError(
        `Expected metadata ${_describe(key)} to be a string but found ${
          _describe(value)
        }`,
      );
    }
    for (const text of [key, value]) {
      _checkWellFormed(text, `metadata ${_describe(key)}`);
    }
  }
  if (entries.length === 0) return "";
  const members = entries.map(([key, value]) =>
    `${JSON.stringify(key)}:${JSON.stringify(value)}`
  );
  return `"__metadata__":{${members.join(",")}}`;
}

function _checkEntryToWrite(
  entry: unknown,
  index: number,
  names: Set<string>,
): Omit<SafetensorsTensorInfo, "byteOffset"> {
  if (typeof entry !== "object" || entry === null) {
    throw new TypeError(
      `Expected tensor ${index} to be { name, dtype, shape } but found ${
        _describe(entry)
      }`,
    );
  }
  const { name, dtype, shape } = entry as Record<string, unknown>;
  if (typeof name !== "string") {
    throw new TypeError(
      `Expected the name of tensor ${index} to be a string but found ${
        _describe(name)
      }`,
    );
  }
  if (name === "" || name === "__metadata__") {
    throw new RangeError(
      `Expected the name of tensor ${index} to be non-empty and not "__metadata__" (the header's metadata key) but found ${
        _describe(name)
      }`,
    );
  }
  _checkWellFormed(name, `the name of tensor ${index}`);
  if (names.has(name)) {
    throw new RangeError(
      `Expected each tensor name once but found ${_describe(name)} twice`,
    );
  }
  names.add(name);
  const tensor = `tensor ${_describe(name)}`;
  if (typeof dtype !== "string") {
    throw new TypeError(
      `Expected the dtype of ${tensor} to be a string but found ${
        _describe(dtype)
      }`,
    );
  }
  if (!_isDtype(dtype)) {
    throw new RangeError(
      `Expected ${tensor} to have a safetensors dtype (${DTYPE_LIST}) but found ${
        _describe(dtype)
      }`,
    );
  }
  if (!Array.isArray(shape)) {
    throw new TypeError(
      `Expected the shape of ${tensor} to be an array of non-negative integers but found ${
        _describe(shape)
      }`,
    );
  }
  if (!shape.every((size) => Number.isSafeInteger(size) && size >= 0)) {
    throw new RangeError(
      `Expected the shape of ${tensor} to be an array of non-negative integers but found ${
        _describe(shape)
      }`,
    );
  }
  const byteLength = _byteSize(dtype, shape);
  if (typeof byteLength === "string") {
    throw new RangeError(
      `Expected ${tensor} (${dtype}, shape ${
        _describe(shape)
      }) to have a size in whole bytes but found ${byteLength}`,
    );
  }
  return { name, dtype, shape: Object.freeze([...shape]), byteLength };
}

function _checkWellFormed(text: string, what: string): void {
  if (!text.isWellFormed()) {
    throw new RangeError(
      `Expected ${what} to be well-formed Unicode but found ${
        _describe(text)
      }, which has a lone surrogate`,
    );
  }
}

/**
 * Writes all of `data` as little-endian bytes, looping on partial writes, in bounded
 * calls: from its own memory, or on a big-endian host through swapped copies.
 */
async function _writeAll(
  file: Deno.FsFile,
  data: Uint8Array | Float32Array,
): Promise<void> {
  if (data instanceof Float32Array && !LITTLE_ENDIAN) {
    for (let i = 0; i < data.length; i += SCRATCH_BYTES / 4) {
      const bytes = new Uint8Array(data.slice(i, i + SCRATCH_BYTES / 4).buffer);
      _swapBytes(bytes, 4);
      await _writeAll(file, bytes);
    }
    return;
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let done = 0;
  while (done < bytes.length) {
    const end = Math.min(bytes.length, done + IO_CHUNK_BYTES);
    const count = await file.write(bytes.subarray(done, end));
    if (count === 0) throw new Deno.errors.WriteZero("Wrote 0 bytes");
    done += count;
  }
}

// ---------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------

function _toPath(file: unknown): string {
  if (typeof file === "string") return file;
  if (file instanceof URL && file.protocol === "file:") {
    return fileURLToPath(file);
  }
  throw new TypeError(
    `Expected a file path or a file: URL but found ${
      file instanceof URL ? _describe(file.href) : _describe(file)
    }`,
  );
}

/**
 * Deno's I/O error, of the same class, with a message naming the target file rather
 * than the temporary one; other errors unchanged.
 */
function _renamed(error: unknown, path: string): unknown {
  if (
    !(error instanceof Error) ||
    !Object.values(Deno.errors).some((kind) => error.constructor === kind)
  ) {
    return error;
  }
  const Kind = error.constructor as new (
    message: string,
    options: ErrorOptions,
  ) => Error;
  return new Kind(
    `Cannot write safetensors file ${JSON.stringify(path)}: ${error.message}`,
    { cause: error },
  );
}
