// Copyright 2026 the weight-decay authors. MIT license.
import assert from "node:assert/strict";
import {
  _f16Table,
  _parseHeader,
  _readRange,
  _SafetensorsWriter,
  readSafetensors,
  SAFETENSORS_DTYPES,
  SafetensorsError,
  type SafetensorsFile,
  writeSafetensors,
} from "../src/safetensors.ts";

const FIXTURES = new URL("./fixtures/safetensors/", import.meta.url);

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "safetensors_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A file built byte by byte from the spec, not with our writer: the u64 little-endian
 * header length (the true one unless `length` is given), the header, then the data.
 */
function build(
  header: string | Uint8Array,
  data: Uint8Array | number = 0,
  length?: bigint,
): Uint8Array {
  const json = typeof header === "string"
    ? new TextEncoder().encode(header)
    : header;
  const bytes = typeof data === "number" ? new Uint8Array(data) : data;
  const file = new Uint8Array(8 + json.length + bytes.length);
  new DataView(file.buffer).setBigUint64(
    0,
    length ?? BigInt(json.length),
    true,
  );
  file.set(json, 8);
  file.set(bytes, 8 + json.length);
  return file;
}

function f32Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setFloat32(4 * i, value, true));
  return bytes;
}

function bitsOf(values: Float32Array): number[] {
  return [...new Uint32Array(values.buffer, values.byteOffset, values.length)];
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** Asserts that `promise` rejects with exactly this error class and message. */
async function assertRejects(
  promise: Promise<unknown>,
  kind: new (...args: never[]) => Error,
  message: string | RegExp,
): Promise<Error> {
  let caught: unknown;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(
    caught instanceof kind && caught.constructor === kind,
    `expected a ${kind.name}, got ${caught}`,
  );
  if (typeof message === "string") assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  return caught;
}

/** Asserts that reading `bytes` as a file fails with this detail about this tensor. */
async function assertInvalid(
  dir: string,
  bytes: Uint8Array,
  detail: string,
  tensor?: string,
): Promise<void> {
  const path = `${dir}/bad.safetensors`;
  await Deno.writeFile(path, bytes);
  const error = await assertRejects(
    readSafetensors(path),
    SafetensorsError,
    `Invalid safetensors file ${JSON.stringify(path)}: ${detail}`,
  ) as SafetensorsError;
  assert.equal(error.name, "SafetensorsError");
  assert.equal(error.path, path);
  assert.equal(error.tensor, tensor);
}

async function open(dir: string, bytes: Uint8Array): Promise<SafetensorsFile> {
  const path = `${dir}/good.safetensors`;
  await Deno.writeFile(path, bytes);
  return await readSafetensors(path);
}

/** Reads every tensor the way a loader would: f32 where it can, raw bytes otherwise. */
async function readAll(file: SafetensorsFile): Promise<void> {
  for (const info of file.tensors.values()) {
    if (["F32", "F16", "BF16"].includes(info.dtype)) await file.read(info.name);
    else await file.readBytes(info.name);
  }
}

const ENTRY = (dtype: string, shape: string, offsets: string) =>
  `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;

// ---------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------

Deno.test("writeSafetensors() and read() round-trip f32 values bit for bit", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    const values = new Float32Array([1.5, -0, Infinity, -Infinity, 1e-45, 3]);
    const bits = new Uint32Array(values.buffer);
    bits[5] = 0x7fa00001; // a signalling NaN with a payload
    await writeSafetensors(path, {
      "fc.weight": { shape: [2, 3], data: values },
      "fc.bias": { dtype: "F32", shape: [1], data: new Float32Array([0.25]) },
    });
    using file = await readSafetensors(path);
    assert.deepEqual([...file.tensors.keys()], ["fc.weight", "fc.bias"]);
    const weight = file.tensors.get("fc.weight")!;
    assert.deepEqual(weight, {
      name: "fc.weight",
      dtype: "F32",
      shape: [2, 3],
      byteOffset: weight.byteOffset,
      byteLength: 24,
    });
    assert.equal(weight.byteOffset % 8, 0, "data starts 8-byte aligned");
    assert.equal(
      file.tensors.get("fc.bias")!.byteOffset,
      weight.byteOffset + 24,
    );
    assert.deepEqual(bitsOf(await file.read("fc.weight")), [...bits]);
    assert.deepEqual([...await file.read("fc.bias")], [0.25]);
    assert.deepEqual(
      await file.readBytes("fc.bias"),
      new Uint8Array([0, 0, 0x80, 0x3e]),
    );
    assert.deepEqual(file.metadata, {});
    assert.ok(Object.isFrozen(weight) && Object.isFrozen(weight.shape));
  });
});

Deno.test("writeSafetensors() and read() round-trip F16 and BF16 bytes, converted exactly", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/halves.safetensors`;
    // f16: 1, -2, 2 ** -24 (smallest subnormal), 65504 (largest), -0, Infinity
    const f16 = new Uint8Array(
      new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000, 0x7c00]).buffer,
    );
    // bf16: 1, -2 ** -133 (subnormal), a NaN whose payload must survive
    const bf16 = new Uint8Array(
      new Uint16Array([0x3f80, 0x8001, 0x7f81]).buffer,
    );
    await writeSafetensors(path, [
      ["h", { dtype: "F16", shape: [2, 3], bytes: f16 }],
      ["b", { dtype: "BF16", shape: [3], bytes: bf16 }],
    ]);
    using file = await readSafetensors(path);
    assert.deepEqual(await file.readBytes("h"), f16);
    assert.deepEqual(await file.readBytes("b"), bf16);
    const h = await file.read("h");
    assert.deepEqual([...h], [1, -2, 2 ** -24, 65504, -0, Infinity]);
    assert.ok(Object.is(h[4], -0));
    assert.deepEqual(bitsOf(await file.read("b")), [
      0x3f800000,
      0x80010000,
      0x7f810000,
    ]);
  });
});

Deno.test("writeSafetensors() writes empty tensors, scalars and no tensors at all", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/edge.safetensors`;
    await writeSafetensors(path, {
      empty: { shape: [0], data: new Float32Array(0) },
      wide: { shape: [4, 0, 2], data: new Float32Array(0) },
      scalar: { shape: [], data: new Float32Array([7]) },
      step: { dtype: "I64", shape: [], bytes: new Uint8Array(8).fill(1, 0, 1) },
    });
    using file = await readSafetensors(path);
    assert.deepEqual(await file.read("empty"), new Float32Array(0));
    assert.deepEqual(await file.read("wide"), new Float32Array(0));
    assert.deepEqual(file.tensors.get("scalar")!.shape, []);
    assert.deepEqual([...await file.read("scalar")], [7]);
    assert.deepEqual(
      await file.readBytes("step"),
      new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]),
    );
    const none = `${dir}/none.safetensors`;
    await writeSafetensors(none, new Map());
    using nothing = await readSafetensors(none);
    assert.equal(nothing.tensors.size, 0);
    assert.deepEqual(await Deno.readFile(none), build("{}      "));
  });
});

Deno.test("writeSafetensors() keeps metadata, Unicode and odd keys included", async () => {
  await withDir(async (dir) => {
    const path = new URL(`file://${dir}/meta.safetensors`);
    const metadata = JSON.parse(
      '{"step":"12","__proto__":"kept","ключ":"значение 🙂","empty":""}',
    );
    await writeSafetensors(path, {
      'ünï.cödé "q"': { shape: [1], data: new Float32Array([2]) },
    }, { metadata });
    using file = await readSafetensors(path);
    assert.equal(file.path, `${dir}/meta.safetensors`);
    assert.deepEqual(Object.entries(file.metadata), Object.entries(metadata));
    assert.ok(Object.isFrozen(file.metadata));
    assert.deepEqual([...await file.read('ünï.cödé "q"')], [2]);
  });
});

Deno.test("readInto() fills the caller's array in place, views of larger buffers included", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/into.safetensors`;
    const f16 = new Uint8Array(
      new Uint16Array([0x3c00, 0x4000, 0x4200]).buffer,
    );
    await writeSafetensors(path, {
      w: { shape: [3], data: new Float32Array([4, 5, 6]) },
      h: { dtype: "F16", shape: [3], bytes: f16 },
    });
    using file = await readSafetensors(path);
    const arena = new Float32Array(8).fill(-1);
    await file.readInto("w", arena.subarray(1, 4));
    await file.readInto("h", arena.subarray(4, 7));
    assert.deepEqual([...arena], [-1, 4, 5, 6, 1, 2, 3, -1]);
    await assertRejects(
      file.readInto("w", new Float32Array(2)),
      RangeError,
      'Expected the target of tensor "w" (shape [3]) to have 3 elements but found 2',
    );
    await assertRejects(
      file.readInto("w", new Float64Array(3) as unknown as Float32Array),
      TypeError,
      'Expected the target of tensor "w" to be a Float32Array but found a Float64Array',
    );
  });
});

Deno.test("read() converts F16 and BF16 tensors larger than the scratch buffer", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/big.safetensors`;
    const count = 700_001; // 1.4 MB of f16, past the 1 MiB scratch buffer
    const halves = new Uint16Array(count);
    for (let i = 0; i < count; i++) halves[i] = (i * 7919) & 0x7bff;
    const bytes = new Uint8Array(halves.buffer);
    await writeSafetensors(path, {
      h: { dtype: "F16", shape: [count], bytes },
      b: { dtype: "BF16", shape: [count], bytes },
    });
    using file = await readSafetensors(path);
    const table = _f16Table();
    const h = bitsOf(await file.read("h"));
    const b = bitsOf(await file.read("b"));
    for (let i = 0; i < count; i++) {
      if (h[i] !== table[halves[i]!] || b[i] !== halves[i]! * 65536) {
        assert.fail(`element ${i}: ${h[i]} ${b[i]} from ${halves[i]}`);
      }
    }
  });
});

Deno.test("the F16 table is exact for all 65536 bit patterns", () => {
  const table = _f16Table();
  const view = new DataView(new ArrayBuffer(4));
  for (let half = 0; half < 65536; half++) {
    const sign = half >> 15 ? -1 : 1;
    const exponent = (half >> 10) & 31;
    const mantissa = half & 1023;
    view.setUint32(0, table[half]!);
    const got = view.getFloat32(0);
    if (exponent === 31 && mantissa !== 0) {
      // NaN: sign and payload kept, quiet bit set (as PyTorch and F16C do)
      const expected = ((half & 0x8000) << 16 | 0x7fc00000 | mantissa << 13) >>>
        0;
      if (table[half] !== expected) {
        assert.fail(
          `NaN ${half.toString(16)} gave ${table[half]!.toString(16)}`,
        );
      }
      continue;
    }
    const expected = exponent === 31
      ? sign * Infinity
      : exponent === 0
      ? sign * mantissa * 2 ** -24
      : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
    if (!Object.is(got, expected)) {
      assert.fail(`${half.toString(16)} gave ${got}, expected ${expected}`);
    }
  }
});

Deno.test("a SafetensorsFile serves overlapping reads in order and closes after them", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/many.safetensors`;
    const tensors = new Map(
      Array.from({ length: 20 }, (_, i) => [
        `t${i}`,
        { shape: [i + 1], data: new Float32Array(i + 1).fill(i) },
      ]),
    );
    await writeSafetensors(path, tensors);
    const file = await readSafetensors(path);
    const reads = [...tensors.keys()].map((name) => file.read(name));
    file.close(); // asked-for reads still finish
    file.close();
    const values = await Promise.all(reads);
    values.forEach((value, i) =>
      assert.deepEqual(value, new Float32Array(i + 1).fill(i))
    );
    const closed = `Safetensors file ${JSON.stringify(path)} has been closed`;
    await assertRejects(file.read("t0"), Error, closed);
    await assertRejects(file.readBytes("t0"), Error, closed);
    await assertRejects(
      file.readInto("t0", new Float32Array(1)),
      Error,
      closed,
    );
    assert.equal(file.tensors.size, 20, "the header stays readable");
  });
});

Deno.test("a SafetensorsFile reports unknown tensors and dtypes it cannot read as f32", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ints.safetensors`;
    await writeSafetensors(path, {
      n: { dtype: "I64", shape: [], bytes: new Uint8Array(8) },
    });
    using file = await readSafetensors(path);
    const quoted = JSON.stringify(path);
    let error = await assertRejects(
      file.read("n"),
      SafetensorsError,
      `Tensor "n" of safetensors file ${quoted} has unsupported dtype I64 (F32, F16 and BF16 are read; readBytes() gives the raw bytes)`,
    ) as SafetensorsError;
    assert.equal(error.tensor, "n");
    await assertRejects(
      file.readInto("n", new Float32Array(1)),
      SafetensorsError,
      /unsupported dtype I64/,
    );
    error = await assertRejects(
      file.readBytes("m"),
      SafetensorsError,
      `Safetensors file ${quoted} has no tensor "m"`,
    ) as SafetensorsError;
    assert.equal(error.tensor, "m");
    await assertRejects(
      file.read(1 as unknown as string),
      TypeError,
      "Expected a tensor name to be a string but found 1",
    );
  });
});

Deno.test("a file that shrinks after it was opened gives a SafetensorsError, not short data", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/shrinks.safetensors`;
    await writeSafetensors(path, {
      a: { shape: [4], data: new Float32Array([1, 2, 3, 4]) },
      h: { dtype: "F16", shape: [2], bytes: new Uint8Array(4) },
    });
    using file = await readSafetensors(path);
    const a = file.tensors.get("a")!;
    await Deno.truncate(path, a.byteOffset + 6);
    const error = await assertRejects(
      file.read("a"),
      SafetensorsError,
      `Invalid safetensors file ${
        JSON.stringify(path)
      }: expected the data of tensor "a" to end at byte ${
        a.byteOffset + 16
      } but the file ends at byte ${
        a.byteOffset + 6
      }: it shrank after it was opened`,
    ) as SafetensorsError;
    assert.equal(error.tensor, "a");
    await assertRejects(
      file.read("h"),
      SafetensorsError,
      /tensor "h" .* shrank/,
    );
  });
});

Deno.test("_readRange() loops to fill the target and reports where the file ended", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/range`;
    await Deno.writeFile(path, new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    using file = await Deno.open(path, { read: true });
    const target = new Uint8Array(4);
    assert.equal(await _readRange(file, 3, target), 4);
    assert.deepEqual(target, new Uint8Array([3, 4, 5, 6]));
    assert.equal(await _readRange(file, 8, target), 2);
    assert.deepEqual(target.subarray(0, 2), new Uint8Array([8, 9]));
    assert.equal(await _readRange(file, 20, target), 0);
  });
});

// ---------------------------------------------------------------------------------
// Files built byte by byte from the spec
// ---------------------------------------------------------------------------------

Deno.test("readSafetensors() reads files built from the spec, in any header order", async () => {
  await withDir(async (dir) => {
    // The Rust crate's own example: an I32 [2, 2] tensor of 16 bytes.
    const example =
      '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    using crate = await open(dir, build(example, 16));
    assert.deepEqual(crate.tensors.get("test"), {
      name: "test",
      dtype: "I32",
      shape: [2, 2],
      byteOffset: 8 + example.length,
      byteLength: 16,
    });
    assert.deepEqual(await crate.readBytes("test"), new Uint8Array(16));
    crate.close();

    // Entries out of data order, JSON whitespace, escapes, metadata last, a zero-length
    // tensor sharing an offset, trailing padding.
    const header = `{ "b\\u00e9\\ud83d\\ude00" : ${
      ENTRY("F32", "[ 2 ]", "[8, 16]")
    },
      "a\\n" :${ENTRY("F16", "[2,2]", "[0,8]")},
      "z": ${ENTRY("U8", "[0]", "[8,8]")},
      "f4": ${ENTRY("F4", "[2]", "[16,17]")},
      "__metadata__": {"k": "v\\"", "": "empty key"} }   \t\n`;
    const data = new Uint8Array(17);
    data.set(
      new Uint8Array(new Uint16Array([0x3c00, 0x4000, 0xc000, 0]).buffer),
      0,
    );
    data.set(f32Bytes([0.5, -4]), 8);
    using file = await open(dir, build(header, data));
    assert.deepEqual([...file.tensors.keys()], [
      "a\n",
      "z",
      "b\u00e9\u{1f600}",
      "f4",
    ]);
    assert.deepEqual(file.metadata, { k: 'v"', "": "empty key" });
    assert.deepEqual([...await file.read("a\n")], [1, 2, -2, 0]);
    assert.deepEqual([...await file.read("b\u00e9\u{1f600}")], [0.5, -4]);
    assert.deepEqual(await file.readBytes("z"), new Uint8Array(0));
    assert.deepEqual(file.tensors.get("z")!.shape, [0]);
  });
});

Deno.test("readSafetensors() rejects files too short for a header length", async () => {
  await withDir(async (dir) => {
    for (const size of [0, 7]) {
      await assertInvalid(
        dir,
        new Uint8Array(size),
        `expected at least 8 bytes, the header length, but found ${size}`,
      );
    }
  });
});

Deno.test("readSafetensors() rejects header lengths past 100 MB or past the file", async () => {
  await withDir(async (dir) => {
    for (const length of [2n ** 64n - 1n, 2n ** 53n, 100_000_001n]) {
      await assertInvalid(
        dir,
        build("{}", 0, length),
        `expected a header length of at most 100000000 bytes but found ${length}`,
      );
    }
    await assertInvalid(
      dir,
      build("{}", 0, 3n),
      "expected a header length of at most 2 bytes, the rest of the file, but found 3",
    );
  });
});

Deno.test("readSafetensors() rejects headers that are not UTF-8 or not a JSON object", async () => {
  await withDir(async (dir) => {
    const invalid = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]); // {"\xff"}
    await assertInvalid(
      dir,
      build(invalid),
      "expected the header to be UTF-8 text but found bytes that are not valid UTF-8",
    );
    const start =
      'expected the header to be a JSON object, starting with "{", but found';
    await assertInvalid(dir, build(" {}"), `${start} the character " "`);
    await assertInvalid(dir, build("[]"), `${start} an array`);
    await assertInvalid(
      dir,
      build("\ufeff{}"),
      `${start} the character "\ufeff"`,
    );
    await assertInvalid(dir, build(""), `${start} the end of the header`);
    await assertInvalid(dir, build("null"), `${start} null`);
  });
});

Deno.test("readSafetensors() rejects headers that are not JSON, saying where", async () => {
  await withDir(async (dir) => {
    const json = "expected the header to be JSON but found";
    const cases: [string, string][] = [
      [
        "{} x",
        `expected only spaces after the header object but found the character "x" at character 3`,
      ],
      [
        "{}\0",
        `expected only spaces after the header object but found the character "\\u0000" at character 2`,
      ],
      ['{"a" 1}', `${json} 1 at character 5, where ":" should be`],
      [
        "{a:1}",
        `${json} the character "a" at character 1, where a string key should be`,
      ],
      [
        '{"__metadata__":{"a":"b" "c":"d"}}',
        `${json} "c" at character 25, where "," or "}" should be`,
      ],
      [
        '{"a',
        `${json} the end of the header at character 3, where the closing " of a string should be`,
      ],
      [
        '{"a\tb":1}',
        `${json} the character "\\t" at character 3, where an escaped control character should be`,
      ],
      [
        '{"a\\x":1}',
        `${json} the character "\\\\" at character 3, where a JSON escape sequence should be`,
      ],
      [
        '{"a\\ud800":1}',
        `${json} the character "\\\\" at character 3, where a surrogate pair, not a lone surrogate should be`,
      ],
      [
        '{"a\\udc00\\ud800":1}',
        `${json} the character "\\\\" at character 3, where a surrogate pair, not a lone surrogate should be`,
      ],
      [
        `{"t":${ENTRY("F32", "[1 2]", "[0,4]")}`,
        `${json} 2 at character 31, where "," or "]" should be`,
      ],
      [
        `{"t":${ENTRY("F32", "[01]", "[0,4]")}`,
        `${json} 01 at character 29, where a JSON number should be`,
      ],
      [
        '{"__metadata__":{}',
        `${json} the end of the header at character 18, where "," or "}" should be`,
      ],
    ];
    for (const [header, detail] of cases) {
      await assertInvalid(dir, build(header), detail);
    }
  });
});

Deno.test("readSafetensors() rejects duplicate keys, which JSON.parse would let through", async () => {
  await withDir(async (dir) => {
    const t = ENTRY("U8", "[1]", "[0,1]");
    await assertInvalid(
      dir,
      build(`{"t":${t},"t":${t}}`, 1),
      'expected each key of the header once but found "t" twice',
      "t",
    );
    await assertInvalid(
      dir,
      build('{"__metadata__":{},"__metadata__":{}}'),
      'expected each key of the header once but found "__metadata__" twice',
    );
    await assertInvalid(
      dir,
      build('{"__metadata__":{"k":"1","k":"2"}}'),
      'expected each __metadata__ key once but found "k" twice',
    );
    await assertInvalid(
      dir,
      build('{"__metadata__":{"__proto__":"1","__proto__":"2"}}'),
      'expected each __metadata__ key once but found "__proto__" twice',
    );
    await assertInvalid(
      dir,
      build(
        '{"t":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
        1,
      ),
      'expected one dtype field in tensor "t" but found two',
      "t",
    );
  });
});

Deno.test("readSafetensors() rejects a __metadata__ that is not a map of strings", async () => {
  await withDir(async (dir) => {
    const object = "expected __metadata__ to be an object of strings but found";
    await assertInvalid(dir, build('{"__metadata__":null}'), `${object} null`);
    await assertInvalid(dir, build('{"__metadata__":"x"}'), `${object} "x"`);
    await assertInvalid(
      dir,
      build('{"__metadata__":[]}'),
      `${object} an array`,
    );
    await assertInvalid(
      dir,
      build('{"__metadata__":{"step":10}}'),
      'expected __metadata__ value "step" to be a string but found 10',
    );
    await assertInvalid(
      dir,
      build('{"__metadata__":{"a":{"b":"c"}}}'),
      'expected __metadata__ value "a" to be a string but found an object',
    );
  });
});

Deno.test("readSafetensors() rejects entries with missing, extra or mistyped fields", async () => {
  await withDir(async (dir) => {
    const fields = "dtype, shape and data_offsets";
    const cases: [string, string][] = [
      [
        '{"t":5}',
        `expected tensor "t" to be an object of ${fields} but found 5`,
      ],
      [
        '{"t":[]}',
        `expected tensor "t" to be an object of ${fields} but found an array`,
      ],
      [
        '{"t":"F32"}',
        `expected tensor "t" to be an object of ${fields} but found "F32"`,
      ],
      [
        '{"t":{"shape":[],"data_offsets":[0,4]}}',
        `expected tensor "t" to have the fields ${fields} but found no dtype`,
      ],
      [
        '{"t":{"dtype":"F32","data_offsets":[0,4]}}',
        `expected tensor "t" to have the fields ${fields} but found no shape`,
      ],
      [
        '{"t":{"dtype":"F32","shape":[]}}',
        `expected tensor "t" to have the fields ${fields} but found no data_offsets`,
      ],
      [
        '{"t":{"dtype":"F32","shape":[],"data_offsets":[0,4],"offset":0}}',
        `expected tensor "t" to have only the fields ${fields} but found "offset"`,
      ],
      [
        '{"t":{"dtype":32}}',
        'expected the dtype of tensor "t" to be a string but found 32',
      ],
      [
        '{"t":{"dtype":null}}',
        'expected the dtype of tensor "t" to be a string but found null',
      ],
    ];
    for (const [header, detail] of cases) {
      await assertInvalid(dir, build(header, 4), detail, "t");
    }
  });
});

Deno.test("readSafetensors() rejects unknown dtypes and shapes or offsets that are not integers", async () => {
  await withDir(async (dir) => {
    await assertInvalid(
      dir,
      build(`{"t":${ENTRY("float32", "[1]", "[0,4]")}}`, 4),
      `expected tensor "t" to have a safetensors dtype (${
        SAFETENSORS_DTYPES.join(", ")
      }) but found "float32"`,
      "t",
    );
    const shape =
      'expected the shape of tensor "t" to be an array of non-negative integers but found';
    const offsets =
      'expected the data offsets of tensor "t" to be an array of non-negative integers but found';
    const cases: [string, string, string][] = [
      ['"2"', "[0,4]", `${shape} "2"`],
      ["2", "[0,4]", `${shape} 2`],
      ["[-1]", "[0,4]", `${shape} an element -1`],
      ["[1.5]", "[0,4]", `${shape} an element 1.5`],
      ["[1.0]", "[0,4]", `${shape} an element 1.0`],
      ["[1e3]", "[0,4]", `${shape} an element 1e3`],
      ['["1"]', "[0,4]", `${shape} an element "1"`],
      ["[null]", "[0,4]", `${shape} an element null`],
      ["[[1]]", "[0,4]", `${shape} an element an array`],
      [
        "[9007199254740992]",
        "[0,4]",
        'expected the shape of tensor "t" to hold integers of at most 2 ** 53 - 1 but found "9007199254740992"',
      ],
      ["[1]", "{}", `${offsets} an object`],
      ["[1]", "[0,4.0]", `${offsets} an element 4.0`],
      [
        "[1]",
        "[0]",
        'expected the data offsets of tensor "t" to be a pair [begin, end] but found [0]',
      ],
      [
        "[1]",
        "[0,4,8]",
        'expected the data offsets of tensor "t" to be a pair [begin, end] but found [0, 4, 8]',
      ],
    ];
    for (const [shapeText, offsetsText, detail] of cases) {
      await assertInvalid(
        dir,
        build(`{"t":${ENTRY("F32", shapeText, offsetsText)}}`, 4),
        detail,
        "t",
      );
    }
  });
});

Deno.test("readSafetensors() rejects offsets that disagree with the dtype and shape", async () => {
  await withDir(async (dir) => {
    const cases: [string, number, string][] = [
      [
        ENTRY("F32", "[1]", "[4,0]"),
        4,
        'expected the data offsets [begin, end] of tensor "t" to have end >= begin but found [4, 0]',
      ],
      [
        ENTRY("F32", "[2,3]", "[0,20]"),
        20,
        'expected tensor "t" (F32, shape [2, 3]) to take 24 bytes but found data offsets [0, 20], 20 bytes',
      ],
      [
        ENTRY("BF16", "[]", "[0,4]"),
        4,
        'expected tensor "t" (BF16, shape []) to take 2 bytes but found data offsets [0, 4], 4 bytes',
      ],
      [
        ENTRY("F4", "[3]", "[0,2]"),
        2,
        'expected tensor "t" (F4, shape [3]) to have a size in whole bytes but found 3 elements of 4 bits, which do not fill whole bytes',
      ],
      [
        ENTRY("U8", "[4294967296,4294967296]", "[0,0]"),
        0,
        'expected tensor "t" (U8, shape [4294967296, 4294967296]) to have a size in whole bytes but found more than 2 ** 53 - 1 elements',
      ],
      [
        ENTRY("U64", "[9007199254740991]", "[0,0]"),
        0,
        'expected tensor "t" (U64, shape [9007199254740991]) to have a size in whole bytes but found more than 2 ** 53 - 1 bytes',
      ],
    ];
    for (const [entry, size, detail] of cases) {
      await assertInvalid(dir, build(`{"t":${entry}}`, size), detail, "t");
    }
  });
});

Deno.test("readSafetensors() rejects overlaps, gaps and data that does not end the file", async () => {
  await withDir(async (dir) => {
    const a = (offsets: string) => `"a":${ENTRY("F32", "[2]", offsets)}`;
    const b = (offsets: string) => `"b":${ENTRY("F32", "[1]", offsets)}`;
    await assertInvalid(
      dir,
      build(`{${a("[0,8]")},${b("[4,8]")}}`, 8),
      'expected tensor "b" to start at data byte 8, where tensor "a" ends, but found 4: it overlaps tensor "a"',
      "b",
    );
    await assertInvalid(
      dir,
      build(`{${a("[0,8]")},${b("[0,4]")}}`, 8),
      'expected tensor "a" to start at data byte 4, where tensor "b" ends, but found 0: it overlaps tensor "b"',
      "a",
    );
    await assertInvalid(
      dir,
      build(`{${a("[4,12]")}}`, 12),
      'expected tensor "a" to start at data byte 0, where the data starts, but found 4: a gap of 4 bytes',
      "a",
    );
    await assertInvalid(
      dir,
      build(`{${a("[0,8]")},${b("[12,16]")}}`, 16),
      'expected tensor "b" to start at data byte 8, where tensor "a" ends, but found 12: a gap of 4 bytes',
      "b",
    );
    const header = `{${a("[0,8]")},${b("[8,12]")}}`;
    const end = 8 + header.length + 12;
    await assertInvalid(
      dir,
      build(header, 13),
      `expected the file to end at byte ${end}, where the data of tensor "b" ends, but found ${
        end + 1
      } bytes: 1 byte that no tensor covers`,
    );
    await assertInvalid(
      dir,
      build(header, 10),
      `expected ${end} bytes, to hold the data of tensor "b", but found ${
        end - 2
      }: 2 bytes missing (a truncated file?)`,
    );
    await assertInvalid(
      dir,
      build("{}", 1),
      "expected the file to end at byte 10, where the data of no tensor ends, but found 11 bytes: 1 byte that no tensor covers",
    );
  });
});

Deno.test("readSafetensors() rejects a directory and bad arguments; a missing file is NotFound", async () => {
  await withDir(async (dir) => {
    await assertRejects(
      readSafetensors(dir),
      SafetensorsError,
      `Invalid safetensors file ${
        JSON.stringify(dir)
      }: expected a file but found a directory or device`,
    );
    await assert.rejects(
      readSafetensors(`${dir}/missing`),
      Deno.errors.NotFound,
    );
    await assertRejects(
      readSafetensors(3 as unknown as string),
      TypeError,
      "Expected a file path or a file: URL but found 3",
    );
    await assertRejects(
      readSafetensors(new URL("https://example.com/model.safetensors")),
      TypeError,
      'Expected a file path or a file: URL but found "https://example.com/model.safetensors"',
    );
  });
});

// ---------------------------------------------------------------------------------
// Files written by PyTorch (tools/safetensors_fixtures.py)
// ---------------------------------------------------------------------------------

interface Expected {
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<
    string,
    { dtype: string; shape: number[]; f32_bits?: number[]; values?: number[] }
  >;
}

const TORCH_DTYPES: Record<string, string> = {
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
};

async function checkFixture(stem: string): Promise<void> {
  const expected: Expected = JSON.parse(
    await Deno.readTextFile(new URL(`${stem}.json`, FIXTURES)),
  );
  using file = await readSafetensors(new URL(`${stem}.safetensors`, FIXTURES));
  assert.deepEqual(file.metadata, expected.metadata);
  assert.deepEqual([...file.tensors.keys()], expected.order);
  for (const [name, want] of Object.entries(expected.tensors)) {
    const info = file.tensors.get(name)!;
    assert.equal(info.dtype, TORCH_DTYPES[want.dtype], name);
    assert.deepEqual(info.shape, want.shape, name);
    if (want.f32_bits !== undefined) {
      assert.deepEqual(bitsOf(await file.read(name)), want.f32_bits, name);
      const target = new Float32Array(want.f32_bits.length);
      await file.readInto(name, target);
      assert.deepEqual(bitsOf(target), want.f32_bits, name);
    } else {
      const bytes = await file.readBytes(name);
      const values = new BigInt64Array(bytes.buffer);
      assert.deepEqual([...values].map(Number), want.values, name);
    }
  }
}

Deno.test("readSafetensors() reads a PyTorch state_dict: names, shapes and values", async () => {
  await checkFixture("tiny_model");
});

Deno.test("read() converts PyTorch's F16 and BF16 tensors as torch's .float() does, NaNs included", async () => {
  await checkFixture("halves");
});

Deno.test("writeSafetensors() rewrites PyTorch's file byte for byte, given the same order", async () => {
  await withDir(async (dir) => {
    for (const stem of ["tiny_model", "halves"]) {
      const source = new URL(`${stem}.safetensors`, FIXTURES);
      using file = await readSafetensors(source);
      const copy = `${dir}/${stem}.safetensors`;
      const entries = [];
      for (const info of file.tensors.values()) {
        entries.push(
          [
            info.name,
            info.dtype === "F32"
              ? { shape: info.shape, data: await file.read(info.name) }
              : {
                dtype: info.dtype,
                shape: info.shape,
                bytes: await file.readBytes(info.name),
              },
          ] as const,
        );
      }
      await writeSafetensors(copy, entries, { metadata: file.metadata });
      assert.deepEqual(await Deno.readFile(copy), await Deno.readFile(source));

      const streamed = `${dir}/${stem}.streamed.safetensors`;
      await using writer = await _SafetensorsWriter.create(
        streamed,
        [...file.tensors.values()],
        file.metadata,
      );
      for (const info of file.tensors.values()) {
        const bytes = await file.readBytes(info.name);
        for (let i = 0; i < bytes.length; i += 5) {
          await writer.write(bytes.subarray(i, i + 5));
        }
      }
      await writer.commit();
      assert.deepEqual(
        await Deno.readFile(streamed),
        await Deno.readFile(source),
      );
    }
  });
});

// ---------------------------------------------------------------------------------
// Fuzzing
// ---------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failing case can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function fuzzSeeds(): Promise<Uint8Array[]> {
  const seeds = [
    await Deno.readFile(new URL("tiny_model.safetensors", FIXTURES)),
    await Deno.readFile(new URL("halves.safetensors", FIXTURES)),
    build(
      `{"__metadata__":{"a":"b"},"s":${ENTRY("F32", "[]", "[0,4]")},"e":${
        ENTRY("BF16", "[0,2]", "[4,4]")
      },"h":${ENTRY("F16", "[3]", "[4,10]")},"i":${
        ENTRY("I8", "[2]", "[10,12]")
      }}`,
      12,
    ),
  ];
  return seeds;
}

/** One random corruption of a valid file. */
function mutate(seed: Uint8Array, random: () => number): Uint8Array {
  const headerEnd = 8 + Number(new DataView(seed.buffer).getBigUint64(0, true));
  const pick = (n: number) => Math.floor(random() * n);
  const kind = pick(4);
  if (kind === 0) return seed.slice(0, pick(seed.length)); // truncation
  const bytes = seed.slice();
  if (kind === 1) {
    // The header length: huge, near the file size, or random bytes.
    const view = new DataView(bytes.buffer);
    const lengths = [
      2n ** 64n - 1n,
      2n ** 63n,
      100_000_001n,
      BigInt(bytes.length),
      BigInt(bytes.length - 8),
      BigInt(headerEnd - 9),
      BigInt(pick(2 ** 32)) * BigInt(pick(2 ** 32)),
    ];
    view.setBigUint64(0, lengths[pick(lengths.length)]!, true);
    return bytes;
  }
  // Byte flips, mostly in the header, where they matter.
  const flips = 1 + pick(3);
  for (let i = 0; i < flips; i++) {
    const at = kind === 2 ? 8 + pick(headerEnd - 8) : pick(bytes.length);
    bytes[at] = random() < 0.5 ? pick(256) : bytes[at]! ^ (1 << pick(8));
  }
  return bytes;
}

Deno.test("_parseHeader() fuzzed: every corrupt header is valid or a SafetensorsError", async () => {
  const random = prng(0x5eed);
  let valid = 0;
  const seeds = await fuzzSeeds();
  for (let i = 0; i < 5000; i++) {
    const bytes = mutate(seeds[i % seeds.length]!, random);
    if (bytes.length < 8) continue;
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    if (length > bytes.length - 8) continue; // checked before the header is read
    try {
      _parseHeader(bytes.subarray(8, 8 + length), bytes.length, "fuzz");
      valid++;
    } catch (error) {
      if (!(error instanceof SafetensorsError)) {
        throw new Error(`case ${i} threw ${error}`, { cause: error });
      }
    }
  }
  assert.ok(
    valid > 100,
    `only ${valid} valid cases: the fuzzer mutates too much`,
  );
});

Deno.test("readSafetensors() fuzzed: truncated, flipped and huge-length files never throw anything else", async () => {
  await withDir(async (dir) => {
    const random = prng(42);
    const seeds = await fuzzSeeds();
    const path = `${dir}/fuzz.safetensors`;
    const started = performance.now();
    const outcomes = { valid: 0, invalid: 0 };
    for (let i = 0; i < 400; i++) {
      await Deno.writeFile(path, mutate(seeds[i % seeds.length]!, random));
      try {
        using file = await readSafetensors(path);
        await readAll(file);
        outcomes.valid++;
      } catch (error) {
        if (!(error instanceof SafetensorsError)) {
          throw new Error(`case ${i} threw ${error}`, { cause: error });
        }
        outcomes.invalid++;
      }
    }
    assert.ok(
      outcomes.valid > 20 && outcomes.invalid > 200,
      JSON.stringify(outcomes),
    );
    assert.ok(
      performance.now() - started < 20_000,
      "the fuzz cases ran slowly",
    );
  });
});

Deno.test("readSafetensors() rejects deeply nested headers quickly, without recursion", async () => {
  await withDir(async (dir) => {
    const depth = 1_000_000;
    const cases: [string, string, string?][] = [
      [
        `{"a":${"[".repeat(depth)}`,
        'expected tensor "a" to be an object of dtype, shape and data_offsets but found an array',
        "a",
      ],
      [
        `{"t":{"shape":${"[".repeat(depth)}`,
        'expected the shape of tensor "t" to be an array of non-negative integers but found an element an array',
        "t",
      ],
      [
        `{"__metadata__":{"k":${"{".repeat(depth)}`,
        'expected __metadata__ value "k" to be a string but found an object',
      ],
      [
        `{"a":${'{"a":'.repeat(depth)}`,
        'expected tensor "a" to have only the fields dtype, shape and data_offsets but found "a"',
        "a",
      ],
    ];
    for (const [header, detail, tensor] of cases) {
      await assertInvalid(dir, build(header), detail, tensor);
    }
  });
});

// ---------------------------------------------------------------------------------
// Writer: atomicity and validation
// ---------------------------------------------------------------------------------

Deno.test("_SafetensorsWriter lays out the header and streams data in pieces", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/streamed.safetensors`;
    await using writer = await _SafetensorsWriter.create(path, [
      { name: "a", dtype: "F32", shape: [2] },
      { name: "b", dtype: "U8", shape: [3] },
    ], { step: "1" });
    const a = writer.tensors.get("a")!;
    assert.equal(a.byteOffset % 8, 0);
    assert.deepEqual(writer.tensors.get("b"), {
      name: "b",
      dtype: "U8",
      shape: [3],
      byteOffset: a.byteOffset + 8,
      byteLength: 3,
    });
    assert.equal(writer.dataLength, 11);
    // Not awaited one by one: writes run in call order. f32 values go as they are.
    await Promise.all([
      writer.write(new Float32Array([1])),
      writer.write(f32Bytes([2]).subarray(0, 1)),
      writer.write(new Uint8Array([...f32Bytes([2]).subarray(1), 7, 8, 9])),
    ]);
    assert.equal(writer.bytesWritten, 11);
    const during = await listDir(dir);
    assert.equal(during.length, 1);
    assert.match(during[0]!, /^streamed\.safetensors\.\d+-\d+\.tmp$/);
    await writer.commit();
    await writer.abort(); // a no-op after commit
    assert.deepEqual(await listDir(dir), ["streamed.safetensors"]);
    using file = await readSafetensors(path);
    assert.deepEqual(file.metadata, { step: "1" });
    assert.deepEqual([...await file.read("a")], [1, 2]);
    assert.deepEqual(await file.readBytes("b"), new Uint8Array([7, 8, 9]));
    const done = `Safetensors writer of ${
      JSON.stringify(path)
    } has been committed`;
    await assertRejects(writer.write(new Uint8Array(0)), Error, done);
    await assertRejects(writer.commit(), Error, done);
  });
});

Deno.test("_SafetensorsWriter leaves no temporary file and the old target when a write falls short", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    await Deno.writeTextFile(path, "the previous checkpoint");
    const writer = await _SafetensorsWriter.create(path, [
      { name: "a", dtype: "F32", shape: [2] },
    ]);
    await writer.write(new Uint8Array(4));
    await assertRejects(
      writer.commit(),
      RangeError,
      `Expected 8 data bytes for ${JSON.stringify(path)} but found 4`,
    );
    assert.deepEqual(await listDir(dir), ["model.safetensors"]);
    assert.equal(await Deno.readTextFile(path), "the previous checkpoint");
    await assertRejects(
      writer.write(new Uint8Array(4)),
      Error,
      `Safetensors writer of ${JSON.stringify(path)} has been aborted`,
    );
    await writer.abort();
  });
});

Deno.test("_SafetensorsWriter aborts on more bytes than declared, and on abort()", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    const entries = [{ name: "a", dtype: "U8", shape: [2] }] as const;
    const writer = await _SafetensorsWriter.create(path, entries);
    await writer.write(new Uint8Array(1));
    await assertRejects(
      writer.write(new Uint8Array(2)),
      RangeError,
      `Expected at most 2 data bytes for ${JSON.stringify(path)} but found 3`,
    );
    assert.deepEqual(await listDir(dir), []);

    const second = await _SafetensorsWriter.create(path, entries);
    const queued = second.write(new Uint8Array(2));
    await second.abort(); // cancels writes that have not started
    await second.abort();
    await assertRejects(
      queued,
      Error,
      `Safetensors writer of ${JSON.stringify(path)} has been aborted`,
    );
    assert.deepEqual(await listDir(dir), []);
    await assertRejects(
      second.commit(),
      Error,
      `Safetensors writer of ${JSON.stringify(path)} has been aborted`,
    );
    await assertRejects(
      second.write(new Uint16Array(1) as unknown as Uint8Array),
      TypeError,
      "Expected the data to write to be a Uint8Array or a Float32Array but found an Uint16Array",
    );

    {
      await using _scoped = await _SafetensorsWriter.create(path, entries);
    } // leaving the block without commit aborts
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("writeSafetensors() into a missing directory throws NotFound naming the target, creating nothing", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/missing/model.safetensors`;
    await assertRejects(
      writeSafetensors(path, { a: { shape: [1], data: new Float32Array(1) } }),
      Deno.errors.NotFound,
      new RegExp(`^Cannot write safetensors file ${JSON.stringify(path)}: `),
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("writeSafetensors() replaces an existing file, and removes its temporary file when the rename fails", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    const tensors = { a: { shape: [1], data: new Float32Array([1]) } };
    await writeSafetensors(path, tensors);
    await writeSafetensors(path, {
      a: { shape: [1], data: new Float32Array([2]) },
    }, { sync: false });
    {
      using file = await readSafetensors(path);
      assert.deepEqual([...await file.read("a")], [2]);
    }
    const occupied = `${dir}/occupied`;
    await Deno.mkdir(`${occupied}/inside`, { recursive: true });
    await assert.rejects(
      writeSafetensors(occupied, tensors),
      (error) =>
        error instanceof Error && error.message.startsWith(
          `Cannot write safetensors file ${JSON.stringify(occupied)}: `,
        ),
    );
    assert.deepEqual(await listDir(dir), ["model.safetensors", "occupied"]);
  });
});

Deno.test("writeSafetensors() checks every tensor before it creates a file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    await Deno.writeTextFile(path, "old");
    const ok = { shape: [1], data: new Float32Array(1) };
    const bad = (tensors: unknown, options?: unknown) =>
      writeSafetensors(
        path,
        tensors as Record<string, never>,
        options as Record<string, never>,
      );
    const cases: [Promise<void>, typeof TypeError, string][] = [
      [
        bad(null),
        TypeError,
        "Expected tensors to be an iterable of [name, tensor] pairs or a record but found null",
      ],
      [
        bad([["a"]]),
        TypeError,
        'Expected entry 0 of tensors to be a [name, tensor] pair but found ["a"]',
      ],
      [
        bad([[1, ok]]),
        TypeError,
        "Expected the name of tensor 0 to be a string but found 1",
      ],
      [
        bad({ a: 1 }),
        TypeError,
        'Expected tensor "a" to be { shape, data: Float32Array } or { dtype, shape, bytes: Uint8Array } but found 1',
      ],
      [
        bad({ a: { shape: [1] } }),
        TypeError,
        'Expected tensor "a" to be { shape, data: Float32Array } or { dtype, shape, bytes: Uint8Array } but found neither data nor bytes',
      ],
      [
        bad({ a: { ...ok, dtype: "F32", bytes: new Uint8Array(4) } }),
        TypeError,
        'Expected tensor "a" to be { shape, data: Float32Array } or { dtype, shape, bytes: Uint8Array } but found both data and bytes',
      ],
      [
        bad({ a: { shape: [1], data: [1] } }),
        TypeError,
        'Expected the data of tensor "a" to be a Float32Array but found [1] (other dtypes go as { dtype, shape, bytes })',
      ],
      [
        bad({ a: { dtype: "F16", shape: [1], data: new Float32Array(1) } }),
        TypeError,
        'Expected tensor "a" with Float32Array data to have dtype "F32" or none but found "F16" (other dtypes go as { dtype, shape, bytes })',
      ],
      [
        bad({ a: { dtype: "U8", shape: [1], bytes: [1] } }),
        TypeError,
        'Expected the bytes of tensor "a" to be a Uint8Array but found [1]',
      ],
      [
        bad({ "": ok }),
        RangeError,
        'Expected the name of tensor 0 to be non-empty and not "__metadata__" (the header\'s metadata key) but found ""',
      ],
      [
        bad([["a", ok], ["__metadata__", ok]]),
        RangeError,
        'Expected the name of tensor 1 to be non-empty and not "__metadata__" (the header\'s metadata key) but found "__metadata__"',
      ],
      [
        bad([["a", ok], ["a", ok]]),
        RangeError,
        'Expected each tensor name once but found "a" twice',
      ],
      [
        bad({ "a\ud800": ok }),
        RangeError,
        'Expected the name of tensor 0 to be well-formed Unicode but found "a\\ud800", which has a lone surrogate',
      ],
      [
        bad({ a: { dtype: 4, shape: [1], bytes: new Uint8Array(1) } }),
        TypeError,
        'Expected the dtype of tensor "a" to be a string but found 4',
      ],
      [
        bad({ a: { dtype: "f32", shape: [1], bytes: new Uint8Array(4) } }),
        RangeError,
        `Expected tensor "a" to have a safetensors dtype (${
          SAFETENSORS_DTYPES.join(", ")
        }) but found "f32"`,
      ],
      [
        bad({ a: { shape: 1, data: new Float32Array(1) } }),
        TypeError,
        'Expected the shape of tensor "a" to be an array of non-negative integers but found 1',
      ],
      [
        bad({ a: { shape: [2, -1], data: new Float32Array(1) } }),
        RangeError,
        'Expected the shape of tensor "a" to be an array of non-negative integers but found [2, -1]',
      ],
      [
        bad({ a: { shape: [1.5], data: new Float32Array(1) } }),
        RangeError,
        'Expected the shape of tensor "a" to be an array of non-negative integers but found [1.5]',
      ],
      [
        bad({ a: { dtype: "F4", shape: [3], bytes: new Uint8Array(2) } }),
        RangeError,
        'Expected tensor "a" (F4, shape [3]) to have a size in whole bytes but found 3 elements of 4 bits, which do not fill whole bytes',
      ],
      [
        bad({ a: { shape: [2, 3], data: new Float32Array(5) } }),
        RangeError,
        'Expected tensor "a" (F32, shape [2, 3]) to have 6 elements but found 5',
      ],
      [
        bad({ a: { dtype: "BF16", shape: [3], bytes: new Uint8Array(5) } }),
        RangeError,
        'Expected tensor "a" (BF16, shape [3]) to have 6 bytes but found 5',
      ],
      [
        bad({ a: ok }, { metadata: { step: 1 } }),
        TypeError,
        'Expected metadata "step" to be a string but found 1',
      ],
      [
        bad({ a: ok }, { metadata: "x" }),
        TypeError,
        'Expected metadata to be a record of strings but found "x"',
      ],
      [
        bad({ a: ok }, { metadata: { k: "\udfff" } }),
        RangeError,
        'Expected metadata "k" to be well-formed Unicode but found "\\udfff", which has a lone surrogate',
      ],
      [
        bad({ a: ok }, { meta: {} }),
        TypeError,
        'Expected options to be { metadata, sync } but found the key "meta"',
      ],
      [
        bad({ a: ok }, 5),
        TypeError,
        "Expected options to be { metadata, sync } but found 5",
      ],
      [
        bad({ a: ok }, { sync: "yes" }),
        TypeError,
        'Expected the sync option to be a boolean but found "yes"',
      ],
    ];
    for (const [promise, kind, message] of cases) {
      await assertRejects(promise, kind, message);
    }
    await assertRejects(
      writeSafetensors(new URL("http://example.com/x"), {}),
      TypeError,
      'Expected a file path or a file: URL but found "http://example.com/x"',
    );
    assert.deepEqual(await listDir(dir), ["model.safetensors"]);
    assert.equal(await Deno.readTextFile(path), "old");
  });
});
