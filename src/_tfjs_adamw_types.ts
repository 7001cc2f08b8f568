// Copyright 2026 the weight-decay authors. MIT license.
// What TfjsAdamW calls of TensorFlow.js, as structural types: the public entry point
// checks the namespace at run time and hands it to the internals as a `_Tf`.

/** A tensor as TfjsAdamW reads it. */
export interface _Tensor {
  readonly dataId: object;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly size: number;
  readonly isDisposed: boolean;
  dispose(): void;
  dataSync(): ArrayLike<number>;
  data(): Promise<ArrayLike<number>>;
}

/** A `tf.Variable`: a tensor that `assign` points at new data. */
export interface _Variable extends _Tensor {
  /** Unique among the variables of the process (TensorFlow.js appends `_1`, `_2`, ...). */
  readonly name: string;
  readonly trainable: boolean;
  assign(value: _Tensor): void;
}

/** What a tensor operation takes: a tensor, or a number for a float32 scalar. */
type _Operand = _Tensor | number;

/** A named tensor, as optimizers take and give their weights. */
export interface _NamedTensor {
  readonly name: string;
  readonly tensor: _Tensor;
}

/** The members of the `tf` namespace that TfjsAdamW calls. */
export interface _Tf {
  tidy<T>(fn: () => T): T;
  tensor(
    values: Float32Array | Int32Array,
    shape: readonly number[],
    dtype: "float32" | "int32",
  ): _Tensor;
  scalar(value: number, dtype: "float32" | "int32"): _Tensor;
  zeros(shape: readonly number[], dtype: "float32" | "int32"): _Tensor;
  variable(initial: _Tensor, trainable: boolean): _Variable;
  add(a: _Operand, b: _Operand): _Tensor;
  sub(a: _Operand, b: _Operand): _Tensor;
  mul(a: _Operand, b: _Operand): _Tensor;
  div(a: _Operand, b: _Operand): _Tensor;
  minimum(a: _Operand, b: _Operand): _Tensor;
  sqrt(x: _Tensor): _Tensor;
  reciprocal(x: _Tensor): _Tensor;
  square(x: _Tensor): _Tensor;
  sum(x: _Tensor): _Tensor;
  isFinite(x: _Tensor): _Tensor;
  cast(x: _Tensor, dtype: "int32"): _Tensor;
  where(condition: _Tensor, a: _Tensor, b: _Tensor): _Tensor;
  gather(x: _Tensor, indices: _Tensor): _Tensor;
  engine(): { readonly registeredVariables: Record<string, _Variable> };
  backend(): object;
  getBackend(): string;
  /** TensorFlow.js's optimizer base class, which TfjsAdamW extends. */
  readonly Optimizer: abstract new () => object;
  readonly serialization: { registerClass(cls: unknown): unknown };
}

/** The function members of `_Tf`, checked at run time before a namespace is used. */
export const TF_FUNCTIONS = [
  "tidy",
  "tensor",
  "scalar",
  "zeros",
  "variable",
  "add",
  "sub",
  "mul",
  "div",
  "minimum",
  "sqrt",
  "reciprocal",
  "square",
  "sum",
  "isFinite",
  "cast",
  "where",
  "gather",
  "engine",
  "backend",
  "getBackend",
  "Optimizer",
] as const;
