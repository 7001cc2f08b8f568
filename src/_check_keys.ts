// Copyright 2026 the weight-decay authors. MIT license.
// Unknown keys in options objects and groups are mistakes, never silently ignored: a
// PyTorch habit such as `{ ...group, lr: 0 }` must not run as if it were not there.

import { _describe } from "./_describe.ts";

/**
 * Checks that an object, if given, has only `allowed` keys.
 *
 * @param what Names the object in messages, e.g. "GpuDecay options".
 * @param hints For keys met when porting code from elsewhere, what to use instead.
 * @throws {TypeError} If it is not an object, or has another key; the message names
 * the key and, when known, what to use instead.
 */
export function _checkKeys(
  value: unknown,
  what: string,
  allowed: readonly string[],
  hints: Readonly<Record<string, string>> = {},
): void {
  if (value === undefined) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Expected ${what} to be an object but found ${_describe(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const hint = hints[key] ?? _portingHint(key, allowed);
    throw new TypeError(
      `Expected ${what} to have only the keys ${allowed.join(", ")} but found ${
        _describe(key)
      }${hint === undefined ? "" : `; ${hint}`}`,
    );
  }
}

/** Keys of PyTorch, timm and mmengine groups that are group keys here too. */
const GROUP_KEY_SPELLINGS: Readonly<Record<string, "weightDecay" | "lrScale">> =
  {
    "weight_decay": "weightDecay",
    "wd": "weightDecay",
    "decay_mult": "weightDecay",
    "lr_scale": "lrScale",
    "lr_mult": "lrScale",
    "lrMult": "lrScale",
  };

/**
 * What to use instead of `key`: a group key met in an options object belongs in the
 * groups, not where `use weightDecay` would send the user.
 */
function _portingHint(
  key: string,
  allowed: readonly string[],
): string | undefined {
  const groupKey = GROUP_KEY_SPELLINGS[key] ??
    (key === "weightDecay" || key === "lrScale" ? key : undefined);
  if (groupKey !== undefined && !allowed.includes(groupKey)) {
    return `set ${groupKey} per group, e.g. with getParamGroups`;
  }
  return KEY_HINTS[key];
}

/** What PyTorch, timm and mmengine spellings mean here. */
export const KEY_HINTS: Readonly<Record<string, string>> = {
  "lr":
    "pass the learning rate to step(lr), and scale it per group with lrScale",
  "learningRate": "pass the learning rate to step(lr)",
  ...Object.fromEntries(
    Object.entries(GROUP_KEY_SPELLINGS).map((
      [key, ours],
    ) => [key, `use ${ours}`]),
  ),
  "decay_mult": "use weightDecay (the value itself)",
  "max_grad_norm": "use maxGradNorm",
  "max_lr": "use maxLr",
};
